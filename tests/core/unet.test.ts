import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../helpers/backends';
import '../../src/core/nn/registerGradients';
import { registerWasmGradKernels } from '../../src/core/kernels';
import { makeRng } from '../../src/core/noise';
import {
  countUNetParams,
  createUNet,
  LATENT_UNET_CONFIG,
  MNIST_UNET_CONFIG,
  validateUNetConfig,
  type UNetConfig,
} from '../../src/core/unet';

/** A small but complete configuration: two levels, attention, classes, batch > 1. */
const SMALL: UNetConfig = {
  inputShape: [8, 8, 2],
  channels: [8, 16],
  numResBlocks: 1,
  attention: true,
  tembDim: 16,
  groups: 4,
  numClasses: 3,
};

function randomArray(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function input(config: UNetConfig, n: number, seed = 1): tf.Tensor4D {
  const [h, w, c] = config.inputShape;
  return tf.tensor4d(randomArray(seed, n * h * w * c), [n, h, w, c]);
}

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

describe('createUNet', () => {
  it('maps 28×28×1 MNIST batches to ε̂ of the same shape, with and without classes', () => {
    const unet = createUNet(MNIST_UNET_CONFIG, 1);
    const x = input(MNIST_UNET_CONFIG, 2);
    const t = tf.tensor1d([10, 900], 'int32');
    const c = tf.tensor1d([3, 10], 'int32');
    const before = tf.memory().numTensors;
    const withClasses = unet.model(x, t, c);
    const withoutClasses = unet.model(x, t);
    expect(withClasses.shape).toEqual([2, 28, 28, 1]);
    expect(withoutClasses.shape).toEqual([2, 28, 28, 1]);
    tf.dispose([withClasses, withoutClasses]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, t, c]);
    unet.dispose();
  });

  it('maps 7×7×4 latents to ε̂ of the same shape, and an unconditional variant refuses class ids', () => {
    const unet = createUNet(LATENT_UNET_CONFIG, 2);
    const x = input(LATENT_UNET_CONFIG, 3);
    const t = tf.tensor1d([1, 500, 1000], 'int32');
    const y = unet.model(x, t, tf.tensor1d([0, 5, 10], 'int32'));
    expect(y.shape).toEqual([3, 7, 7, 4]);
    const uncond = createUNet({ ...LATENT_UNET_CONFIG, numClasses: 0 }, 2);
    const y2 = uncond.model(x, t);
    expect(y2.shape).toEqual([3, 7, 7, 4]);
    expect(() => uncond.model(x, t, tf.tensor1d([0, 1, 2], 'int32'))).toThrow(/unconditional/);
    tf.dispose([x, t, y, y2]);
    unet.dispose();
    uncond.dispose();
  });

  it('counts the documented parameter total for the default configurations', () => {
    for (const config of [MNIST_UNET_CONFIG, LATENT_UNET_CONFIG, SMALL]) {
      const unet = createUNet(config, 0);
      let total = 0;
      for (const v of unet.params.values()) total += v.size;
      expect(unet.paramCount()).toBe(total);
      expect(countUNetParams(config)).toBe(total);
      unet.dispose();
    }
  });

  it('uses stable parameter names', () => {
    const unet = createUNet(SMALL, 0);
    const names = [...unet.params.keys()];
    for (const name of ['time.dense0.w', 'class.emb', 'in.conv.w', 'down0.res0.conv0.w', 'down1.res0.skip.w', 'mid.attn.q.w', 'up0.res0.norm0.gamma', 'out.conv.b']) {
      expect(names).toContain(name);
    }
    expect(unet.params.get('class.emb')?.shape).toEqual([SMALL.numClasses + 1, SMALL.tembDim]);
    unet.dispose();
  });

  it('rejects configurations it cannot build', () => {
    expect(() => validateUNetConfig({ ...SMALL, inputShape: [7, 7, 1] })).toThrow(/divisible/);
    expect(() => validateUNetConfig({ ...SMALL, channels: [6, 16] })).toThrow(/groups/);
  });

  it('initialises deterministically from the seed', async () => {
    const a = createUNet(SMALL, 5);
    const b = createUNet(SMALL, 5);
    const c = createUNet(SMALL, 6);
    const wa = await a.getWeights();
    const wb = await b.getWeights();
    const wc = await c.getWeights();
    for (const name of Object.keys(wa)) expect(Array.from(wb[name])).toEqual(Array.from(wa[name]));
    expect(Array.from(wc['down0.res0.conv0.w'])).not.toEqual(Array.from(wa['down0.res0.conv0.w']));
    [a, b, c].forEach((u) => u.dispose());
  });

  it('round-trips weights: setWeights of one model’s getWeights reproduces its output', async () => {
    const a = createUNet(SMALL, 1);
    const b = createUNet(SMALL, 2);
    const x = input(SMALL, 2);
    const t = tf.tensor1d([3, 700], 'int32');
    const c = tf.tensor1d([0, 3], 'int32');
    b.setWeights(await a.getWeights());
    const ya = a.model(x, t, c);
    const yb = b.model(x, t, c);
    expect(maxAbsDiff(await read(ya), await read(yb))).toBe(0);
    tf.dispose([x, t, c, ya, yb]);
    a.dispose();
    b.dispose();
  });

  it('depends on the timestep, and on the class (omitted classes mean the null class ∅)', async () => {
    const unet = createUNet(SMALL, 3);
    const x = input(SMALL, 2);
    const early = tf.tensor1d([10, 10], 'int32');
    const late = tf.tensor1d([900, 900], 'int32');
    const cls = tf.tensor1d([1, 1], 'int32');
    const nul = tf.tensor1d([3, 3], 'int32');
    const yEarly = await read(unet.model(x, early, cls));
    const yLate = await read(unet.model(x, late, cls));
    const yNull = await read(unet.model(x, late, nul));
    const yOmitted = await read(unet.model(x, late));
    const scale = Math.max(...yLate.map(Math.abs));
    expect(maxAbsDiff(yEarly, yLate) / scale).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(yNull, yLate) / scale).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(yOmitted, yNull)).toBe(0);
    tf.dispose([x, early, late, cls, nul]);
    unet.dispose();
  });

  it('treats each example independently (batch rows do not mix)', async () => {
    const unet = createUNet(SMALL, 4);
    const x = input(SMALL, 3);
    const t = tf.tensor1d([5, 50, 500], 'int32');
    const c = tf.tensor1d([0, 1, 2], 'int32');
    const full = await read(unet.model(x, t, c));
    const one = await read(unet.model(tf.slice(x, [1, 0, 0, 0], [1, -1, -1, -1]), tf.tensor1d([50], 'int32'), tf.tensor1d([1], 'int32')));
    const per = 8 * 8 * 2;
    expect(maxAbsDiff(full.slice(per, 2 * per), one)).toBeLessThan(1e-5);
    unet.dispose();
  });
});

