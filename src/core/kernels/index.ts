/**
 * Custom wasm kernels that make conv nets trainable on the wasm backend: it ships no Conv2DBackpropFilter,
 * its Conv2DBackpropInput is slow, its Identity copies every tensor tfjs saves for backprop, its SplitV (the
 * gradient of Concat) copies the whole input once per output, and its BatchMatMul runs batched products (attention)
 * as a naive loop. GroupNorm's per-channel arithmetic runs as one kernel each way (groupNormParams.ts).
 * Register once per process, after `@tensorflow/tfjs-backend-wasm` has been imported (importing it later
 * re-registers the stock kernels over these); re-registering is a no-op. initBackend does this for you.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batchMatMul';
import { conv2DBackpropFilterConfig, conv2DBackpropInputConfig } from './conv2dGrad';
import { groupNormAffineConfig, groupNormGradConfig } from './groupNormParams';
import { identityConfig } from './identity';
import { splitVConfig } from './splitV';
import { rememberStock } from './stock';

export { batchMatMul } from './batchMatMul';
export { conv2DBackpropFilter, conv2DBackpropInput } from './conv2dGrad';
export { GROUP_NORM_AFFINE, GROUP_NORM_GRAD, groupNormAffine, groupNormGrad } from './groupNormParams';
export { identity } from './identity';
export { splitV } from './splitV';

const CONFIGS: readonly tf.KernelConfig[] = [conv2DBackpropFilterConfig, conv2DBackpropInputConfig, identityConfig, splitVConfig, batchMatMulConfig, groupNormAffineConfig, groupNormGradConfig];

/** Whether our kernels are the ones tfjs will run for 'wasm'. */
export function wasmGradKernelsRegistered(): boolean {
  return CONFIGS.every((c) => tf.getKernel(c.kernelName, c.backendName)?.kernelFunc === c.kernelFunc);
}

/** Register (or re-register, replacing the stock ones) the custom wasm gradient kernels; idempotent. */
export function registerWasmGradKernels(): void {
  for (const config of CONFIGS) {
    const existing = tf.getKernel(config.kernelName, config.backendName);
    if (existing?.kernelFunc === config.kernelFunc) continue;
    // Some of ours hand cases back to wasm's own kernel (BatchMatMul: unbatched and tiny products).
    rememberStock(config.kernelName, existing);
    if (existing != null) tf.unregisterKernel(config.kernelName, config.backendName); // avoid the "already registered" warning
    tf.registerKernel(config);
  }
}
