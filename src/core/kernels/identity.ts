/**
 * A zero-copy Identity for wasm. tfjs clones every tensor it saves for the backward pass (engine
 * `saveTensorsForBackwardMode`, `customGrad`'s save); wasm's stock Identity copies the data, cpu's and
 * webgl's only add a reference. Tensor data is immutable (Variable.assign swaps data ids), so sharing is
 * safe; this saves a full copy of every saved activation per training step.
 */
import * as tf from '@tensorflow/tfjs-core';

export const identity: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  if (x.dtype === 'string') throw new Error('Identity (wasm, custom): string tensors are not supported');
  (backend as tf.KernelBackend & { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identity,
};
