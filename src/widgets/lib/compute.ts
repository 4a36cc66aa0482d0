/**
 * The page's single connection to the compute worker. The worker (and with it tfjs) is created on the first
 * request, so pages load no tensor code until a widget asks for compute.
 *
 * `?backend=wasm` (or a comma-separated list such as `webgl,cpu`) in the page URL restricts the backend
 * ladder; unknown names are ignored. Without it, the backend the reader chose in a badge's menu (remembered in
 * localStorage under BACKEND_CHOICE_KEY) comes first; without either, the worker ranks the whole ladder itself
 * (a GPU on a software renderer goes below wasm: src/core/backends.ts).
 */
import { isBackendName, type BackendName } from '../../core/backendNames';
import type { BackendAttempt, BackendProbe } from '../../core/backends';
import type { ComputeApi, WorkerEvent } from '../../workers/api';
import { createClient, type Client, type Port } from '../../workers/rpc';
import { supervise, type WorkerLike } from './supervisor';

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

/** The wasm thread count asked for by `?threads=N` (1…16), or undefined (the worker chooses). */
export function threadsFromUrl(search: string): number | undefined {
  const n = Number(new URLSearchParams(search).get('threads'));
  return Number.isInteger(n) && n >= 1 && n <= 16 ? n : undefined;
}

/** localStorage key of the backend the reader chose in the badge's menu (read on every page). */
export const BACKEND_CHOICE_KEY = 'diffusion-lab:backend';

/** Where the page's backend order came from. */
export type BackendSource = 'url' | 'remembered' | 'auto';

/** The ladder for a remembered choice: the chosen backend, then wasm and cpu should it fail to start. */
export function rememberedOrder(choice: BackendName): BackendName[] {
  return [choice, ...(['wasm', 'cpu'] as const).filter((n) => n !== choice)];
}

/** The order a page asks the worker for: `?backend=` wins over the remembered choice; neither → the ranked default. */
export function backendRequest(search: string, remembered: string | null): { order?: BackendName[]; source: BackendSource } {
  const fromUrl = backendOrderFromUrl(search);
  if (fromUrl) return { order: fromUrl, source: 'url' };
  const choice = remembered?.trim().toLowerCase();
  if (isBackendName(choice)) return { order: rememberedOrder(choice), source: 'remembered' };
  return { source: 'auto' };
}

