import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/core/backends';
import '../../src/core/nn/registerGradients';
import {
  classifierFromWeights,
  classifierParamShapes,
  createClassifier,
  crossEntropy,
  embed,
  evaluateClassifier,
  type ClassifierConfig,
} from '../../src/core/classifier';
import { batchTensor, decodeMnistFile, labelsOf, range, type MnistData } from '../../src/core/data';
import { weightsFromTensors } from '../../src/core/io';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { useBackend } from '../helpers/backends';

type P = Record<string, Float64Array>;

/** Seeded values in [−1, 1) (mulberry32). */
function uniforms(seed: number, n: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Float64 reference of the architecture, written from its description (NHWC, 'same' 3×3, avgPool 2, dense). */
function reference(p: P, x: ArrayLike<number>, n: number, cfg: ClassifierConfig): { features: Float64Array; logits: Float64Array } {
  const act = (v: number) => (cfg.activation === 'relu' ? Math.max(0, v) : v / (1 + Math.exp(-v)));
  const conv = (inp: Float64Array, H: number, ci: number, k: Float64Array, b: Float64Array, co: number) => {
    const out = new Float64Array(n * H * H * co);
    for (let s = 0; s < n; s++)
      for (let y = 0; y < H; y++)
        for (let xx = 0; xx < H; xx++)
          for (let o = 0; o < co; o++) {
            let acc = b[o];
            for (let dy = 0; dy < 3; dy++)
              for (let dx = 0; dx < 3; dx++) {
                const iy = y + dy - 1;
                const ix = xx + dx - 1;
                if (iy < 0 || iy >= H || ix < 0 || ix >= H) continue;
                for (let c = 0; c < ci; c++) acc += inp[((s * H + iy) * H + ix) * ci + c] * k[((dy * 3 + dx) * ci + c) * co + o];
              }
            out[((s * H + y) * H + xx) * co + o] = act(acc);
          }
    return out;
  };
  const pool = (inp: Float64Array, H: number, c: number) => {
    const h = H / 2;
    const out = new Float64Array(n * h * h * c);
    for (let s = 0; s < n; s++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < h; xx++)
          for (let ch = 0; ch < c; ch++) {
            let acc = 0;
            for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) acc += inp[((s * H + 2 * y + dy) * H + 2 * xx + dx) * c + ch];
            out[((s * h + y) * h + xx) * c + ch] = acc / 4;
          }
    return out;
  };
  const dense = (inp: Float64Array, fin: number, w: Float64Array, b: Float64Array, fout: number, f: (v: number) => number) => {
    const out = new Float64Array(n * fout);
    for (let s = 0; s < n; s++)
      for (let o = 0; o < fout; o++) {
        let acc = b[o];
        for (let i = 0; i < fin; i++) acc += inp[s * fin + i] * w[i * fout + o];
        out[s * fout + o] = f(acc);
      }
    return out;
  };
  const [c1, c2] = cfg.channels;
  let h = pool(conv(Float64Array.from(x), 28, 1, p['conv1/kernel'], p['conv1/bias'], c1), 28, c1);
  h = pool(conv(h, 14, c1, p['conv2/kernel'], p['conv2/bias'], c2), 14, c2);
  const features = dense(h, 49 * c2, p['dense/kernel'], p['dense/bias'], cfg.features, act);
  const logits = dense(features, cfg.features, p['logits/kernel'], p['logits/bias'], 10, (v) => v);
  return { features, logits };
}

/** Float64 mean cross-entropy of reference logits. */
function referenceLoss(logits: Float64Array, labels: number[]): number {
  let loss = 0;
  labels.forEach((y, s) => {
    const row = logits.subarray(s * 10, s * 10 + 10);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((acc, v) => acc + Math.exp(v - m), 0));
    loss += lse - row[y];
  });
  return loss / labels.length;
}

async function paramsOf(clf: ReturnType<typeof createClassifier>): Promise<P> {
  const w = await weightsFromTensors(clf.params);
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Float64Array.from(v.data)]));
}

const small: ClassifierConfig = { channels: [3, 4], features: 6, activation: 'relu' };
let data: MnistData;

beforeAll(async () => {
  await useBackend('cpu');
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
});
afterAll(() => useBackend('cpu'));

