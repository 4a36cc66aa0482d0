import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../../helpers/backends';
import '../../../src/core/nn/registerGradients';
import { addPerChannel, sumSpatial, sumToChannels } from '../../../src/core/nn/reduce';
import { makeRng } from '../../../src/core/noise';

function randomArray(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

const [N, H, W, C] = [3, 4, 5, 6];
const x = randomArray(1, N * H * W * C);
const at = (n: number, i: number, j: number, c: number) => x[((n * H + i) * W + j) * C + c];

beforeAll(async () => {
  await useBackend('wasm');
});

describe.each<TestBackend>(['wasm', 'cpu'])('matMul reductions on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('sumSpatial sums over H and W for each example and channel', async () => {
    const ref = new Float64Array(N * C);
    for (let n = 0; n < N; n++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) ref[n * C + c] += at(n, i, j, c);
    const xt = tf.tensor4d(x, [N, H, W, C]);
    const y = sumSpatial(xt);
    expect(y.shape).toEqual([N, C]);
    expect(maxAbsDiff(await read(y), ref)).toBeLessThan(1e-4);
    tf.dispose([xt, y]);
  });

  it('sumToChannels sums over every axis but the last', async () => {
    const ref = new Float64Array(C);
    for (let k = 0; k < x.length; k++) ref[k % C] += x[k];
    const xt = tf.tensor4d(x, [N, H, W, C]);
    const y = sumToChannels(xt);
    expect(y.shape).toEqual([C]);
    expect(maxAbsDiff(await read(y), ref)).toBeLessThan(1e-4);
    tf.dispose([xt, y]);
  });

  it('addPerChannel adds e[n, c] everywhere and its gradient for e is the spatial sum of dy', async () => {
    const e = randomArray(2, N * C);
    const dy = randomArray(3, N * H * W * C);
    const xt = tf.tensor4d(x, [N, H, W, C]);
    const et = tf.tensor2d(e, [N, C]);
    const dyt = tf.tensor4d(dy, [N, H, W, C]);
    const before = tf.memory().numTensors;
    const y = addPerChannel(xt, et);
    const [gx, ge] = tf.grads((a: tf.Tensor, b: tf.Tensor) => addPerChannel(a as tf.Tensor4D, b as tf.Tensor2D))([xt, et], dyt);
    const yv = await read(y);
    for (let k = 0; k < x.length; k++) {
      const c = k % C;
      const n = Math.floor(k / (H * W * C));
      expect(yv[k]).toBeCloseTo(x[k] + e[n * C + c], 5);
    }
    const refGe = new Float64Array(N * C);
    for (let k = 0; k < dy.length; k++) refGe[Math.floor(k / (H * W * C)) * C + (k % C)] += dy[k];
    expect(maxAbsDiff(await read(gx), dy)).toBe(0);
    expect(maxAbsDiff(await read(ge), refGe)).toBeLessThan(1e-4);
    tf.dispose([y, gx, ge]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xt, et, dyt]);
  });
});
