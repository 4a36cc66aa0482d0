/**
 * The tfjs backend ladder: try webgpu → webgl → wasm → cpu and keep the first that initialises and runs
 * a tiny op. Each backend package is imported lazily (dynamic import), so a page only downloads what it
 * uses and Node never evaluates browser-only code it does not need.
 *
 * wasm files: in Node the package's `main` is its Node bundle, which reads `tfjs-backend-wasm*.wasm` from
 * its own folder (`__dirname`), so Node callers pass no `wasmPaths`. A bundled page (Vite/Astro) must pass
 * them: import each `.wasm` with `?url` and give the map (or a folder prefix ending in '/') as `wasmPaths`.
 *
 * After a failure mid-run (e.g. a lost GPU device) call `fallbackBackend(failed)`: it initialises the next
 * backend down the ladder. Tensors that lived on the failed backend cannot be trusted; rebuild models from
 * their weights (see `getWeights`/`setWeights` in unet.ts) after switching.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmGradKernels } from './kernels';
import { BACKEND_NAMES, isBackendName, type BackendName } from './backendNames';

export type { BackendName } from './backendNames';

/** The default ladder, fastest first. */
export const BACKEND_ORDER: readonly BackendName[] = BACKEND_NAMES;

/** One rung's outcome, reported through `onAttempt`. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was skipped or failed (absent when ok). */
  error?: string;
  /** Wall time spent on this rung. */
  ms: number;
}

export interface InitBackendOptions {
  /** Backends to try, in order (default BACKEND_ORDER). */
  order?: readonly BackendName[];
  /** Where the wasm binaries live: a prefix ending in '/' or a map file name → URL (browser bundles only). */
  wasmPaths?: string | Record<string, string>;
  /** Give up on one rung after this long and try the next; the abandoned backend is removed from tfjs (default: wait). */
  timeoutMs?: number;
  /** Called once per rung tried, in order. */
  onAttempt?: (attempt: BackendAttempt) => void;
}

let wasmPathsSet = false;

/** Load a backend package on demand; importing it registers the backend with tfjs-core. */
async function importBackend(name: BackendName, opts: InitBackendOptions): Promise<void> {
  switch (name) {
    case 'webgpu':
      await import('@tensorflow/tfjs-backend-webgpu');
      return;
    case 'webgl':
      await import('@tensorflow/tfjs-backend-webgl');
      return;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (opts.wasmPaths !== undefined && !wasmPathsSet) {
        // Must precede the first wasm initialisation; later calls would not take effect anyway.
        wasm.setWasmPaths(opts.wasmPaths);
        wasmPathsSet = true;
      }
      return;
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number | undefined, what: string): Promise<T> {
  if (ms === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Run 1 + 2 on the active backend and read it back asynchronously; true when the answer is 3. */
async function smokeTest(): Promise<boolean> {
  const y = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)));
  try {
    const v = await y.data();
    return v[0] === 3;
  } finally {
    y.dispose();
  }
}

/** Try one backend: import, configure, setBackend, smoke test. Throws with the reason when it fails. */
async function tryBackend(name: BackendName, opts: InitBackendOptions): Promise<void> {
  await importBackend(name, opts);
  if (tf.findBackendFactory(name) == null) {
    throw new Error(`backend '${name}' did not register (unsupported environment)`);
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') resolved false`);
  if (name === 'wasm') registerWasmGradKernels();
  if (!(await smokeTest())) throw new Error(`backend '${name}' computed 1 + 2 wrongly`);
}

/**
 * Initialise the first backend of the ladder that works and make it active; resolves to its name.
 * Rejects only when every rung fails (the message lists each reason).
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendName> {
  const order = opts.order ?? BACKEND_ORDER;
  const reasons: string[] = [];
  for (const name of order) {
    const start = Date.now();
    try {
      await withTimeout(tryBackend(name, opts), opts.timeoutMs, `backend '${name}'`).catch((e: unknown) => {
        // A hung initialisation leaves tfjs's engine waiting on it forever (every op then throws
        // "not yet been initialized"); removing the backend is the public way to abandon it.
        if (tf.engine().backendName === name && tf.findBackendFactory(name) != null) tf.removeBackend(name);
        throw e;
      });
      opts.onAttempt?.({ name, ok: true, ms: Date.now() - start });
      return name;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      reasons.push(`${name}: ${error}`);
      opts.onAttempt?.({ name, ok: false, error, ms: Date.now() - start });
    }
  }
  throw new Error(`no tfjs backend could be initialised (${reasons.join('; ') || 'empty order'})`);
}

/** The rungs below `current` in `order` (empty when it is the last or not in the ladder). */
export function nextBackends(current: BackendName, order: readonly BackendName[] = BACKEND_ORDER): BackendName[] {
  const i = order.indexOf(current);
  return i < 0 ? [] : order.slice(i + 1);
}

/** After `failed` broke mid-run (e.g. GPU device lost), initialise the next working backend below it. */
export function fallbackBackend(failed: BackendName, opts: InitBackendOptions = {}): Promise<BackendName> {
  return initBackend({ ...opts, order: nextBackends(failed, opts.order ?? BACKEND_ORDER) });
}

/** The active backend's name as a BackendName, or null when tfjs runs something else or nothing yet. */
export function currentBackend(): BackendName | null {
  const name: unknown = tf.engine().backendName; // tf.getBackend() would initialise one
  return isBackendName(name) ? name : null;
}
