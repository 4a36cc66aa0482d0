import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../../helpers/backends';
import '../../../src/core/nn/registerGradients';
import { createDense, dense } from '../../../src/core/nn/dense';
import { ParamStore } from '../../../src/core/nn/params';

beforeAll(async () => {
  await useBackend('wasm');
});

describe.each<TestBackend>(['wasm', 'cpu'])('dense on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('computes xW + b like a float64 loop, with W [in, out] named `${name}.w`', async () => {
    const store = new ParamStore(2);
    const p = createDense(store, 'fc', 3, 2);
    expect([...store.variables.keys()]).toEqual(['fc.w', 'fc.b']);
    p.b.assign(tf.tensor1d([0.5, -1]));
    const w = await read(p.w);
    const x = [1, 2, 3, -1, 0, 4];
    const ref: number[] = [];
    for (let n = 0; n < 2; n++) for (let o = 0; o < 2; o++) ref.push([0, 1, 2].reduce((s, i) => s + x[n * 3 + i] * w[i * 2 + o], o === 0 ? 0.5 : -1));
    const xt = tf.tensor2d(x, [2, 3]);
    const y = dense(p, xt);
    expect(maxAbsDiff(await read(y), ref)).toBeLessThan(1e-5);
    tf.dispose([xt, y]);
    store.dispose();
  });

  it('has the gradients dx = dy Wᵀ, dW = xᵀ dy, db = Σ_n dy of a float64 loop', async () => {
    const [N, I, O] = [5, 4, 3];
    const store = new ParamStore(3);
    const p = createDense(store, 'fc', I, O);
    const w = await read(p.w);
    const x = Array.from({ length: N * I }, (_, k) => Math.sin(k + 1));
    const dy = Array.from({ length: N * O }, (_, k) => Math.cos(2 * k));
    const dx = new Float64Array(N * I);
    const dw = new Float64Array(I * O);
    const db = new Float64Array(O);
    for (let n = 0; n < N; n++)
      for (let o = 0; o < O; o++) {
        db[o] += dy[n * O + o];
        for (let i = 0; i < I; i++) {
          dx[n * I + i] += dy[n * O + o] * w[i * O + o];
          dw[i * O + o] += x[n * I + i] * dy[n * O + o];
        }
      }
    const xt = tf.tensor2d(x, [N, I]);
    const dyt = tf.tensor2d(dy, [N, O]);
    const before = tf.memory().numTensors;
    const g = tf.grads((a: tf.Tensor, wv: tf.Tensor, b: tf.Tensor) => dense({ w: wv as tf.Variable, b: b as tf.Variable }, a as tf.Tensor2D))(
      [xt, p.w, p.b],
      dyt,
    );
    expect(maxAbsDiff(await read(g[0]), dx)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await read(g[1]), dw)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await read(g[2]), db)).toBeLessThan(1e-5);
    tf.dispose(g);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xt, dyt]);
    store.dispose();
  });
});
