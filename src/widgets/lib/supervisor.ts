/**
 * Keeps the page's compute worker alive, or says plainly that it is not (framework-free; no tfjs).
 *
 * A worker is dead when it fires `error` (an uncaught error in it, a wasm trap that escaped), `messageerror`, or —
 * while requests are pending, and once it has answered at all — leaves a ping unanswered for `silenceMs` (its message loop answers pings
 * between the steps of a long run, rpc.ts `serve`). A dead worker is terminated, every pending request rejects with a
 * `WorkerStoppedError` that says what happened, and a new worker starts (the page sends it `init` again: same backend
 * order; models load again on first use). Only `maxRestarts` replacements happen in a page's life; after that every
 * request rejects with "reload the page". A worker that dies before it ever answered, without an error message, was
 * not loaded at all (its script did not arrive): that counts as a failed load, not a death, and the next request tries
 * a fresh one.
 */
import { createClient, type ApiShape, type Client, type Port } from '../../workers/rpc';

/** The part of a `Worker` the supervisor needs. */
export interface WorkerLike extends Port {
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (ev: MessageEvent & ErrorEvent) => void): void;
  terminate(): void;
}

/** A request failed because the worker computing it stopped; `replaced`: a new worker took over. */
export class WorkerStoppedError extends Error {
  constructor(
    message: string,
    readonly replaced: boolean,
  ) {
    super(message);
    this.name = 'WorkerStoppedError';
  }
}

/** The worker's script could not be loaded (the network dropped before it arrived); the next request tries again. */
export class WorkerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerLoadError';
  }
}

export interface SuperviseOptions<A extends ApiShape> {
  /** Create a worker. */
  spawn(): WorkerLike;
  /** Each new worker's client, before any request reaches it (the page sends `init` here). */
  onStart?(client: Client<A>, generation: number): void;
  /** A worker stopped: why, and whether a new one took over. */
  onStop?(reason: string, replaced: boolean): void;
  /** Send a ping this often while requests are pending (default 5 s). */
  pingEveryMs?: number;
  /** A ping unanswered this long while requests are pending means the worker hangs (default 20 s). */
  silenceMs?: number;
  /** Replacements allowed in the page's life (default 1). */
  maxRestarts?: number;
}

export interface Supervised<A extends ApiShape> {
  /** Forwards to the current worker; events of every worker reach `onEvent` listeners. */
  client: Client<A>;
  /** The worker in use (starting one when none is; null once workers stopped for good), for test hooks. */
  worker(): WorkerLike | null;
  /** How many workers have been started. */
  readonly generation: number;
}

interface Connection<A extends ApiShape> {
  worker: WorkerLike;
  client: Client<A>;
  /** It sent at least one message. */
  alive: boolean;
  dead: boolean;
}

/** Run requests on a worker from `spawn`, replacing it once when it dies or hangs. */
export function supervise<A extends ApiShape>(opts: SuperviseOptions<A>): Supervised<A> {
  const pingEvery = opts.pingEveryMs ?? 5_000;
  const silence = opts.silenceMs ?? 20_000;
  const maxRestarts = opts.maxRestarts ?? 1;
  const listeners = new Set<(data: unknown) => void>();
  let current: Connection<A> | null = null;
  let generation = 0;
  let restarts = 0;
  let finalError: WorkerStoppedError | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  /** When the unanswered ping was sent (null: none outstanding). */
  let outstanding: number | null = null;
  let lastTick = 0;
  let pings = 0;

  const stopTimer = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    outstanding = null;
  };

  const die = (conn: Connection<A>, reason: string, loadFailure = false) => {
    if (conn.dead || current !== conn) return;
    conn.dead = true;
    current = null;
    stopTimer();
    try {
      conn.worker.terminate();
    } catch {
      /* already gone */
    }
    if (loadFailure) {
      conn.client.failAll(new WorkerLoadError(`Could not load the compute worker's script (${reason}): the connection may have dropped; try again once you are back online, or reload the page`));
      opts.onStop?.(reason, false);
      return;
    }
    const replaced = restarts < maxRestarts;
    let error: WorkerStoppedError;
    if (replaced) {
      restarts++;
      error = new WorkerStoppedError(`The compute worker stopped (${reason}); a new one has started, so try again`, true);
    } else {
      error = finalError = new WorkerStoppedError(`The compute worker stopped again (${reason}); reload the page to compute here`, false);
    }
    conn.client.failAll(error);
    opts.onStop?.(reason, replaced);
    if (replaced) start();
  };

  const tick = () => {
    const conn = current;
    const now = Date.now();
    if (!conn || conn.client.pending() === 0) return stopTimer();
    const gap = now - lastTick;
    lastTick = now;
    // The page itself was held up (a background tab's throttled timers, a long task): judge from a fresh ping.
    if (gap > 2 * pingEvery) outstanding = null;
    // Silence counts only once the worker has answered at all: its script may still be arriving on a slow connection.
    if (conn.alive && outstanding !== null && now - outstanding >= silence) return die(conn, `it did not answer for ${Math.round(silence / 1000)} s`);
    if (outstanding === null) {
      outstanding = now;
      conn.worker.postMessage({ type: 'ping', n: ++pings });
    }
  };

  const arm = () => {
    if (timer !== null) return;
    lastTick = Date.now();
    timer = setInterval(tick, pingEvery);
  };

  function start(): Connection<A> {
    const worker = opts.spawn();
    const conn: Connection<A> = { worker, client: createClient<A>(worker), alive: false, dead: false };
    current = conn;
    generation++;
    worker.addEventListener('message', () => {
      conn.alive = true;
      if (current === conn) outstanding = null;
    });
    worker.addEventListener('error', (ev) => {
      const message = ev?.message;
      if (!message && !conn.alive) return die(conn, 'the script did not arrive', true);
      die(conn, message ? `an error in the worker: ${message}` : 'an error in the worker');
    });
    worker.addEventListener('messageerror', () => die(conn, 'a message from it could not be read'));
    conn.client.onEvent((data) => {
      for (const l of listeners) l(data);
    });
    opts.onStart?.(conn.client, generation);
    if (conn.client.pending() > 0) arm();
    return conn;
  }

  const client: Client<A> = {
    request(kind, params, ro) {
      if (finalError) return Promise.reject(finalError);
      const conn = current ?? start();
      const p = conn.client.request(kind, params, ro);
      arm();
      return p;
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    pending: () => current?.client.pending() ?? 0,
    failAll: (error) => current?.client.failAll(error),
  };

  return {
    client,
    worker: () => current?.worker ?? (finalError ? null : start().worker),
    get generation() {
      return generation;
    },
  };
}
