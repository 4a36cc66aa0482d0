/// <reference lib="webworker" />
/**
 * What both workers (compute and the notebook kernel) need to start tfjs: the site root where data/ and
 * models/ live, the wasm binaries' URLs for the backend ladder, and how to tell a broken backend from a
 * failed request.
 */
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

/** The site's root URL (Astro's `base`), where data/ and models/ live. */
export const siteRoot = new URL(import.meta.env.BASE_URL ?? '/', (self as unknown as WorkerGlobalScope).location.origin).href;

export const wasmPaths = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
};

/** A shipped model's folder URL; only plain names (no paths, no other origins). */
export function modelUrl(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(name)) throw new Error(`"${name}" is not a model name`);
  return new URL(`models/${name}/`, siteRoot).href;
}

/** Errors that mean the backend itself broke (a lost GPU device, a context loss), not the request. */
export function isBackendFailure(e: unknown): boolean {
  const msg = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /device (was )?lost|context (was )?lost|CONTEXT_LOST|GPUDevice|webgl.*(lost|fail)|out of memory/i.test(msg);
}