/** The reader's remembered backend, or null (no choice, or no storage). */
export function rememberedBackend(): BackendName | null {
  try {
    const v = globalThis.localStorage?.getItem(BACKEND_CHOICE_KEY)?.trim().toLowerCase();
    return isBackendName(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * Remember `choice` (null: back to the automatic choice) and reload the page with it applied; a `?backend=` in the
 * address would win over it, so it is dropped from the reloaded URL.
 */
export function switchBackend(choice: BackendName | null): void {
  try {
    if (choice) localStorage.setItem(BACKEND_CHOICE_KEY, choice);
    else localStorage.removeItem(BACKEND_CHOICE_KEY);
  } catch {
    /* no storage: the choice lasts this page only, through the URL */
  }
  const url = new URL(location.href);
  url.searchParams.delete('backend');
  if (choice && rememberedBackend() !== choice) url.searchParams.set('backend', rememberedOrder(choice).join(','));
  if (url.href === location.href) location.reload();
  else location.assign(url.href);
}

/** What the page knows about the worker's backend. */
export interface BackendState {
  backend: BackendName | null;
  /** Set after a fallback: which backend failed, why, and where compute went. */
  notice: string | null;
  /** Why the worker chose this backend, for the reader. */
  reason?: string;
  /** wasm: how many threads it runs (absent when unknown, e.g. after a fallback). */
  threads?: number;
  /** The rungs tried or skipped, and what the probes found. */
  attempts?: BackendAttempt[];
  probes?: BackendProbe[];
  /** Whether the order came from `?backend=`, the reader's remembered choice, or the worker's own ranking. */
  source?: BackendSource;
}

/** A Svelte-compatible store of the backend state that replays the current value to late subscribers. */
export interface BackendStore {
  subscribe(run: (state: BackendState) => void): () => void;
}

/** The connection over one port: the typed client and the backend store fed by the worker's events. */
export function connect(port: Port, order?: BackendName[], source?: BackendSource): { client: Client<ComputeApi>; backend: BackendStore & BackendNotices; ready: Promise<unknown> } {
  const client = createClient<ComputeApi>(port);
  const ready = client.request('init', { order });
  ready.catch(() => {});
  return { client, ready, backend: backendStateStore(client, source) };
}

/** Page-side notices the backend store shows beside the worker's own (a worker that stopped and was replaced). */
export interface BackendNotices {
  notify(notice: string): void;
}

/** The backend store fed by `client`'s events (a supervised client's events come from every worker it starts). */
export function backendStateStore(client: Pick<Client<ComputeApi>, 'onEvent'>, source?: BackendSource): BackendStore & BackendNotices {
  let state: BackendState = source ? { backend: null, notice: null, source } : { backend: null, notice: null };
  const subscribers = new Set<(s: BackendState) => void>();
  const publish = () => {
    for (const s of subscribers) s(state);
  };
  client.onEvent((data) => {
    const e = data as WorkerEvent;
    if (e?.type === 'backend') {
      state = { ...state, backend: e.backend, threads: e.backend === 'wasm' ? e.threads : undefined };
      if (e.reason !== undefined) state.reason = e.reason;
      if (e.probes !== undefined) state.probes = e.probes;
      if (e.attempts?.length) state.attempts = e.attempts;
    } else if (e?.type === 'fallback') {
      const notice = `${e.from} failed (${e.reason}); now running on ${e.to}.`;
      state = { ...state, backend: e.to, threads: undefined, notice, ...(state.reason !== undefined ? { reason: notice } : {}) };
    } else return;
    publish();
  });
  return {
    subscribe(run) {
      subscribers.add(run);
      run(state);
      return () => subscribers.delete(run);
    },
    notify(notice) {
      state = { ...state, notice };
      publish();
    },
  };
}

/** The page's connection: a supervised worker (replaced once if it dies or hangs), its backend store and order. */
export function supervisedConnection(spawn: () => WorkerLike, order?: BackendName[], source?: BackendSource, timing: { pingEveryMs?: number; silenceMs?: number } = {}, threads?: number) {
  let backend: (BackendStore & BackendNotices) | null = null;
  let ready: Promise<unknown> = Promise.resolve();
  const supervised = supervise<ComputeApi>({
    spawn,
    ...timing,
    // Every worker, the first and its replacement, starts its ladder in the page's order before any other request.
    onStart: (client) => {
      ready = client.request('init', threads ? { order, threads } : { order });
      ready.catch(() => {});
    },
    onStop: (reason, replaced) =>
      backend?.notify(
        replaced
          ? `The compute worker stopped (${reason}) and a new one took over; models load again on the next run.`
          : `The compute worker stopped again (${reason}); reload the page to compute here.`,
      ),
  });
  backend = backendStateStore(supervised.client, source);
  return {
    client: supervised.client,
    backend: backend as BackendStore,
    order,
    supervised,
    /** The latest worker's `init` (resolves once its backend is ready). */
    get ready() {
      return ready;
    },
  };
}

let connection: ReturnType<typeof supervisedConnection> | null = null;

/** Test-only faults (`?test-faults` in the page URL): the worker honours them only when its name carries the flag. */
export const TEST_FAULTS_FLAG = 'test-faults';

/** The page's connection, made on first use. */
function pageConnection(): ReturnType<typeof supervisedConnection> {
  if (!connection) {
    const testFaults = new URLSearchParams(location.search).has(TEST_FAULTS_FLAG);
    const name = testFaults ? `diffusion-lab-compute ${TEST_FAULTS_FLAG}` : 'diffusion-lab-compute';
    const spawn = () => {
      const worker = new Worker(new URL('../../workers/compute.worker.ts', import.meta.url), { type: 'module', name });
      worker.addEventListener('error', (e) => console.warn('compute worker error:', e.message));
      return worker as unknown as WorkerLike;
    };
    const { order, source } = backendRequest(location.search, rememberedBackend());
    const c = supervisedConnection(spawn, order, source, {}, threadsFromUrl(location.search));
    connection = c;
    // A handle for the console and the end-to-end tests: tensor counts, the backend in use, any request (with its progress).
    const handle: Record<string, unknown> = {
      memory: () => c.client.request('memory', {}),
      backend: () => c.client.request('init', {}),
      request: (kind: keyof ComputeApi, params: unknown, onProgress?: (data: unknown) => void) =>
        c.client.request(kind, params as never, onProgress ? { onProgress: onProgress as never } : undefined),
      /** How many compute workers this page has started. */
      workers: () => c.supervised.generation,
    };
    // Only with ?test-faults: make the current worker throw, hang or trap (compute.worker.ts honours it only then).
    if (testFaults) handle.fault = (mode: 'throw' | 'hang' | 'trap', ms?: number) => c.supervised.worker()?.postMessage({ type: 'test-fault', mode, ms });
    (globalThis as unknown as { diffusionLab?: object }).diffusionLab = handle;
  }
  return connection;
}

/** The shared client; creates the worker and starts backend initialisation on first use. */
export function compute(): Client<ComputeApi> {
  return pageConnection().client;
}

/**
 * Resolves with the backend in use once the worker is ready. Asks again each time (with the page's order): a
 * failed start (the wasm binary did not arrive) is not kept, so a later call after reconnecting tries once more.
 */
export async function computeReady(): Promise<ComputeApi['init']['result']> {
  const c = pageConnection();
  await c.ready.catch(() => {});
  return c.client.request('init', { order: c.order });
}

/** The backend store of the page's worker (replays the current backend to each new subscriber). */
export function backendStore(): BackendStore {
  return pageConnection().backend;
}
