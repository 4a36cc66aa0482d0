/**
 * The one notebook kernel of a page (all cells of a lesson share it): its worker runs in the kernel frame
 * (./kernelFrame.ts), the built single-file kernel worker is fetched from the site once and handed to the frame
 * as a Blob, and the kernel's file requests are served from the site's models/, the MNIST file and tfjs's three
 * wasm binaries only.
 */
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import kernelWorkerUrl from '../../workers/kernel.worker.ts?worker&url';
import { KERNEL_FRAME_PATH } from '../../lib/kernelFramePolicy';
import { backendRequest, rememberedBackend } from '../lib/compute';
import { Kernel, type WorkerLike } from './kernel';
import { KernelFrameWorker, serveKernelFile } from './kernelFrame';

const wasmUrls: Record<string, string> = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
};

let pageKernel: Kernel | null = null;
let code: Promise<Blob> | null = null;

/**
 * The kernel worker's code, fetched once (again after a failure): the built single-file bundle (no imports, no
 * exports: astro.config.mjs keeps its dynamic imports inline), wrapped in a strict-mode function because the frame
 * starts it as a classic worker (see frameBootstrap.js), where its top-level names would otherwise be globals that
 * cell code could read.
 */
function kernelCode(): Promise<Blob> {
  code ??= fetch(new URL(kernelWorkerUrl, location.href))
    .then((res) => {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return res.blob();
    })
    .then((b) => new Blob(['(function () {\n"use strict";\n', b, '\n})();\n'], { type: 'text/javascript' }));
  code.catch(() => (code = null));
  return code;
}

/** The one kernel of this page (all cells of a lesson share it). */
export function kernel(): Kernel {
  const siteRoot = new URL(import.meta.env.BASE_URL ?? '/', location.origin).href;
  pageKernel ??= new Kernel(
    () =>
      new KernelFrameWorker({
        code: kernelCode,
        controlled: () => !!navigator.serviceWorker?.controller,
        document,
        window,
        frameUrl: new URL(KERNEL_FRAME_PATH.replace(/^\//, ''), siteRoot).href,
      }) as WorkerLike,
    { type: 'init', order: backendRequest(location.search, rememberedBackend()).order, root: siteRoot },
    undefined,
    (msg) => serveKernelFile(msg, siteRoot, wasmUrls),
  );
  return pageKernel;
}
