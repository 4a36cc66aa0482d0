/// <reference lib="webworker" />
/**
 * What both workers (compute and the notebook kernel) need to start tfjs in a page: the site root where data/
 * and models/ live, and the wasm binaries' URLs for the backend ladder.
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
