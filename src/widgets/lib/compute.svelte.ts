/**
 * The one way a widget computes (Svelte 5 runes; call these while the component initialises):
 *
 * - `urlState(id, WIDGET_STATE.x)`: a reactive object read from the URL (clamped, never throwing) and written back
 *   on every change;
 * - `useCompute()`: the widget's status ('idle' on the server, then 'loading', 'ready' or 'error') and error
 *   message, with `request()` for requests the widget starts itself (a superseded or cancelled request resolves
 *   to undefined; a failure sets the error and resolves to undefined) and `auto()` for a request that re-runs
 *   whenever the values its params read change, the stale run cancelled by its key.
 *
 * Effects never run on the server, so the server-rendered HTML shows the static state and nothing is requested
 * before hydration.
 *
 * A failure the reader can mend by trying again — a file that did not arrive, a compute worker that stopped and was
 * replaced (src/widgets/lib/failures.ts) — keeps what failed (an auto run with its params, the backend wait):
 * `retry()` sends it again, the widget's frame (ui/Widget.svelte, through the RETRY_CONTEXT this registers) shows
 * a "Try again" button, and a failed load is retried by itself when `window` fires `online`.
 */
import { getContext, setContext, untrack } from 'svelte';
import type { ComputeApi, RequestKind } from '../../workers/api';
import { isAbortError, type RequestOptions } from '../../workers/rpc';
import { compute, computeReady } from './compute';
import { decodeStaticDigits } from './digits';
import { describeFailure, type FailureKind } from './failures';
import { defineUrlState, type StateOf, type UrlSpecs } from './urlState';

export type Status = 'idle' | 'loading' | 'ready' | 'error';
type Params<K extends RequestKind> = ComputeApi[K]['params'];
type Result<K extends RequestKind> = ComputeApi[K]['result'];
type ProgressOf<K extends RequestKind> = ComputeApi[K] extends { progress: infer P } ? P : never;

/** A widget's URL state: read once from the URL, written back (replaceState) whenever a value changes. */
export function urlState<S extends UrlSpecs>(id: string, specs: S): StateOf<S> {
  const url = defineUrlState(id, specs);
  const state = $state(url.read(typeof location === 'undefined' ? '' : location.search));
  $effect(() => url.write({ ...state }));
  return state;
}

export interface AutoRequest<K extends RequestKind> {
  /** The latest result (kept while a newer run is pending). */
  readonly result: Result<K> | null;
  /** The params `result` was computed from. */
  readonly resultParams: Params<K> | null;
  /** The latest progress report of the pending run, null when none. */
  readonly progress: ProgressOf<K> | null;
  /** A run is in flight. */
  readonly pending: boolean;
}

/** What a widget's frame needs to offer "Try again" (every `useCompute` of a component registers one). */
export interface Retry {
  /** The error can be mended by sending the failed requests again. */
  readonly retryable: boolean;
  /** Send them again. */
  retry(): void;
}

/** The context key under which a component's `useCompute`s list their `Retry`s for its Widget frame. */
export const RETRY_CONTEXT = Symbol.for('diffusion-lab:retry');

/** The `Retry`s of the component being initialised (empty outside one). */
export function retryContext(): readonly Retry[] {
  try {
    return getContext<Retry[] | undefined>(RETRY_CONTEXT) ?? [];
  } catch {
    return []; // outside a component (unit tests)
  }
}

function registerRetry(retry: Retry): void {
  try {
    const list = getContext<Retry[] | undefined>(RETRY_CONTEXT) ?? [];
    list.push(retry);
    setContext(RETRY_CONTEXT, list);
  } catch {
    /* outside a component (unit tests): no frame to show a button */
  }
}

export interface Compute extends Retry {
  readonly status: Status;
  readonly error: string | null;
  /** What kind of failure `error` is (null when there is none). */
  readonly failure: FailureKind | null;
  /** Send one request; undefined when it was superseded, cancelled or failed (the failure is in `error`). */
  request<K extends RequestKind>(kind: K, params: Params<K>, opts?: RequestOptions<ProgressOf<K>>): Promise<Result<K> | undefined>;
  /** Re-send `kind` under `key` whenever what `params()` reads changes (null: send nothing). */
  auto<K extends RequestKind>(kind: K, key: string, params: () => Params<K> | null): AutoRequest<K>;
}

/**
 * The widget's compute state. `waitForBackend`: the widget is 'ready' as soon as the worker's backend is (for
 * widgets that compute on a button press); otherwise it becomes 'ready' with its first result.
 */
