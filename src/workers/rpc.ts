/**
 * A small typed request/response protocol between the page and the compute worker (framework-free, no tfjs).
 *
 * Page → worker: `{ type: 'request', id, kind, params }`, `{ type: 'cancel', id }` and `{ type: 'ping', n }`.
 * Worker → page: `{ type: 'progress', id, data }`, `{ type: 'result', id, data }`,
 *                `{ type: 'error', id, name, message }`, unsolicited `{ type: 'event', data }` and `{ type: 'pong', n }`
 *                (answered from the message loop, so a worker busy in a handler that yields between steps still answers;
 *                the page's heartbeat, src/widgets/lib/supervisor.ts, replaces a worker that stops answering).
 *
 * Every request has an id; one message listener on each side routes by id. A request made with a `key`
 * supersedes the previous pending request with the same key (stale slider positions are cancelled). Typed
 * arrays in results travel as transferables, so nothing is copied.
 */

/** The catalogue of requests a worker serves: kind → params, result and progress payloads. */
export type ApiShape = Record<string, { params: unknown; result: unknown; progress?: unknown }>;

export type Kind<A extends ApiShape> = keyof A & string;
type Progress<A extends ApiShape, K extends Kind<A>> = A[K] extends { progress: infer P } ? P : never;

export type ToWorker =
  | { type: 'request'; id: number; kind: string; params: unknown }
  | { type: 'cancel'; id: number }
  | { type: 'ping'; n: number };

export type FromWorker =
  | { type: 'progress'; id: number; data: unknown }
  | { type: 'result'; id: number; data: unknown }
  | { type: 'error'; id: number; name: string; message: string }
  | { type: 'event'; data: unknown }
  | { type: 'pong'; n: number };

/** The part of Worker / MessagePort / DedicatedWorkerGlobalScope the protocol needs. */
export interface Port {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
}

/** The error a cancelled request rejects with (same name as DOM's AbortError). */
export function abortError(message = 'The request was cancelled.'): Error {
  const err = new Error(message);
  err.name = 'AbortError';
  return err;
}

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

/** Every ArrayBuffer reachable from `value` through plain objects and arrays (each once). */
export function transferables(value: unknown, found: Set<ArrayBuffer> = new Set()): ArrayBuffer[] {
  if (value instanceof ArrayBuffer) found.add(value);
  else if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) found.add(value.buffer);
  } else if (Array.isArray(value)) for (const v of value) transferables(v, found);
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) transferables(v, found);
  }
  return [...found];
}

export interface RequestOptions<P> {
  /** Cancels the request when aborted. */
  signal?: AbortSignal;
  /** Receives progress events. */
  onProgress?: (data: P) => void;
  /** A newer request with the same key cancels this one. */
  key?: string;
}

export interface Client<A extends ApiShape> {
  request<K extends Kind<A>>(kind: K, params: A[K]['params'], opts?: RequestOptions<Progress<A, K>>): Promise<A[K]['result']>;
  /** Listen to unsolicited worker events (backend changes, notices); returns an unsubscribe function. */
  onEvent(listener: (data: unknown) => void): () => void;
  /** Number of requests still waiting for an answer. */
  pending(): number;
  /** Reject every pending request with `error` (the worker behind the port is gone); nothing is sent to it. */
  failAll(error: Error): void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (data: never) => void;
  key?: string;
  cleanup(): void;
}

