import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../helpers/backends';
import {
  avgPoolRef,
  blockRef,
  convRef,
  denseRef,
  l2NormalizeRef,
  layerNormRef,
  siluRef,
  type Weights,
} from '../helpers/float64Layers';
import '../../src/core/nn/registerGradients';
import { registerWasmGradKernels } from '../../src/core/kernels';
import { FusedAdam } from '../../src/core/adam';
import {
  clipBatchLoss,
  clipFromWeights,
  clipLogits,
  clipLoss,
  clipParamShapes,
  countClipParams,
  createClip,
  DEFAULT_CLIP_CONFIG,
  encodeClip,
  encodeImage,
  encodeText,
  INITIAL_LOGIT_SCALE,
  loadClip,
  matchProbabilities,
  matchTargets,
  similarity,
  textEmbedding,
  textStates,
  validateClipConfig,
  type ClipConfig,
  type ClipModel,
} from '../../src/core/clip';
import { decodeWeights } from '../../src/core/io';
import { LAYER_NORM_EPSILON } from '../../src/core/nn/layerNorm';
import { makeRng } from '../../src/core/noise';

/** A complete but tiny configuration for float64 comparisons. */
const SMALL: ClipConfig = {
  vocabSize: 10,
  contextLength: 5,
  width: 8,
  heads: 2,
  layers: 2,
  mlpRatio: 2,
  embedDim: 6,
  imageChannels: [2, 3, 4],
  imageFlatChannels: 2,
  imageHidden: 5,
  eosId: 2,
  padId: 0,
};

/** Captions as the tokenizer writes them: words, <eos> (2), then <pad> (0); the last row has no <eos>. */
const SMALL_IDS = [
  [5, 7, 2, 0, 0],
  [9, 2, 0, 0, 0],
  [3, 4, 6, 8, 2],
  [4, 4, 4, 4, 4],
];

function randomArray(seed: number, n: number, scale = 1): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

function images(n: number, seed: number): tf.Tensor4D {
  const rng = makeRng(seed);
  return tf.tensor4d(Float32Array.from({ length: n * 784 }, () => 2 * rng.uniform() - 1), [n, 28, 28, 1]);
}

async function weightsOf(model: ClipModel): Promise<Weights> {
  const w: Weights = {};
  for (const [name, v] of Object.entries(model.params)) w[name] = await read(v);
  return w;
}

/** Float64 text encoder of the same architecture: the final-LN states and the unit-norm <eos> embedding. */
function textRef(w: Weights, c: ClipConfig, ids: number[][]): { states: Float64Array; embedding: Float64Array } {
  const [n, L, d] = [ids.length, c.contextLength, c.width];
  let x: Float64Array = new Float64Array(n * L * d);
  ids.forEach((row, b) =>
    row.forEach((id, l) => {
      for (let i = 0; i < d; i++) x[(b * L + l) * d + i] = w['text.tokenEmb'][id * d + i] + w['text.posEmb'][l * d + i];
    }),
  );
  for (let i = 0; i < c.layers; i++) x = blockRef(x, n, L, d, c.heads, c.mlpRatio * d, w, `text.block${i}`, true, LAYER_NORM_EPSILON);
  const states = layerNormRef(x, d, w['text.lnFinal.gamma'], w['text.lnFinal.beta'], LAYER_NORM_EPSILON);
  const pooled = new Float64Array(n * d);
  ids.forEach((row, b) => {
    const at = row.indexOf(c.eosId) >= 0 ? row.indexOf(c.eosId) : L - 1;
    pooled.set(states.subarray((b * L + at) * d, (b * L + at + 1) * d), b * d);
  });
  return { states, embedding: l2NormalizeRef(denseRef(pooled, d, w['text.proj'], null, c.embedDim), c.embedDim) };
}

