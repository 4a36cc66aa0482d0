/**
 * The page's single connection to the compute worker. The worker (and with it tfjs) is created on the first
 * request, so pages load no tensor code until a widget asks for compute.
 *
 * `?backend=wasm` (or a comma-separated list such as `webgl,cpu`) in the page URL restricts the backend
 * ladder; unknown names are ignored.
 */
import { isBackendName, type BackendName } from '../../core/backendNames';
import type { ComputeApi, WorkerEvent } from '../../workers/api';
import { createClient, type Client, type Port } from '../../workers/rpc';

/** Backends named in `?backend=`, in order, unknown names dropped. */
export function backendOrderFromUrl(search: string): BackendName[] | undefined {
  const raw = new URLSearchParams(search).get('backend');
  if (!raw) return undefined;
  const order = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(isBackendName);
  return order.length ? [...new Set(order)] : undefined;
}

/** What the page knows about the worker's backend. */
export interface BackendState {
  backend: BackendName | null;
  /** Set after a fallback: which backend failed, why, and where compute went. */
  notice: string | null;
}

/** A Svelte-compatible store of the backend state that replays the current value to late subscribers. */
export interface BackendStore {
  subscribe(run: (state: BackendState) => void): () => void;
}

/** The connection over one port: the typed client and the backend store fed by the worker's events. */
export function connect(port: Port, order?: BackendName[]): { client: Client<ComputeApi>; backend: BackendStore; ready: Promise<unknown> } {
  const client = createClient<ComputeApi>(port);
  let state: BackendState = { backend: null, notice: null };
  const subscribers = new Set<(s: BackendState) => void>();
  client.onEvent((data) => {
    const e = data as WorkerEvent;
    if (e?.type === 'backend') state = { backend: e.backend, notice: state.notice };
    else if (e?.type === 'fallback') state = { backend: e.to, notice: `${e.from} failed (${e.reason}); now running on ${e.to}.` };
    else return;
    for (const s of subscribers) s(state);
  });
  const ready = client.request('init', { order });
  ready.catch(() => {});
  return {
    client,
    ready,
    backend: {
      subscribe(run) {
        subscribers.add(run);
        run(state);
        return () => subscribers.delete(run);
      },
    },
  };
}

let connection: ReturnType<typeof connect> | null = null;

/** The page's connection, made on first use. */
function pageConnection(): ReturnType<typeof connect> {
  if (!connection) {
    const worker = new Worker(new URL('../../workers/compute.worker.ts', import.meta.url), { type: 'module', name: 'diffusion-lab-compute' });
    worker.addEventListener('error', (e) => console.warn('compute worker error:', e.message));
    const c = connect(worker as unknown as Port, backendOrderFromUrl(location.search));
    connection = c;
    // A handle for the console and the end-to-end tests: tensor counts and the backend in use.
    (globalThis as unknown as { diffusionLab?: object }).diffusionLab = {
      memory: () => c.client.request('memory', {}),
      backend: () => c.client.request('init', {}),
      request: (kind: keyof ComputeApi, params: unknown) => c.client.request(kind, params as never),
    };
  }
  return connection;
}

/** The shared client; creates the worker and starts backend initialisation on first use. */
export function compute(): Client<ComputeApi> {
  return pageConnection().client;
}

/** Resolves with the backend in use once the worker is ready. */
export async function computeReady(): Promise<ComputeApi['init']['result']> {
  const c = pageConnection();
  await c.ready;
  return c.client.request('init', {});
}

/** The backend store of the page's worker (replays the current backend to each new subscriber). */
export function backendStore(): BackendStore {
  return pageConnection().backend;
}
