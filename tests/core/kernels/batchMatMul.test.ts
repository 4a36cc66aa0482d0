import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, useBackend } from '../../helpers/backends';
import { registerWasmGradKernels } from '../../../src/core/kernels';
import { batchMatMul, batchMatMulPlan } from '../../../src/core/kernels/batchMatMul';
import { makeRng } from '../../../src/core/noise';
import '../../../src/core/nn/registerGradients';

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

function normals(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Float64 reference of matMul(a, b, ta, tb) over leading batch dims (a batch of 1 broadcast). */
function reference(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], ta: boolean, tb: boolean): Float64Array {
  const r = aShape.length;
  const batchA = aShape.slice(0, -2).reduce((p, d) => p * d, 1);
  const batchB = bShape.slice(0, -2).reduce((p, d) => p * d, 1);
  const [ar, ac] = [aShape[r - 2], aShape[r - 1]];
  const [br, bc] = [bShape[r - 2], bShape[r - 1]];
  const m = ta ? ac : ar;
  const k = ta ? ar : ac;
  const n = tb ? br : bc;
  const batch = Math.max(batchA, batchB);
  const out = new Float64Array(batch * m * n);
  for (let i = 0; i < batch; i++) {
    const ao = (batchA === 1 ? 0 : i) * ar * ac;
    const bo = (batchB === 1 ? 0 : i) * br * bc;
    for (let p = 0; p < m; p++)
      for (let q = 0; q < n; q++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += a[ao + (ta ? j * ac + p : p * ac + j)] * b[bo + (tb ? q * bc + j : j * bc + q)];
        out[(i * m + p) * n + q] = s;
      }
  }
  return out;
}

describe('wasm BatchMatMul with a batch: XNNPACK per item on heap views', () => {
  it('is the BatchMatMul tfjs runs on wasm', () => {
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(batchMatMul);
  });

  it('takes the per-item GEMMs for the U-Net attention products and leaves unbatched or tiny ones to the stock kernel', () => {
    expect(batchMatMulPlan([32, 49, 32], [32, 49, 32], false, true)?.batch).toBe(32); // q kᵀ
    expect(batchMatMulPlan([32, 49, 49], [32, 49, 32], false, false)?.batch).toBe(32); // weights v
    expect(batchMatMulPlan([32, 49, 49], [32, 49, 32], true, false)?.batch).toBe(32); // ∂v
    expect(batchMatMulPlan([1, 64, 32], [1, 32, 16], false, false)).toBeNull(); // unbatched: XNNPACK already
    expect(batchMatMulPlan([64, 8, 8], [64, 8, 8], false, true)).toBeNull(); // 512 multiply-adds per item
    expect(batchMatMulPlan([2, 3, 40, 40], [3, 40, 40], false, false)).toBeNull(); // ranks differ
  });

  const cases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
    { a: [32, 49, 32], b: [32, 49, 32], ta: false, tb: true }, // q kᵀ, the U-Net's 7×7 self-attention
    { a: [32, 49, 49], b: [32, 49, 32], ta: false, tb: false }, // softmax · v
    { a: [32, 49, 49], b: [32, 49, 32], ta: true, tb: false }, // ∂v = weightsᵀ · dOut
    { a: [4, 40, 33], b: [4, 40, 35], ta: true, tb: false },
    { a: [3, 30, 40], b: [3, 50, 40], ta: false, tb: true },
    { a: [2, 30, 40], b: [2, 50, 30], ta: true, tb: true },
    { a: [2, 3, 40, 36], b: [2, 3, 36, 24], ta: false, tb: false }, // rank 4 (batch × heads)
    { a: [5, 40, 36], b: [1, 36, 24], ta: false, tb: false }, // one right operand for every item
    { a: [1, 40, 36], b: [5, 36, 24], ta: false, tb: false }, // one left operand for every item
  ];
  for (const c of cases) {
    it(`matches a float64 reference for [${c.a}]${c.ta ? 'ᵀ' : ''} × [${c.b}]${c.tb ? 'ᵀ' : ''} and frees every intermediate`, async () => {
      const av = normals(1 + c.a.length, c.a.reduce((p, d) => p * d, 1));
      const bv = normals(7 + c.b.length, c.b.reduce((p, d) => p * d, 1));
      const a = tf.tensor(av, c.a);
      const b = tf.tensor(bv, c.b);
      const tensors = tf.memory().numTensors;
      const dataIds = tf.engine().backend.numDataIds();
      const y = tf.matMul(a, b, c.ta, c.tb);
      const ref = reference(av, c.a, bv, c.b, c.ta, c.tb);
      expect(y.size).toBe(ref.length);
      expect(maxAbsDiff(await y.data(), ref)).toBeLessThan(1e-4 * Math.sqrt(c.a[c.a.length - 1] + c.a[c.a.length - 2]));
      y.dispose();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.engine().backend.numDataIds()).toBe(dataIds);
      tf.dispose([a, b]);
    });
  }

  it('gives attention gradients equal to the cpu backend’s', async () => {
    const run = async () => {
      const q = tf.tensor3d(normals(1, 4 * 49 * 32), [4, 49, 32]);
      const k = tf.tensor3d(normals(2, 4 * 49 * 32), [4, 49, 32]);
      const v = tf.tensor3d(normals(3, 4 * 49 * 32), [4, 49, 32]);
      const f = tf.grads((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => tf.sum(tf.square(tf.matMul(tf.softmax(tf.matMul(qq, kk, false, true)), vv))));
      const gs = f([q, k, v]);
      const out = await Promise.all(gs.map((g) => g.data()));
      tf.dispose([q, k, v, ...gs]);
      return out;
    };
    const wasm = await run();
    await useBackend('cpu');
    const cpu = await run();
    await useBackend('wasm');
    for (let i = 0; i < 3; i++) {
      const scale = Math.max(1, ...Array.from(cpu[i], Math.abs));
      expect(maxAbsDiff(wasm[i], cpu[i])).toBeLessThan(1e-4 * scale);
    }
  });
});