/** Float64 image encoder of the same architecture. */
function imageRef(w: Weights, c: ClipConfig, x: ArrayLike<number>, n: number): Float64Array {
  const [c0, c1, c2] = c.imageChannels;
  let h = avgPoolRef(convRef(x, n, 28, 28, 1, w['image.conv0.w'], w['image.conv0.b'], 3, c0).map(siluRef), n, 28, 28, c0);
  h = avgPoolRef(convRef(h, n, 14, 14, c0, w['image.conv1.w'], w['image.conv1.b'], 3, c1).map(siluRef), n, 14, 14, c1);
  h = convRef(h, n, 7, 7, c1, w['image.conv2.w'], w['image.conv2.b'], 3, c2).map(siluRef);
  h = convRef(h, n, 7, 7, c2, w['image.reduce.w'], w['image.reduce.b'], 1, c.imageFlatChannels);
  const flat = 49 * c.imageFlatChannels;
  const hidden = denseRef(h, flat, w['image.fc.w'], w['image.fc.b'], c.imageHidden).map(siluRef);
  return l2NormalizeRef(denseRef(hidden, c.imageHidden, w['image.proj.w'], w['image.proj.b'], c.embedDim), c.embedDim);
}

/** Float64 symmetric InfoNCE with row- and column-normalised targets (identity when none). */
function lossRef(img: ArrayLike<number>, txt: ArrayLike<number>, ni: number, nt: number, e: number, logitScale: number, targets?: number[][]): number {
  const scale = Math.exp(Math.min(logitScale, Math.log(100)));
  const logits = Array.from({ length: ni }, (_, i) =>
    Array.from({ length: nt }, (_, j) => {
      let s = 0;
      for (let k = 0; k < e; k++) s += img[i * e + k] * txt[j * e + k];
      return scale * s;
    }),
  );
  const t = targets ?? logits.map((row, i) => row.map((_, j) => (i === j ? 1 : 0)));
  const softCe = (rows: number[][], tg: number[][]) =>
    rows.reduce((acc, row, i) => {
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      const z = tg[i].reduce((a, b) => a + b, 0);
      return acc - row.reduce((s, v, j) => s + (tg[i][j] / z) * (v - lse), 0);
    }, 0) / rows.length;
  const transpose = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));
  return 0.5 * (softCe(logits, t) + softCe(transpose(logits), transpose(t)));
}

function unitRows(seed: number, n: number, e: number): Float32Array {
  const v = randomArray(seed, n * e);
  return Float32Array.from(l2NormalizeRef(v, e));
}

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

describe('CLIP configuration', () => {
  it('keeps the default model within 250k parameters and counts them by part as createClip creates them', () => {
    const counts = countClipParams(DEFAULT_CLIP_CONFIG);
    expect(counts).toEqual({
      tokenEmbedding: 4096,
      positionEmbedding: 768,
      textBlocks: 99968,
      textHead: 4224,
      text: 109056,
      image: 133072,
      logitScale: 1,
      total: 242129,
    });
    const model = createClip(DEFAULT_CLIP_CONFIG, 1);
    expect(model.paramCount()).toBe(counts.total);
    const shapes = clipParamShapes(DEFAULT_CLIP_CONFIG);
    expect(Object.keys(model.params)).toEqual(Object.keys(shapes));
    for (const [name, v] of Object.entries(model.params)) expect({ [name]: v.shape }).toEqual({ [name]: shapes[name] });
    model.dispose();
  });

  it('starts the temperature at 0.07 and draws the same weights from the same seed on every backend', async () => {
    const a = createClip(SMALL, 4);
    expect((await read(a.logitScale))[0]).toBeCloseTo(INITIAL_LOGIT_SCALE, 6);
    const wa = await weightsOf(a);
    await useBackend('cpu');
    const b = createClip(SMALL, 4);
    const wb = await weightsOf(b);
    await useBackend('wasm');
    for (const name of Object.keys(wa)) expect(maxAbsDiff(wa[name], wb[name])).toBe(0);
    a.dispose();
    b.dispose();
  });

  it('rejects configurations it cannot build', () => {
    expect(() => validateClipConfig({ ...SMALL, heads: 3 })).toThrow(/3 heads do not divide width 8/);
    expect(() => validateClipConfig({ ...SMALL, eosId: 10 })).toThrow(/eosId 10/);
    expect(() => validateClipConfig({ ...SMALL, eosId: 0 })).toThrow(/must differ/);
    expect(() => validateClipConfig({ ...SMALL, imageChannels: [2, 3] as unknown as [number, number, number] })).toThrow(/imageChannels/);
  });
});