/** The page side: one listener on `port`, requests routed by id. */
export function createClient<A extends ApiShape>(port: Port): Client<A> {
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const byKey = new Map<string, number>();
  const listeners = new Set<(data: unknown) => void>();

  const settle = (id: number): Pending | undefined => {
    const p = pending.get(id);
    if (!p) return undefined;
    pending.delete(id);
    if (p.key !== undefined && byKey.get(p.key) === id) byKey.delete(p.key);
    p.cleanup();
    return p;
  };
  const cancel = (id: number, reason?: string) => {
    const p = settle(id);
    if (!p) return;
    port.postMessage({ type: 'cancel', id } satisfies ToWorker);
    p.reject(abortError(reason));
  };

  port.addEventListener('message', (ev: MessageEvent) => {
    const msg = ev.data as FromWorker;
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'event') {
      for (const l of listeners) l(msg.data);
      return;
    }
    if (msg.type === 'progress') {
      pending.get(msg.id)?.onProgress?.(msg.data as never);
      return;
    }
    if (msg.type === 'result') settle(msg.id)?.resolve(msg.data);
    else if (msg.type === 'error') {
      const err = new Error(msg.message);
      err.name = msg.name;
      settle(msg.id)?.reject(err);
    }
  });

  return {
    request(kind, params, opts = {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        if (opts.signal?.aborted) return reject(abortError());
        if (opts.key !== undefined) {
          const previous = byKey.get(opts.key);
          if (previous !== undefined) cancel(previous, 'Superseded by a newer request.');
          byKey.set(opts.key, id);
        }
        const onAbort = () => cancel(id);
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        pending.set(id, {
          resolve,
          reject,
          onProgress: opts.onProgress as ((data: never) => void) | undefined,
          key: opts.key,
          cleanup: () => opts.signal?.removeEventListener('abort', onAbort),
        });
        port.postMessage({ type: 'request', id, kind, params } satisfies ToWorker);
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    pending: () => pending.size,
    failAll(error) {
      for (const id of [...pending.keys()]) settle(id)?.reject(error);
    },
  };
}

/** What a handler gets besides its params. */
export interface HandlerContext<P> {
  /** Aborted when the page cancels the request (or supersedes it). */
  signal: AbortSignal;
  /** Send a progress event (typed arrays in it are transferred). */
  progress(data: P): void;
}

/** What a handler receives: the catalogue's clean params when it declares them, else the params as sent. */
type CleanParams<A extends ApiShape, K extends Kind<A>> = A[K] extends { clean: infer C } ? C : A[K]['params'];

export type Handlers<A extends ApiShape> = {
  [K in Kind<A>]: (params: CleanParams<A, K>, ctx: HandlerContext<Progress<A, K>>) => Promise<A[K]['result']> | A[K]['result'];
};

export interface ServeOptions {
  /** Validates and cleans a request's params before its handler runs; throws (with a message naming the parameter) to refuse it. */
  clean?: (kind: string, params: unknown) => unknown;
}

/** The worker side: serve `handlers` on `port`; returns a function to broadcast unsolicited events. */
export function serve<A extends ApiShape>(port: Port, handlers: Handlers<A>, opts: ServeOptions = {}): (data: unknown) => void {
  const running = new Map<number, AbortController>();
  port.addEventListener('message', (ev: MessageEvent) => {
    const msg = ev.data as ToWorker;
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'cancel') {
      running.get(msg.id)?.abort();
      return;
    }
    if (msg.type === 'ping') {
      port.postMessage({ type: 'pong', n: msg.n } satisfies FromWorker);
      return;
    }
    if (msg.type !== 'request') return;
    const { id, kind, params } = msg;
    const controller = new AbortController();
    running.set(id, controller);
    const handler = (handlers as unknown as Record<string, (params: unknown, ctx: HandlerContext<never>) => unknown>)[kind];
    const ctx: HandlerContext<never> = {
      signal: controller.signal,
      progress: (data) => {
        if (!controller.signal.aborted) port.postMessage({ type: 'progress', id, data } satisfies FromWorker, transferables(data));
      },
    };
    Promise.resolve()
      .then(() => {
        if (!handler || !Object.prototype.hasOwnProperty.call(handlers, kind)) throw new Error(`The compute worker has no request kind '${kind}'.`);
        return handler((opts.clean ? opts.clean(kind, params) : params) as never, ctx);
      })
      .then(
        (data) => {
          if (controller.signal.aborted) return; // the page has already rejected it
          port.postMessage({ type: 'result', id, data } satisfies FromWorker, transferables(data));
        },
        (e: unknown) => {
          if (controller.signal.aborted) return;
          const err = e instanceof Error ? e : new Error(String(e));
          port.postMessage({ type: 'error', id, name: err.name, message: err.message } satisfies FromWorker);
        },
      )
      .finally(() => running.delete(id));
  });
  return (data) => port.postMessage({ type: 'event', data } satisfies FromWorker, transferables(data));
}