describe('createClassifier', () => {
  it('draws the same weights from the same seed and different ones from another seed', async () => {
    const [a, b, c] = [createClassifier(3, small), createClassifier(3, small), createClassifier(4, small)];
    const [pa, pb, pc] = await Promise.all([a, b, c].map(paramsOf));
    expect(Array.from(pa['conv2/kernel'])).toEqual(Array.from(pb['conv2/kernel']));
    expect(Array.from(pa['conv2/kernel'])).not.toEqual(Array.from(pc['conv2/kernel']));
    expect(Array.from(pa['dense/bias']).every((v) => v === 0)).toBe(true);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('uses He-normal kernels: std ≈ √(2 / fan-in)', async () => {
    const clf = createClassifier(0);
    const k = (await paramsOf(clf))['dense/kernel'];
    const fanIn = 7 * 7 * 32;
    const std = Math.sqrt(k.reduce((s, v) => s + v * v, 0) / k.length);
    expect(std).toBeGreaterThan(0.97 * Math.sqrt(2 / fanIn));
    expect(std).toBeLessThan(1.03 * Math.sqrt(2 / fanIn));
    clf.dispose();
  });

  it('names its parameters and shapes them from the config; default F = 64 features and ≈106k parameters', () => {
    const clf = createClassifier(0);
    expect(Object.keys(clf.params)).toEqual(Object.keys(classifierParamShapes()));
    expect(clf.params['dense/kernel'].shape).toEqual([1568, 64]);
    const n = Object.values(clf.params).reduce((s, v) => s + v.size, 0);
    expect(n).toBe(160 + 4640 + 1568 * 64 + 64 + 650);
    clf.dispose();
  });

  it('computes the same features and logits as a float64 reference of the architecture, leaking nothing', async () => {
    for (const activation of ['relu', 'silu'] as const) {
      const cfg = { ...small, activation };
      const clf = createClassifier(11, cfg);
      const xs = uniforms(5, 3 * 784);
      const x = tf.tensor4d(xs, [3, 28, 28, 1]);
      const before = tf.memory().numTensors;
      const { features, logits } = clf.apply(x);
      expect(features.shape).toEqual([3, 6]);
      expect(logits.shape).toEqual([3, 10]);
      const ref = reference(await paramsOf(clf), xs, 3, cfg);
      const [f, l] = [await features.data(), await logits.data()];
      for (let i = 0; i < f.length; i++) expect(f[i]).toBeCloseTo(ref.features[i], 4);
      for (let i = 0; i < l.length; i++) expect(l[i]).toBeCloseTo(ref.logits[i], 4);
      const l2 = clf.logits(x);
      const f2 = clf.features(x);
      expect(Array.from(await l2.data())).toEqual(Array.from(l));
      [features, logits, l2, f2].forEach((t) => t.dispose());
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      clf.dispose();
    }
  });

  it('frees all of its tensors on dispose', () => {
    const before = tf.memory().numTensors;
    createClassifier(0, small).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects an input that is not [N, 28, 28, 1]', () => {
    const clf = createClassifier(0, small);
    const x = tf.zeros([1, 14, 14, 1]) as tf.Tensor4D;
    expect(() => clf.logits(x)).toThrow(/expected input \[N, 28, 28, 1\]/);
    x.dispose();
    clf.dispose();
  });
});

describe('gradients', () => {
  const labels = [3, 7];
  const xs = uniforms(21, 2 * 784);

  async function grads(cfg: ClassifierConfig): Promise<P> {
    const clf = createClassifier(8, cfg);
    const x = tf.tensor4d(xs, [2, 28, 28, 1]);
    const y = tf.tensor1d(labels, 'int32');
    const before = tf.memory().numTensors;
    const { value, grads: g } = tf.variableGrads(() => crossEntropy(clf.logits(x), y), Object.values(clf.params));
    const byName: P = {};
    for (const [name, v] of Object.entries(clf.params)) byName[name] = Float64Array.from(await g[v.name].data());
    value.dispose();
    Object.values(g).forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    y.dispose();
    clf.dispose();
    return byName;
  }

  it('of the cross-entropy match central finite differences of the float64 reference (SiLU, smooth)', async () => {
    const cfg: ClassifierConfig = { ...small, activation: 'silu' };
    const g = await grads(cfg);
    const clf = createClassifier(8, cfg);
    const p = await paramsOf(clf);
    clf.dispose();
    const h = 1e-5;
    for (const name of Object.keys(p)) {
      for (const i of [0, Math.floor(p[name].length / 2), p[name].length - 1]) {
        const orig = p[name][i];
        p[name][i] = orig + h;
        const up = referenceLoss(reference(p, xs, 2, cfg).logits, labels);
        p[name][i] = orig - h;
        const down = referenceLoss(reference(p, xs, 2, cfg).logits, labels);
        p[name][i] = orig;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(g[name][i] - fd), `${name}[${i}]: ${g[name][i]} vs ${fd}`).toBeLessThan(1e-4 + 1e-3 * Math.abs(fd));
      }
    }
  });

  it('are the same on wasm (with the custom conv gradient kernels) as on cpu', async () => {
    const cfg: ClassifierConfig = { channels: [4, 6], features: 8, activation: 'relu' };
    const onCpu = await grads(cfg);
    await initBackend({ order: ['wasm'] });
    const onWasm = await grads(cfg);
    await useBackend('cpu');
    for (const name of Object.keys(onCpu)) {
      const scale = Math.max(1e-3, ...Array.from(onCpu[name], Math.abs));
      for (let i = 0; i < onCpu[name].length; i++) expect(Math.abs(onWasm[name][i] - onCpu[name][i]) / scale, name).toBeLessThan(1e-4);
    }
  });
});

describe('training and evaluation', () => {
  it('crossEntropy equals −mean log softmax of the true class', async () => {
    const logits = tf.tensor2d([[1, 2, 3, 0, 0, 0, 0, 0, 0, -1], [0, 0, 0, 0, 0, 0, 0, 0, 0, 5]]);
    const y = tf.tensor1d([2, 9], 'int32');
    const l = crossEntropy(logits, y);
    expect((await l.data())[0]).toBeCloseTo(referenceLoss(Float64Array.from(await logits.data()), [2, 9]), 5);
    [logits, y, l].forEach((t) => t.dispose());
  });

  it('fits 32 real training digits with Adam on wasm, and evaluation reports a consistent confusion matrix', async () => {
    await initBackend({ order: ['wasm'] }); // the cpu backend needs seconds per step even for this tiny net
    const clf = createClassifier(1, { channels: [4, 8], features: 16 });
    const idx = range(32);
    const x = batchTensor(data.train, idx);
    const y = tf.tensor1d(labelsOf(data.train, idx), 'int32');
    const opt = tf.train.adam(0.01);
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    for (let step = 0; step < 40; step++) {
      const loss = opt.minimize(() => crossEntropy(clf.logits(x), y), true, Object.values(clf.params))!;
      if (step === 0 || step === 39) losses.push((await loss.data())[0]);
      loss.dispose();
    }
    // Adam creates its two moment slots per variable once; nothing else may stay behind.
    expect(tf.memory().numTensors).toBe(before + 2 * Object.keys(clf.params).length);
    expect(losses[1]).toBeLessThan(0.5 * losses[0]);
    const ev = await evaluateClassifier(clf, data.train, { count: 32, batchSize: 10 });
    expect(ev.confusion.flat().reduce((a, b) => a + b, 0)).toBe(32);
    expect(ev.accuracy).toBeCloseTo(1 - ev.mistakes.length / 32, 12);
    expect(ev.accuracy).toBeGreaterThan(0.9);
    const { predicted, probs, features, count, dim } = await embed(clf, x, 7);
    expect([count, dim, features.length, probs.length]).toEqual([32, 16, 32 * 16, 320]);
    expect(ev.mistakes.every((m) => predicted[m.index] === m.predicted)).toBe(true);
    // A classifier rebuilt from its saved weights predicts the same.
    const copy = classifierFromWeights(await weightsFromTensors(clf.params), { config: clf.config });
    expect(Array.from((await embed(copy, x)).predicted)).toEqual(Array.from(predicted));
    [x, y].forEach((t) => t.dispose());
    opt.dispose();
    clf.dispose();
    copy.dispose();
  });
});