describe.each<TestBackend>(['wasm', 'cpu'])('CLIP encoders on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('encode text like a float64 causal transformer read at the first <eos> (the last token without one)', async () => {
    const model = createClip(SMALL, 2);
    // Non-trivial LayerNorm and bias parameters, so that every parameter matters.
    let seed = 100;
    for (const [name, v] of Object.entries(model.params)) {
      if (name.startsWith('text.') && v.rank === 1) v.assign(tf.tensor1d(randomArray(seed++, v.size, 0.3).map((a) => a + (name.endsWith('gamma') ? 1 : 0))));
    }
    const w = await weightsOf(model);
    const ids = tf.tensor2d(SMALL_IDS, [4, 5], 'int32');
    const before = tf.memory().numTensors;
    const enc = encodeText(model, ids);
    expect(enc.embedding.shape).toEqual([4, SMALL.embedDim]);
    expect(enc.states.shape).toEqual([4, 5, SMALL.width]);
    const ref = textRef(w, SMALL, SMALL_IDS);
    expect(maxAbsDiff(await read(enc.states), ref.states)).toBeLessThan(2e-5);
    expect(maxAbsDiff(await read(enc.embedding), ref.embedding)).toBeLessThan(2e-5);
    expect(Array.from(await enc.eosIndex.data())).toEqual([2, 1, 4, 4]);
    expect(enc.eosIndex.dtype).toBe('int32');
    expect(Array.from(await enc.tokenMask.data())).toEqual([1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const states = textStates(model, ids);
    const emb = textEmbedding(model, ids);
    expect(maxAbsDiff(await read(states), await read(enc.states))).toBe(0);
    expect(maxAbsDiff(await read(emb), await read(enc.embedding))).toBe(0);
    tf.dispose([...Object.values(enc), states, emb]);
    expect(tf.memory().numTensors).toBe(before);
    ids.dispose();
    model.dispose();
  });

  it('encode images like a float64 conv → avgPool → flatten → dense encoder', async () => {
    const model = createClip(SMALL, 3);
    let seed = 200;
    for (const [name, v] of Object.entries(model.params)) if (name.startsWith('image.') && v.rank === 1) v.assign(tf.tensor1d(randomArray(seed++, v.size, 0.1)));
    const w = await weightsOf(model);
    const x = images(3, 5);
    const xv = await read(x);
    const before = tf.memory().numTensors;
    const emb = encodeImage(model, x);
    expect(emb.shape).toEqual([3, SMALL.embedDim]);
    expect(maxAbsDiff(await read(emb), imageRef(w, SMALL, xv, 3))).toBeLessThan(2e-5);
    emb.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('gives the same text embedding and the same states up to <eos> whatever follows the <eos>', async () => {
    const model = createClip(DEFAULT_CLIP_CONFIG, 5);
    const padded = [7, 9, 11, 2, 0, 0, 0, 0, 0, 0, 0, 0];
    const noisy = [7, 9, 11, 2, 2, 33, 5, 60, 1, 9, 40, 12]; // another <eos>, words and <unk> after the first <eos>
    const ids = tf.tensor2d([padded, noisy], [2, 12], 'int32');
    const enc = encodeText(model, ids);
    const e = await read(enc.embedding);
    const s = await read(enc.states);
    const d = DEFAULT_CLIP_CONFIG.width;
    expect(maxAbsDiff(e.subarray(0, 64), e.subarray(64))).toBeLessThan(1e-6);
    expect(maxAbsDiff(s.subarray(0, 4 * d), s.subarray(12 * d, 16 * d))).toBeLessThan(1e-6);
    expect(maxAbsDiff(s.subarray(4 * d, 12 * d), s.subarray(16 * d, 24 * d))).toBeGreaterThan(1e-2); // later states do differ
    expect(Array.from(await enc.eosIndex.data())).toEqual([3, 3]);
    tf.dispose([...Object.values(enc), ids]);
    model.dispose();
  });

  it('gives unit-norm embeddings of the documented shapes for the default model without leaking tensors', async () => {
    const model = createClip(DEFAULT_CLIP_CONFIG, 6);
    const x = images(5, 7);
    const rng = makeRng(8);
    const ids = tf.tensor2d(
      Array.from({ length: 5 }, (_, i) => Array.from({ length: 12 }, (_, l) => (l < 3 + i ? 3 + Math.floor(rng.uniform() * 61) : l === 3 + i ? 2 : 0))),
      [5, 12],
      'int32',
    );
    const before = tf.memory().numTensors;
    const img = encodeImage(model, x);
    const txt = encodeText(model, ids);
    const loss = clipLoss(img, txt.embedding, model.logitScale);
    const probs = matchProbabilities(model, img, txt.embedding);
    expect(img.shape).toEqual([5, 64]);
    expect(txt.embedding.shape).toEqual([5, 64]);
    expect(txt.states.shape).toEqual([5, 12, 64]);
    expect(probs.shape).toEqual([5, 5]);
    for (const t of [img, txt.embedding]) {
      const v = await read(t);
      for (let i = 0; i < 5; i++) expect(Math.hypot(...v.subarray(i * 64, (i + 1) * 64))).toBeCloseTo(1, 5);
    }
    const p = await read(probs);
    for (let i = 0; i < 5; i++) expect(p.subarray(i * 5, i * 5 + 5).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(Number.isFinite((await read(loss))[0])).toBe(true);
    tf.dispose([img, ...Object.values(txt), loss, probs]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ids]);
    model.dispose();
  });

  it('takes gradients of the batch loss for every parameter that match float64 finite differences', async () => {
    const model = createClip(SMALL, 9);
    const w = await weightsOf(model);
    const n = 4;
    const x = images(n, 10);
    const xv = await read(x);
    const ids = tf.tensor2d(SMALL_IDS, [n, 5], 'int32');
    const keys = [0, 1, 0, 2];
    const targets = matchTargets(keys);
    const targetRows = keys.map((a) => keys.map((b) => (a === b ? 1 : 0)));
    const vars = Object.values(model.params);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => clipBatchLoss(model, x, ids, targets), vars);
    const loss = () => lossRef(imageRef(w, SMALL, xv, n), textRef(w, SMALL, SMALL_IDS).embedding, n, n, SMALL.embedDim, w.logitScale[0], targetRows);
    expect(Math.abs((await read(value))[0] - loss())).toBeLessThan(1e-5);
    const h = 1e-6;
    let checked = 0;
    for (const [name, v] of Object.entries(model.params)) {
      const g = await read(grads[v.name]);
      const values = w[name];
      for (let s = 0; s < Math.min(4, values.length); s++) {
        const i = Math.floor(((s + 0.5) * values.length) / Math.min(4, values.length));
        const orig = values[i];
        values[i] = orig + h;
        const up = loss();
        values[i] = orig - h;
        const down = loss();
        values[i] = orig;
        const fd = (up - down) / (2 * h);
        expect({ [`${name}[${i}]`]: Math.abs(g[i] - fd) <= 3e-5 + 3e-3 * Math.abs(fd) }).toEqual({ [`${name}[${i}]`]: true });
        if (Math.abs(fd) > 1e-6) checked++;
      }
    }
    expect(checked).toBeGreaterThan(60);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ids, targets]);
    model.dispose();
  });
});

