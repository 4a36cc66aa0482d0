/**
 * Widget state in the URL, declared once per widget (TensorFlow Playground style): each parameter has a type,
 * a default and bounds. Reading never throws: a malformed value falls back to the default, an out-of-range
 * number is clamped, an unknown enum value is ignored. Writing uses history.replaceState, so scrubbing does
 * not flood the back button. Keys are namespaced by widget (`scrub.t=500`).
 */

export type ParamSpec =
  | { type: 'int'; default: number; min: number; max: number }
  | { type: 'float'; default: number; min: number; max: number }
  | { type: 'enum'; default: string; values: readonly string[] }
  | { type: 'bool'; default: boolean };

type ValueOf<P extends ParamSpec> = P extends { type: 'int' | 'float' }
  ? number
  : P extends { type: 'enum'; values: readonly (infer V)[] }
    ? V
    : P extends { type: 'bool' }
      ? boolean
      : never;

export type StateOf<S extends Record<string, ParamSpec>> = { [K in keyof S]: ValueOf<S[K]> };

function parseOne(spec: ParamSpec, raw: string | null): unknown {
  if (raw === null) return spec.default;
  switch (spec.type) {
    case 'int':
    case 'float': {
      const trimmed = raw.trim();
      if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed)) return spec.default;
      let v = Number(trimmed);
      if (!Number.isFinite(v)) return spec.default;
      if (spec.type === 'int') v = Math.round(v);
      return Math.min(spec.max, Math.max(spec.min, v));
    }
    case 'enum':
      return spec.values.includes(raw) ? raw : spec.default;
    case 'bool':
      return raw === '1' || raw === 'true' ? true : raw === '0' || raw === 'false' ? false : spec.default;
  }
}

function formatOne(spec: ParamSpec, value: unknown): string {
  if (spec.type === 'bool') return value ? '1' : '0';
  if (spec.type === 'float') return String(Math.round(Number(value) * 1e4) / 1e4);
  return String(value);
}

export interface UrlState<S extends Record<string, ParamSpec>> {
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

export function defineUrlState<S extends Record<string, ParamSpec>>(prefix: string, spec: S): UrlState<S> {
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
      return Object.fromEntries(Object.entries(spec).map(([k, p]) => [k, parseOne(p, params.get(key(k)))])) as StateOf<S>;
    },
    format(state, search) {
      const params = new URLSearchParams(search);
      for (const [k, p] of Object.entries(spec)) {
        const v = (state as Record<string, unknown>)[k];
        if (v === p.default || v === undefined) params.delete(key(k));
        else params.set(key(k), formatOne(p, v));
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
