import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../../helpers/backends';
import '../../../src/core/nn/registerGradients';
import { createGroupNorm, groupNorm, GROUP_NORM_EPSILON } from '../../../src/core/nn/groupNorm';
import { ParamStore } from '../../../src/core/nn/params';
import { makeRng } from '../../../src/core/noise';
import { GROUP_NORM_AFFINE, GROUP_NORM_GRAD, registerWasmGradKernels } from '../../../src/core/kernels';

function randomArray(seed: number, n: number, offset = 0): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => offset + rng.normal());
}

const [N, H, W, C, G] = [3, 4, 5, 8, 2];

/** Float64 GroupNorm (Wu & He 2018, eq. 1–3), optionally followed by SiLU. */
function reference(x: Float32Array, gamma: Float32Array, beta: Float32Array, silu: boolean): Float64Array {
  const y = new Float64Array(x.length);
  const cg = C / G;
  for (let n = 0; n < N; n++)
    for (let g = 0; g < G; g++) {
      const idx: number[] = [];
      for (let p = 0; p < H * W; p++) for (let c = g * cg; c < (g + 1) * cg; c++) idx.push((n * H * W + p) * C + c);
      const mean = idx.reduce((s, i) => s + x[i], 0) / idx.length;
      const variance = idx.reduce((s, i) => s + (x[i] - mean) ** 2, 0) / idx.length;
      for (const i of idx) {
        const c = i % C;
        const v = (gamma[c] * (x[i] - mean)) / Math.sqrt(variance + GROUP_NORM_EPSILON) + beta[c];
        y[i] = silu ? v / (1 + Math.exp(-v)) : v;
      }
    }
  return y;
}

/** The textbook formulation with tfjs's own autodiff (an independent gradient path). */
function plainGroupNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, silu: boolean): tf.Tensor4D {
  const xg = tf.reshape(x, [N, H * W, G, C / G]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  const normed = tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, GROUP_NORM_EPSILON))), [N, H, W, C]);
  const y = tf.add(tf.mul(normed, gamma), beta);
  return (silu ? tf.mul(y, tf.sigmoid(y)) : y) as tf.Tensor4D;
}

beforeAll(async () => {
  await useBackend('wasm');
});