export function useCompute(opts: { waitForBackend?: boolean } = {}): Compute {
  let status = $state<Status>('idle');
  let error = $state<string | null>(null);
  let failure = $state<FailureKind | null>(null);
  /** What to send again, by slot (an auto run's key, 'ready' for the backend wait), while a mendable error shows. */
  const again = new Map<string, () => void>();
  let retryable = $state(false);

  const fail = (e: unknown, resend?: { slot: string; run: () => void }) => {
    const f = describeFailure(e);
    status = 'error';
    error = f.message;
    failure = f.kind;
    if (resend && f.kind !== 'other') again.set(resend.slot, resend.run);
    retryable = again.size > 0;
  };
  const succeeded = (slot?: string) => {
    status = 'ready';
    error = null;
    failure = null;
    if (slot !== undefined) again.delete(slot);
    retryable = false;
  };

  function retry() {
    const runs = [...again.values()];
    again.clear();
    retryable = false;
    if (!runs.length) return;
    error = null;
    failure = null;
    status = 'loading';
    for (const run of runs) run();
  }

  const whenReady = () => {
    computeReady().then(
      () => {
        if (status === 'loading') succeeded('ready');
      },
      (e) => fail(e, { slot: 'ready', run: whenReady }),
    );
  };
  if (opts.waitForBackend) {
    $effect(() => {
      untrack(() => {
        if (status === 'idle') status = 'loading';
      });
      whenReady();
    });
  }

  // Back online: a load that failed while the connection was down goes again by itself.
  $effect(() => {
    const online = () => {
      if (failure === 'load') retry();
    };
    window.addEventListener('online', online);
    return () => window.removeEventListener('online', online);
  });

  async function send<K extends RequestKind>(
    kind: K,
    params: Params<K>,
    ro: RequestOptions<ProgressOf<K>>,
    resend?: { slot: string; run: () => void },
  ): Promise<Result<K> | undefined> {
    if (status === 'idle') status = 'loading';
    try {
      const r = await compute().request(kind, params, ro as never);
      succeeded(resend?.slot);
      return r;
    } catch (e) {
      if (!isAbortError(e)) fail(e, resend);
      return undefined;
    }
  }

  function request<K extends RequestKind>(kind: K, params: Params<K>, ro: RequestOptions<ProgressOf<K>> = {}): Promise<Result<K> | undefined> {
    return send(kind, params, ro);
  }

  function auto<K extends RequestKind>(kind: K, key: string, params: () => Params<K> | null): AutoRequest<K> {
    let result = $state.raw<Result<K> | null>(null);
    let resultParams = $state.raw<Params<K> | null>(null);
    let progress = $state.raw<ProgressOf<K> | null>(null);
    let pending = $state(false);
    let latest = 0;
    const run = (p: Params<K>) => {
      const id = ++latest;
      pending = true;
      progress = null;
      // Sent again by retry() only while no newer run has started.
      const resend = { slot: `auto:${key}`, run: () => id === latest && run(p) };
      void send(kind, p, { key, onProgress: (data) => id === latest && (progress = data) }, resend).then((r) => {
        if (id !== latest) return;
        if (r !== undefined) {
          result = r;
          resultParams = p;
        }
        pending = false;
        progress = null;
      });
    };
    $effect(() => {
      const p = params();
      if (!p) return;
      untrack(() => run(p));
    });
    return {
      get result() {
        return result;
      },
      get resultParams() {
        return resultParams;
      },
      get progress() {
        return progress;
      },
      get pending() {
        return pending;
      },
    };
  }

  const self: Compute = {
    get status() {
      return status;
    },
    get error() {
      return error;
    },
    get failure() {
      return failure;
    },
    get retryable() {
      return retryable;
    },
    retry,
    request,
    auto,
  };
  registerRetry(self);
  return self;
}

/** A store's latest value as a rune: subscribed while the component lives (never on the server). */
export function subscribed<T>(subscribe: (run: (value: T) => void) => () => void, initial: T): { readonly current: T } {
  let current = $state.raw(initial);
  $effect(() => subscribe((v) => (current = v)));
  return {
    get current() {
      return current;
    },
  };
}

/**
 * A widget's input digit: the embedded held-out digits (src/lib/staticDigits.ts, base64) and, while the reader
 * draws, the drawing (bind it to DigitPicker's `drawn`). `image` is the drawing, else the held-out `digit()`.
 */
export function digitInput(digits: string, digit: () => number) {
  const clean = decodeStaticDigits(digits, 10);
  let drawn = $state<Float32Array | null>(null);
  return {
    clean,
    get drawn() {
      return drawn;
    },
    set drawn(v: Float32Array | null) {
      drawn = v;
    },
    get image(): Float32Array {
      return drawn ?? clean[digit()];
    },
  };
}