describe('clipLoss', () => {
  const [N, E] = [6, 5];
  const img = unitRows(1, N, E);
  const txt = unitRows(2, N, E);

  it('is the float64 symmetric InfoNCE with identity targets, and clamps the scale at 100', async () => {
    for (const s of [INITIAL_LOGIT_SCALE, 0.3, Math.log(100) + 1]) {
      const [a, b, scale] = [tf.tensor2d(img, [N, E]), tf.tensor2d(txt, [N, E]), tf.scalar(s)];
      const before = tf.memory().numTensors;
      const loss = clipLoss(a, b, scale);
      expect(Math.abs((await read(loss))[0] - lossRef(img, txt, N, N, E, s))).toBeLessThan(1e-5);
      loss.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([a, b, scale]);
    }
  });

  it('spreads each row and column over several positives with a multi-positive target matrix', async () => {
    const keys = ['thin 3', 'thick 3', 'thin 3', 'slanted 7', 'thick 3', 'thin 3'];
    const targets = matchTargets(keys);
    const rows = keys.map((a) => keys.map((b) => (a === b ? 1 : 0)));
    expect(Array.from(await targets.data())).toEqual(rows.flat());
    const [a, b, scale] = [tf.tensor2d(img, [N, E]), tf.tensor2d(txt, [N, E]), tf.scalar(2.5)];
    const loss = clipLoss(a, b, scale, targets);
    const ref = lossRef(img, txt, N, N, E, 2.5, rows);
    expect(Math.abs((await read(loss))[0] - ref)).toBeLessThan(1e-5);
    expect(Math.abs(ref - lossRef(img, txt, N, N, E, 2.5))).toBeGreaterThan(1e-2);
    tf.dispose([targets, a, b, scale, loss]);
  });

  it('accepts rectangular targets (e.g. each distinct caption once) and refuses mismatched shapes', async () => {
    const rows = [
      [1, 0, 0],
      [0, 1, 0],
      [1, 0, 0],
      [0, 0, 1],
      [0, 1, 0],
      [1, 0, 0],
    ];
    const [a, b, t, scale] = [tf.tensor2d(img, [N, E]), tf.tensor2d(txt.subarray(0, 3 * E), [3, E]), tf.tensor2d(rows), tf.scalar(1.5)];
    const loss = clipLoss(a, b, scale, t);
    expect(Math.abs((await read(loss))[0] - lossRef(img, txt.subarray(0, 3 * E), N, 3, E, 1.5, rows))).toBeLessThan(1e-5);
    expect(() => clipLoss(a, b, scale)).toThrow(/need targets/);
    const logits = clipLogits(a, b, scale);
    const sim = similarity(a, b);
    expect(maxAbsDiff(await read(logits), (await read(sim)).map((v) => Math.exp(1.5) * v))).toBeLessThan(1e-5);
    tf.dispose([a, b, t, scale, loss, logits, sim]);
  });
});

