/**
 * Custom wasm kernels that make conv nets trainable on the wasm backend (it ships no Conv2DBackpropFilter,
 * and its Conv2DBackpropInput is slow). Register once per process; re-registering is a no-op.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig, conv2DBackpropInputConfig } from './conv2dGrad';

export { conv2DBackpropFilter, conv2DBackpropInput } from './conv2dGrad';

const CONFIGS: readonly tf.KernelConfig[] = [conv2DBackpropFilterConfig, conv2DBackpropInputConfig];

/** Whether our kernels are the ones tfjs will run for 'wasm'. */
export function wasmGradKernelsRegistered(): boolean {
  return CONFIGS.every((c) => tf.getKernel(c.kernelName, c.backendName)?.kernelFunc === c.kernelFunc);
}

/** Register (or re-register, replacing the stock ones) the custom wasm gradient kernels; idempotent. */
export function registerWasmGradKernels(): void {
  for (const config of CONFIGS) {
    const existing = tf.getKernel(config.kernelName, config.backendName);
    if (existing?.kernelFunc === config.kernelFunc) continue;
    if (existing != null) tf.unregisterKernel(config.kernelName, config.backendName); // avoid the "already registered" warning
    tf.registerKernel(config);
  }
}
