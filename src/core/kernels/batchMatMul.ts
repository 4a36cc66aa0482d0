/**
 * BatchMatMul for wasm with a batch. The stock kernel hands XNNPACK's GEMM only an unbatched product without
 * transpose flags; anything else (every attention product: softmax(q kᵀ) v and its three gradients) runs a naive
 * triple loop, ~1 GFLOP/s. This kernel transposes a flagged operand once (one wasm Transpose of the whole batch) and
 * then runs XNNPACK's GEMM once per batch item on views into the heap: no copies, the result written in place.
 * Unbatched products, tiny items (where the per-call cost wins) and broadcasting other than a batch of 1 against a
 * batch of B go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dropView, heapOf, internals, makeView, shapeBytes, wasmMatMul } from './heap';
import { callStock, stockSetup } from './stock';

/** Multiply-adds per batch item below which the naive loop is as fast as a GEMM call. */
const MIN_ITEM_MACS = 16_384;


interface Plan {
  batch: number;
  m: number;
  k: number;
  n: number;
  /** Whether each operand steps through the batch (false: one matrix shared by every item). */
  stepA: boolean;
  stepB: boolean;
  outShape: number[];
}

/** How this kernel runs a product: per-item GEMMs on views ('views'), or the stock kernel. */
export function batchMatMulPlan(aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean): Plan | null {
  if (aShape.length < 3 || aShape.length !== bShape.length) return null;
  const outerA = aShape.slice(0, -2);
  const outerB = bShape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  const same = outerA.every((d, i) => d === outerB[i]);
  if (!same && batchA !== 1 && batchB !== 1) return null;
  const batch = Math.max(batchA, batchB);
  if (batch === 1) return null; // the stock kernel's XNNPACK path (or its own transposes) already
  const r = aShape.length;
  const m = transposeA ? aShape[r - 1] : aShape[r - 2];
  const k = transposeA ? aShape[r - 2] : aShape[r - 1];
  const kb = transposeB ? bShape[r - 1] : bShape[r - 2];
  const n = transposeB ? bShape[r - 2] : bShape[r - 1];
  if (k !== kb || m * k * n < MIN_ITEM_MACS) return null;
  const outer = batchA >= batchB ? outerA : outerB;
  return { batch, m, k, n, stepA: batchA > 1, stepB: batchB > 1, outShape: [...outer, m, n] };
}

export const batchMatMul: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const plan = a.dtype === 'float32' && b.dtype === 'float32' ? batchMatMulPlan(a.shape, b.shape, transposeA, transposeB) : null;
  if (!plan) return callStock(tf.BatchMatMul, args);
  const w = internals(backend);
  const { batch, m, k, n, stepA, stepB } = plan;
  const transposeKernel = tf.getKernel('Transpose', 'wasm') as tf.KernelConfig;
  const flip = (x: tf.TensorInfo, rows: number, cols: number) =>
    transposeKernel.kernelFunc({ inputs: { x: { ...x, shape: [tf.util.sizeFromShape(x.shape) / (rows * cols), rows, cols] } }, attrs: { perm: [0, 2, 1] }, backend }) as tf.TensorInfo;
  // Bring both operands to row-major [item, m, k] and [item, k, n].
  const aa = transposeA ? flip(a, k, m) : a;
  const bb = transposeB ? flip(b, n, k) : b;
  const out = w.makeOutput([batch, m, n], 'float32');
  const mm = wasmMatMul(w);
  const aBase = heapOf(w, aa).offset;
  const bBase = heapOf(w, bb).offset;
  const oBase = heapOf(w, out).offset;
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, n]);
  const views: number[] = [];
  try {
    // A shared right operand is one view for every item, so XNNPACK packs it once.
    const sharedB = stepB ? -1 : makeView(w, bBase, k * n);
    if (sharedB >= 0) views.push(sharedB);
    for (let i = 0; i < batch; i++) {
      const aId = makeView(w, aBase + (stepA ? i * m * k * 4 : 0), m * k);
      const bId = sharedB >= 0 ? sharedB : makeView(w, bBase + i * k * n * 4, k * n);
      const oId = makeView(w, oBase + i * m * n * 4, m * n);
      views.push(aId, oId);
      if (bId !== sharedB) views.push(bId);
      mm(aId, aShape, 3, bId, bShape, 3, false, false, oId);
    }
  } finally {
    for (const id of views) dropView(w, id);
    if (aa !== a) w.disposeData(aa.dataId);
    if (bb !== b) w.disposeData(bb.dataId);
  }
  return { dataId: out.dataId, shape: plan.outShape, dtype: 'float32' };
};

export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMul,
  setupFunc: stockSetup(tf.BatchMatMul),
};
