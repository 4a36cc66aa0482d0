/**
 * SplitV for wasm without the stock kernel's copies. The stock kernel slices once per output, and each slice
 * first copies the whole input out of the wasm heap (`readSync`), then gathers the rows in JavaScript. tfjs
 * runs SplitV as the gradient of every Concat, so the U-Net's skip connections paid for two full copies of
 * their widest activation per backward pass. This one reads the input in place and copies each output's
 * rows straight from the heap.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The parts of the wasm backend this kernel uses. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export const splitV: tf.KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = anyBackend as unknown as WasmHeapBackend;
  const { x } = inputs as { x: tf.TensorInfo };
  const { numOrSizeSplits, axis } = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number | number[] };
  if (x.dtype === 'string') throw new Error('SplitV (wasm, custom): string tensors are not supported');
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
  const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
  const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
  const rowLen = x.shape[ax] * inner;
  let offset = 0;
  return sizes.map((s) => {
    const shape = [...x.shape];
    shape[ax] = s;
    const out = backend.makeOutput(shape, x.dtype);
    const block = s * inner;
    if (block > 0 && outer > 0) {
      // Views are taken after makeOutput: allocating may grow (and so detach) the heap.
      const src = backend.typedArrayFromHeap(x);
      const dst = backend.typedArrayFromHeap(out);
      if (outer === 1) {
        dst.set(src.subarray(offset, offset + block));
      } else if (block >= 64) {
        for (let o = 0; o < outer; o++) dst.set(src.subarray(o * rowLen + offset, o * rowLen + offset + block), o * block);
      } else {
        for (let o = 0, d = 0; o < outer; o++) {
          const base = o * rowLen + offset;
          for (let j = 0; j < block; j++) dst[d++] = src[base + j];
        }
      }
    }
    offset += block;
    return out;
  });
};

export const splitVConfig: tf.KernelConfig = {
  kernelName: tf.SplitV,
  backendName: 'wasm',
  kernelFunc: splitV,
};
