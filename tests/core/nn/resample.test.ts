import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../../helpers/backends';
import '../../../src/core/nn/registerGradients';
import { downsample2x, upsample2x } from '../../../src/core/nn/resample';
import { makeRng } from '../../../src/core/noise';

function randomArray(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

// Batch 3 > 1: the cpu backend's ResizeNearestNeighborGrad is wrong after the first example.
const [N, H, W, C] = [3, 4, 6, 2];
const idx = (n: number, i: number, j: number, c: number, h: number, w: number) => ((n * h + i) * w + j) * C + c;

beforeAll(async () => {
  await useBackend('wasm');
});

describe.each<TestBackend>(['wasm', 'cpu'])('resampling on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('upsample2x repeats each pixel over a 2×2 block and its gradient sums each block', async () => {
    const x = randomArray(1, N * H * W * C);
    const dy = randomArray(2, N * 4 * H * W * C);
    const refY = new Float64Array(dy.length);
    const refDx = new Float64Array(x.length);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < 2 * H; i++)
        for (let j = 0; j < 2 * W; j++)
          for (let c = 0; c < C; c++) {
            const src = idx(n, i >> 1, j >> 1, c, H, W);
            refY[idx(n, i, j, c, 2 * H, 2 * W)] = x[src];
            refDx[src] += dy[idx(n, i, j, c, 2 * H, 2 * W)];
          }
    const xt = tf.tensor4d(x, [N, H, W, C]);
    const dyt = tf.tensor4d(dy, [N, 2 * H, 2 * W, C]);
    const before = tf.memory().numTensors;
    const y = upsample2x(xt);
    const dx = tf.grad((a: tf.Tensor) => upsample2x(a as tf.Tensor4D))(xt, dyt);
    expect(y.shape).toEqual([N, 2 * H, 2 * W, C]);
    expect(maxAbsDiff(await read(y), refY)).toBe(0);
    expect(maxAbsDiff(await read(dx), refDx)).toBeLessThan(1e-5);
    tf.dispose([y, dx]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xt, dyt]);
  });

  it('downsample2x averages each 2×2 block and its gradient spreads dy/4 over the block', async () => {
    const x = randomArray(3, N * H * W * C);
    const dy = randomArray(4, (N * H * W * C) / 4);
    const refY = new Float64Array(dy.length);
    const refDx = new Float64Array(x.length);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++)
          for (let c = 0; c < C; c++) {
            const dst = idx(n, i >> 1, j >> 1, c, H / 2, W / 2);
            refY[dst] += x[idx(n, i, j, c, H, W)] / 4;
            refDx[idx(n, i, j, c, H, W)] = dy[dst] / 4;
          }
    const xt = tf.tensor4d(x, [N, H, W, C]);
    const dyt = tf.tensor4d(dy, [N, H / 2, W / 2, C]);
    const y = downsample2x(xt);
    const dx = tf.grad((a: tf.Tensor) => downsample2x(a as tf.Tensor4D))(xt, dyt);
    expect(maxAbsDiff(await read(y), refY)).toBeLessThan(1e-6);
    expect(maxAbsDiff(await read(dx), refDx)).toBeLessThan(1e-6);
    tf.dispose([xt, dyt, y, dx]);
  });

  it('downsample2x refuses odd sizes', () => {
    const x = tf.zeros([1, 7, 7, 1]) as tf.Tensor4D;
    expect(() => downsample2x(x)).toThrow(/even/);
    x.dispose();
  });
});