describe('CLIP training and files', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('lowers the loss of a fixed batch over a few Adam steps without leaking tensors', async () => {
    const model = createClip(DEFAULT_CLIP_CONFIG, 11);
    const n = 8;
    const x = images(n, 12);
    const ids = tf.tensor2d(
      Array.from({ length: n }, (_, i) => [3 + i, 20 + (i % 3), 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      [n, 12],
      'int32',
    );
    const opt = new FusedAdam(Object.values(model.params), { lr: 3e-3 });
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    for (let step = 0; step < 12; step++) {
      const loss = opt.minimize(() => clipBatchLoss(model, x, ids));
      losses.push((await read(loss))[0]);
      loss.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[0]).toBeGreaterThan(1.5); // ≈ ln 8 at initialisation
    expect(losses[losses.length - 1]).toBeLessThan(0.5 * losses[0]);
    opt.dispose();
    tf.dispose([x, ids]);
    model.dispose();
  });

  it('round-trips through named weights and a model file to bit-identical embeddings', async () => {
    const model = createClip(SMALL, 13);
    // Move the weights away from their initialisation, so that loading is what makes the copies equal.
    for (const v of Object.values(model.params)) v.assign(tf.tensor(randomArray(v.size + 7, v.size, 0.3), v.shape));
    const x = images(2, 14);
    const ids = tf.tensor2d(SMALL_IDS.slice(0, 2), [2, 5], 'int32');
    const viaWeights = clipFromWeights(await model.getWeights(), { config: SMALL });
    const { modelJson, weightData } = await encodeClip(model, { name: 'clip-test', vocab: ['<pad>', '<unk>', '<eos>'] });
    const decoded = decodeWeights(JSON.parse(JSON.stringify(modelJson)), weightData);
    const viaFile = clipFromWeights(decoded.weights, decoded.metadata);
    const fakeFetch = (async (url: string) =>
      url.endsWith('model.json') ? new Response(JSON.stringify(modelJson)) : new Response(weightData)) as unknown as typeof fetch;
    const loaded = await loadClip('/models/clip-test/', fakeFetch);
    expect(loaded.metadata.name).toBe('clip-test');
    expect(loaded.metadata.vocab).toEqual(['<pad>', '<unk>', '<eos>']);
    expect(loaded.metadata.config).toEqual(SMALL);
    const outputs = async (m: ClipModel) => {
      const img = encodeImage(m, x);
      const txt = encodeText(m, ids);
      const out = [await read(img), await read(txt.embedding), await read(txt.states), await read(m.logitScale)];
      tf.dispose([img, ...Object.values(txt)]);
      return out;
    };
    const ref = await outputs(model);
    for (const copy of [viaWeights, viaFile, loaded.clip]) {
      const got = await outputs(copy);
      got.forEach((g, i) => expect(maxAbsDiff(g, ref[i])).toBe(0));
      copy.dispose();
    }
    tf.dispose([x, ids]);
    model.dispose();
  });

  it('keeps cosine similarities within 2e-3 when the default model ships as float16', async () => {
    const model = createClip(DEFAULT_CLIP_CONFIG, 16);
    const { modelJson, weightData } = await encodeClip(model, { name: 'clip-f16' }, { quantize: 'float16' });
    expect(weightData.byteLength).toBe(2 * countClipParams(DEFAULT_CLIP_CONFIG).total);
    const decoded = decodeWeights(modelJson, weightData);
    const half = clipFromWeights(decoded.weights, decoded.metadata);
    const x = images(4, 17);
    const ids = tf.tensor2d(
      Array.from({ length: 4 }, (_, i) => [5 + i, 9, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      [4, 12],
      'int32',
    );
    const sims = async (m: ClipModel) => {
      const [img, txt] = [encodeImage(m, x), textEmbedding(m, ids)];
      const s = similarity(img, txt);
      const out = await read(s);
      tf.dispose([img, txt, s]);
      return out;
    };
    expect(maxAbsDiff(await sims(half), await sims(model))).toBeLessThan(2e-3);
    tf.dispose([x, ids]);
    half.dispose();
    model.dispose();
  });

  it('refuses weights of another configuration and leaves no tensors behind', async () => {
    const model = createClip(SMALL, 15);
    const weights = await model.getWeights();
    const before = tf.memory().numTensors;
    expect(() => clipFromWeights(weights, { config: { ...SMALL, width: 12, heads: 3 } }, 'other.json')).toThrow(/other\.json: weight "text\.tokenEmb" has shape \[10,8\]/);
    expect(() => clipFromWeights(weights, {}, 'nothing.json')).toThrow(/nothing\.json: model\.json has no CLIP configuration/);
    const { logitScale: _dropped, ...missing } = weights;
    expect(() => clipFromWeights(missing, { config: SMALL }, 'short.json')).toThrow(/missing weight\(s\) "logitScale"/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
