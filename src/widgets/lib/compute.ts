/**
 * The page's single connection to the compute worker. The worker (and with it tfjs) is created on the first
 * request, so pages load no tensor code until a widget asks for compute.
 *
 * `?backend=wasm` (or a comma-separated list such as `webgl,cpu`) in the page URL restricts the backend
 * ladder; unknown names are ignored.
 */
import { BACKEND_NAMES as KNOWN, type BackendName } from '../../core/backendNames';
import type { ComputeApi, WorkerEvent } from '../../workers/api';
import { createClient, isAbortError, type Client, type Port } from '../../workers/rpc';

/** Backends named in `?backend=`, in order, unknown names dropped. */
export function backendOrderFromUrl(search: string): BackendName[] | undefined {
  const raw = new URLSearchParams(search).get('backend');
  if (!raw) return undefined;
  const order = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s): s is BackendName => (KNOWN as readonly string[]).includes(s));
  return order.length ? [...new Set(order)] : undefined;
}

let client: Client<ComputeApi> | null = null;
let worker: Worker | null = null;
let initialised: Promise<unknown> | null = null;

/** The shared client; creates the worker and starts backend initialisation on first use. */
export function compute(): Client<ComputeApi> {
  if (!client) {
    worker = new Worker(new URL('../../workers/compute.worker.ts', import.meta.url), { type: 'module', name: 'diffusion-lab-compute' });
    client = createClient<ComputeApi>(worker as unknown as Port);
    worker.addEventListener('error', (e) => console.warn('compute worker error:', e.message));
    initialised = client.request('init', { order: backendOrderFromUrl(location.search) });
    initialised.catch(() => {});
    // A handle for the console and the end-to-end tests: tensor counts and the backend in use.
    (globalThis as unknown as { diffusionLab?: object }).diffusionLab = {
      memory: () => client!.request('memory', null),
      backend: () => client!.request('init', {}),
      request: (kind: keyof ComputeApi, params: unknown) => client!.request(kind, params as never),
    };
  }
  return client;
}

/** Resolves with the backend in use once the worker is ready. */
export async function computeReady(): Promise<ComputeApi['init']['result']> {
  const c = compute();
  await initialised;
  return c.request('init', {});
}

/** Subscribe to worker events (backend chosen, fallbacks); returns an unsubscribe function. */
export function onComputeEvent(listener: (event: WorkerEvent) => void): () => void {
  return compute().onEvent((data) => listener(data as WorkerEvent));
}

/**
 * The usual widget request: send it under `key` (a newer request with the same key cancels this one) and
 * route the outcome — `ok` with the result, `fail` with a readable message. A superseded (aborted) request
 * reports nothing, so only the latest settings ever reach the widget.
 */
export function latest<K extends keyof ComputeApi>(
  kind: K,
  params: ComputeApi[K]['params'],
  key: string,
  handlers: {
    ok(result: ComputeApi[K]['result']): void;
    fail(message: string): void;
    onProgress?: (data: ComputeApi[K] extends { progress: infer P } ? P : never) => void;
  },
): void {
  compute()
    .request(kind, params, { key, onProgress: handlers.onProgress as never })
    .then(handlers.ok, (e: unknown) => {
      if (!isAbortError(e)) handlers.fail(e instanceof Error ? e.message : String(e));
    });
}