// 'wasm+kernels': the custom wasm kernels registered (as initBackend does), so the per-channel arithmetic runs in
// src/core/kernels/groupNormParams.ts; it runs last, after plain 'wasm' has been tested without them.
describe.each<TestBackend | 'wasm+kernels'>(['wasm', 'cpu', 'wasm+kernels'])('groupNorm on %s', (variant) => {
  beforeAll(async () => {
    await useBackend(variant === 'cpu' ? 'cpu' : 'wasm');
    if (variant === 'wasm+kernels') registerWasmGradKernels();
  });

  for (const activation of ['none', 'silu'] as const) {
    for (const offset of [0, 10]) {
      it(`matches float64 GroupNorm${activation === 'silu' ? ' + SiLU' : ''} (inputs offset by ${offset}) and tfjs autodiff gradients`, async () => {
        const store = new ParamStore(1);
        const p = createGroupNorm(store, 'gn', C, G);
        const gammaV = randomArray(2, C, 1);
        const betaV = randomArray(3, C);
        p.gamma.assign(tf.tensor1d(gammaV));
        p.beta.assign(tf.tensor1d(betaV));
        const x = randomArray(4, N * H * W * C, offset);
        const dy = randomArray(5, x.length);
        const xt = tf.tensor4d(x, [N, H, W, C]);
        const dyt = tf.tensor4d(dy, [N, H, W, C]);
        const before = tf.memory().numTensors;
        const y = groupNorm(p, xt, activation);
        const silu = activation === 'silu';
        expect(maxAbsDiff(await read(y), reference(x, gammaV, betaV, silu))).toBeLessThan(offset === 0 ? 1e-5 : 2e-4);
        const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          groupNorm({ gamma: g as tf.Variable, beta: b as tf.Variable, groups: G }, a as tf.Tensor4D, activation),
        )([xt, p.gamma, p.beta], dyt);
        const refGrads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => plainGroupNorm(a as tf.Tensor4D, g, b, silu))(
          [xt, p.gamma, p.beta],
          dyt,
        );
        for (let i = 0; i < 3; i++) {
          const ours = await read(grads[i]);
          const ref = await read(refGrads[i]);
          const scale = Math.max(1, ...ref.map(Math.abs));
          expect(maxAbsDiff(ours, ref) / scale).toBeLessThan(offset === 0 ? 1e-4 : 2e-3);
        }
        tf.dispose([y, ...grads, ...refGrads]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([xt, dyt]);
        store.dispose();
      });
    }
  }

  for (const activation of ['none', 'silu'] as const) {
    it(`normalises x + shift (per example and channel)${activation === 'silu' ? ' + SiLU' : ''} like float64, with autodiff gradients for x, γ, β and the shift`, async () => {
      const store = new ParamStore(1);
      const p = createGroupNorm(store, 'gn', C, G);
      const gammaV = randomArray(2, C, 1);
      const betaV = randomArray(3, C);
      p.gamma.assign(tf.tensor1d(gammaV));
      p.beta.assign(tf.tensor1d(betaV));
      const x = randomArray(4, N * H * W * C, 3);
      const shiftV = randomArray(6, N * C, -2);
      const dy = randomArray(5, x.length);
      const xt = tf.tensor4d(x, [N, H, W, C]);
      const st = tf.tensor2d(shiftV, [N, C]);
      const dyt = tf.tensor4d(dy, [N, H, W, C]);
      const before = tf.memory().numTensors;
      const silu = activation === 'silu';
      const y = groupNorm(p, xt, activation, GROUP_NORM_EPSILON, st);
      const summed = x.map((v, i) => v + shiftV[Math.floor(i / (H * W * C)) * C + (i % C)]);
      expect(maxAbsDiff(await read(y), reference(summed, gammaV, betaV, silu))).toBeLessThan(2e-4);
      const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, t: tf.Tensor) =>
        groupNorm({ gamma: g as tf.Variable, beta: b as tf.Variable, groups: G }, a as tf.Tensor4D, activation, GROUP_NORM_EPSILON, t as tf.Tensor2D),
      )([xt, p.gamma, p.beta, st], dyt);
      const refGrads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, t: tf.Tensor) => plainGroupNorm(tf.add(a, tf.reshape(t, [N, 1, 1, C])) as tf.Tensor4D, g, b, silu))(
        [xt, p.gamma, p.beta, st],
        dyt,
      );
      for (let i = 0; i < 4; i++) {
        const ours = await read(grads[i]);
        const ref = await read(refGrads[i]);
        expect(ours.length).toBe(ref.length);
        const scale = Math.max(1, ...ref.map(Math.abs));
        expect(maxAbsDiff(ours, ref) / scale).toBeLessThan(2e-3);
      }
      tf.dispose([y, ...grads, ...refGrads]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([xt, st, dyt]);
      store.dispose();
    });
  }

  it('rejects a group count that does not divide the channels', () => {
    const store = new ParamStore(1);
    expect(() => createGroupNorm(store, 'gn', 6, 4)).toThrow(/do not divide/);
    store.dispose();
  });
});

describe('groupNorm on wasm with the custom kernels', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    registerWasmGradKernels();
  });

  /** Kernel launches (names) of f, counted by tf.profile. */
  async function launches(f: () => tf.TensorContainer): Promise<string[]> {
    const info = await tf.profile(f);
    tf.dispose(info.result as tf.Tensor);
    return info.kernels.map((k) => k.name);
  }

  it('runs GroupNorm + SiLU in at most 9 kernel launches forward and 28 for forward and gradient together (36 forward alone without the kernels)', async () => {
    const store = new ParamStore(1);
    const p = createGroupNorm(store, 'gn', 32, 8);
    const x = tf.tensor4d(randomArray(4, 2 * 7 * 7 * 32), [2, 7, 7, 32]);
    const forward = await launches(() => groupNorm(p, x, 'silu'));
    expect(forward).toContain(GROUP_NORM_AFFINE);
    expect(forward.length).toBeLessThanOrEqual(9);
    const backward = await launches(() => tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => groupNorm({ gamma: g as tf.Variable, beta: b as tf.Variable, groups: 8 }, a as tf.Tensor4D, 'silu'))([x, p.gamma, p.beta]));
    expect(backward).toContain(GROUP_NORM_GRAD);
    expect(backward.length).toBeLessThanOrEqual(28);
    x.dispose();
    store.dispose();
  });
});
