/**
 * Widget state in the URL, from the declarations in the compute catalogue (src/workers/api.ts, WIDGET_STATE):
 * each value has a type, a default and bounds there. Reading never throws: a malformed value falls back to the
 * default, an out-of-range number is clamped, an unknown option is ignored. Writing uses history.replaceState,
 * so scrubbing does not flood the back button. Keys are namespaced by widget (`scrub.t=500`).
 */
import { formatUrlValue, parseUrlValue, type UrlSpec, type UrlSpecs, type ValueOf } from '../../workers/params';

export type StateOf<S extends UrlSpecs> = { -readonly [K in keyof S]: ValueOf<S[K]> };
export type { UrlSpec, UrlSpecs };

export interface UrlState<S extends UrlSpecs> {
  readonly prefix: string;
  readonly spec: S;
  defaults(): StateOf<S>;
  /** Parse a query string (`location.search`); never throws. */
  read(search: string): StateOf<S>;
  /** The query string with this widget's keys set (defaults are omitted to keep URLs short). */
  format(state: StateOf<S>, search: string): string;
  /** Replace the current history entry's query with this state (browser only). */
  write(state: StateOf<S>): void;
}

export function defineUrlState<S extends UrlSpecs>(prefix: string, spec: S): UrlState<S> {
  const key = (name: string) => `${prefix}.${name}`;
  const defaults = () => Object.fromEntries(Object.entries(spec).map(([k, p]) => [k, p.default])) as StateOf<S>;
  return {
    prefix,
    spec,
    defaults,
    read(search) {
      let params: URLSearchParams;
      try {
        params = new URLSearchParams(search);
      } catch {
        return defaults();
      }
      return Object.fromEntries(Object.entries(spec).map(([k, p]) => [k, parseUrlValue(p, params.get(key(k)))])) as StateOf<S>;
    },
    format(state, search) {
      const params = new URLSearchParams(search);
      for (const [k, p] of Object.entries(spec)) {
        const v = (state as Record<string, unknown>)[k];
        if (v === p.default || v === undefined) params.delete(key(k));
        else params.set(key(k), formatUrlValue(p, v));
      }
      const s = params.toString();
      return s ? `?${s}` : '';
    },
    write(state) {
      if (typeof history === 'undefined') return;
      const query = this.format(state, location.search);
      if (query !== location.search) history.replaceState(history.state, '', `${location.pathname}${query}${location.hash}`);
    },
  };
}

/** A new seed within the spec's bounds, a fixed jump from the current one ("New noise" buttons). */
export function nextSeed(spec: Extract<UrlSpec, { type: 'int' }>, seed: number): number {
  return spec.min + ((seed - spec.min) * 7919 + 17) % (spec.max - spec.min + 1);
}
