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
 */
import { untrack } from 'svelte';
import type { ComputeApi, RequestKind } from '../../workers/api';
import { isAbortError, type RequestOptions } from '../../workers/rpc';
import { compute, computeReady } from './compute';
import { decodeStaticDigits } from './digits';
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

export interface Compute {
  readonly status: Status;
  readonly error: string | null;
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

  const fail = (e: unknown) => {
    status = 'error';
    error = e instanceof Error ? e.message : String(e);
  };

  if (opts.waitForBackend) {
    $effect(() => {
      untrack(() => {
        if (status === 'idle') status = 'loading';
      });
      computeReady().then(() => {
        if (status === 'loading') status = 'ready';
      }, fail);
    });
  }

  async function request<K extends RequestKind>(kind: K, params: Params<K>, ro: RequestOptions<ProgressOf<K>> = {}): Promise<Result<K> | undefined> {
    if (status === 'idle') status = 'loading';
    try {
      const r = await compute().request(kind, params, ro as never);
      status = 'ready';
      error = null;
      return r;
    } catch (e) {
      if (!isAbortError(e)) fail(e);
      return undefined;
    }
  }

  function auto<K extends RequestKind>(kind: K, key: string, params: () => Params<K> | null): AutoRequest<K> {
    let result = $state.raw<Result<K> | null>(null);
    let resultParams = $state.raw<Params<K> | null>(null);
    let progress = $state.raw<ProgressOf<K> | null>(null);
    let pending = $state(false);
    let latest = 0;
    $effect(() => {
      const p = params();
      if (!p) return;
      untrack(() => {
        const run = ++latest;
        pending = true;
        progress = null;
        void request(kind, p, { key, onProgress: (data) => run === latest && (progress = data) }).then((r) => {
          if (run !== latest) return;
          if (r !== undefined) {
            result = r;
            resultParams = p;
          }
          pending = false;
          progress = null;
        });
      });
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

  return {
    get status() {
      return status;
    },
    get error() {
      return error;
    },
    request,
    auto,
  };
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
