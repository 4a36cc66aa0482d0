/**
 * wasm's own kernels that ours replace but still hand some cases to (registerWasmGradKernels records them before
 * replacing them). A replaced stock kernel's setupFunc (binding its C function) never runs for a backend started
 * later, so ours call it from their own setupFunc (stockSetup).
 */
import type * as tf from '@tensorflow/tfjs-core';

const stock = new Map<string, tf.KernelConfig>();

/** Record the kernel registered for `name` before ours replaces it. */
export function rememberStock(name: string, config: tf.KernelConfig | undefined): void {
  if (config) stock.set(name, config);
}

/** Run wasm's own kernel for `name`. */
export function callStock(name: string, args: Parameters<tf.KernelFunc>[0]): ReturnType<tf.KernelFunc> {
  const config = stock.get(name);
  if (!config) throw new Error(`${name} (wasm, custom): wasm's own kernel is not known; call registerWasmGradKernels()`);
  return config.kernelFunc(args);
}

/** A setupFunc that runs the stock kernel's. */
export const stockSetup =
  (name: string): NonNullable<tf.KernelConfig['setupFunc']> =>
  (backend) => {
    stock.get(name)?.setupFunc?.(backend);
  };
