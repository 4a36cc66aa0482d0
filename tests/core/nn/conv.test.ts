import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../../helpers/backends';
import '../../../src/core/nn/registerGradients';
import { registerWasmGradKernels } from '../../../src/core/kernels';
import { conv2d, createConv2d } from '../../../src/core/nn/conv';
import { ParamStore } from '../../../src/core/nn/params';
import { makeRng } from '../../../src/core/noise';

function randomArray(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

const [N, H, W, CI, CO] = [2, 6, 5, 3, 4];

/** Float64 'same' conv + bias and its three gradients for a given dy, by direct summation. */
function reference(k: number, x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array) {
  const p = (k - 1) / 2;
  const y = new Float64Array(N * H * W * CO);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(CO);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++)
        for (let co = 0; co < CO; co++) {
          const yi = ((n * H + i) * W + j) * CO + co;
          y[yi] += b[co];
          db[co] += dy[yi];
          for (let u = 0; u < k; u++)
            for (let v = 0; v < k; v++) {
              const ii = i + u - p;
              const jj = j + v - p;
              if (ii < 0 || ii >= H || jj < 0 || jj >= W) continue;
              for (let ci = 0; ci < CI; ci++) {
                const xi = ((n * H + ii) * W + jj) * CI + ci;
                const wi = ((u * k + v) * CI + ci) * CO + co;
                y[yi] += x[xi] * w[wi];
                dx[xi] += w[wi] * dy[yi];
                dw[wi] += x[xi] * dy[yi];
              }
            }
        }
  return { y, dx, dw, db };
}

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

describe.each<TestBackend>(['wasm', 'cpu'])('conv2d layer on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  for (const k of [3, 1]) {
    it(`computes a ${k}×${k} 'same' conv with bias and its gradients like a float64 reference`, async () => {
      const store = new ParamStore(5);
      const p = createConv2d(store, 'c', k, CI, CO);
      expect(p.w.shape).toEqual([k, k, CI, CO]);
      const bias = randomArray(6, CO);
      p.b.assign(tf.tensor1d(bias));
      const wv = (await p.w.data()) as Float32Array;
      const x = randomArray(7, N * H * W * CI);
      const dy = randomArray(8, N * H * W * CO);
      const ref = reference(k, x, wv, bias, dy);
      const xt = tf.tensor4d(x, [N, H, W, CI]);
      const dyt = tf.tensor4d(dy, [N, H, W, CO]);
      const before = tf.memory().numTensors;
      const y = conv2d(p, xt);
      const [gx, gw, gb] = tf.grads((a: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        conv2d({ w: w as tf.Variable, b: b as tf.Variable }, a as tf.Tensor4D),
      )([xt, p.w, p.b], dyt);
      expect(maxAbsDiff(await read(y), ref.y)).toBeLessThan(1e-4);
      expect(maxAbsDiff(await read(gx), ref.dx)).toBeLessThan(1e-4);
      expect(maxAbsDiff(await read(gw), ref.dw)).toBeLessThan(1e-4);
      expect(maxAbsDiff(await read(gb), ref.db)).toBeLessThan(1e-4);
      tf.dispose([y, gx, gw, gb]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([xt, dyt]);
      store.dispose();
    });
  }
});