describe('U-Net gradients', () => {
  it('agree with a central finite difference of the loss along a random direction (cpu)', async () => {
    await useBackend('cpu');
    const unet = createUNet(SMALL, 21);
    const x = input(SMALL, 2, 22);
    const target = input(SMALL, 2, 23);
    const t = tf.tensor1d([40, 600], 'int32');
    const c = tf.tensor1d([1, 3], 'int32');
    const loss = () => tf.mean(tf.squaredDifference(unet.model(x, t, c), target)) as tf.Scalar;
    const { value, grads } = tf.variableGrads(loss, [...unet.params.values()]);
    const w0 = await unet.getWeights();
    const dirRng = makeRng(24);
    const direction: Record<string, Float32Array> = {};
    let directional = 0;
    for (const [name, v] of unet.params) {
      direction[name] = Float32Array.from({ length: v.size }, () => dirRng.normal());
      const g = await read(grads[v.name]);
      for (let i = 0; i < g.length; i++) directional += g[i] * direction[name][i];
    }
    const lossAt = async (h: number) => {
      const shifted: Record<string, Float32Array> = {};
      for (const name of Object.keys(w0)) shifted[name] = w0[name].map((v, i) => v + h * direction[name][i]);
      unet.setWeights(shifted);
      const l = loss();
      const out = (await l.data())[0];
      l.dispose();
      return out;
    };
    const h = 1e-3;
    const fd = ((await lossAt(h)) - (await lossAt(-h))) / (2 * h);
    expect(Math.abs(fd - directional) / Math.abs(directional)).toBeLessThan(1e-2); // measured 1.4e-3
    tf.dispose([value, ...Object.values(grads), x, target, t, c]);
    unet.dispose();
    await useBackend('wasm');
  });

  /** Gradients of a fixed quadratic loss w.r.t. every parameter, on one backend. */
  async function gradients(backend: TestBackend): Promise<Map<string, Float64Array>> {
    await useBackend(backend);
    const unet = createUNet(SMALL, 11);
    const x = input(SMALL, 3, 12);
    const target = input(SMALL, 3, 13);
    const t = tf.tensor1d([7, 300, 950], 'int32');
    const c = tf.tensor1d([0, 2, 3], 'int32');
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.squaredDifference(unet.model(x, t, c), target)) as tf.Scalar,
      [...unet.params.values()],
    );
    const out = new Map<string, Float64Array>();
    for (const [name, v] of unet.params) out.set(name, await read(grads[v.name]));
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, target, t, c]);
    unet.dispose();
    return out;
  }

  it('on wasm (custom conv kernels) match the cpu backend’s for every parameter', async () => {
    const wasm = await gradients('wasm');
    const cpu = await gradients('cpu');
    await useBackend('wasm');
    expect([...wasm.keys()]).toEqual([...cpu.keys()]);
    let nonZero = 0;
    for (const [name, g] of cpu) {
      const scale = Math.max(1e-3, ...g.map(Math.abs));
      const err = maxAbsDiff(wasm.get(name) as Float64Array, g) / scale;
      expect(err, name).toBeLessThan(1e-4); // measured ~2e-6
      if (g.some((v) => v !== 0)) nonZero++;
    }
    // Every parameter takes part: no dead branch hides behind a zero gradient.
    expect(nonZero).toBe(cpu.size);
  });
});
