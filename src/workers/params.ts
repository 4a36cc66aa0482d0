/**
 * Parameter declarations (framework-free, no tfjs): the one place a request parameter or a widget's URL state
 * gets its type, default and bounds. The compute catalogue (api.ts) is written with these builders; from it
 *
 * - the worker cleans every request (`cleanParams`): out-of-range numbers are clamped (ints rounded), anything
 *   malformed — a string for a number, NaN, an unknown option, a wrong array type — is refused with an error
 *   that names the request and the parameter;
 * - widgets read and write URL state (`parseUrlValue` / `formatUrlValue`: reading never throws, a malformed
 *   value falls back to the default) and give their controls min / max / step.
 */

export type ParamSpec =
  | { type: 'int'; default: number; min: number; max: number; step?: number }
  | { type: 'float'; default: number; min: number; max: number; step: number }
  /** One of a few strings. */
  | { type: 'enum'; default: string; values: readonly string[] }
  /** One of a few numbers (a number in between snaps to the nearest). */
  | { type: 'choice'; default: number; values: readonly number[] }
  | { type: 'bool'; default: boolean }
  /** A model folder under models/ (plain names only: no paths, no other origins). */
  | { type: 'model'; default: string }
  /** Free text up to maxLength characters (a longer URL value is cut to maxLength). */
  | { type: 'text'; default: string; maxLength: number }
  /** 1…maxItems strings of at most maxLength characters each (e.g. a list of captions). */
  | { type: 'texts'; default: readonly string[]; maxItems: number; maxLength: number }
  /** Image data: a Float32Array of finite values, minLength…maxLength long. */
  | { type: 'pixels'; minLength: number; maxLength: number }
  /** Raw bytes: a Uint8Array up to maxLength long. */
  | { type: 'bytes'; maxLength: number }
  /** 1…maxLength integers, each clamped to min…max. */
  | { type: 'ints'; default: readonly number[]; min: number; max: number; maxLength: number }
  /** A subset of `values`, in the caller's order, duplicates dropped; unknown names are ignored. */
  | { type: 'enums'; values: readonly string[] }
  /** Present only when given (no default): the wrapped spec's value or undefined. */
  | { type: 'optional'; of: ParamSpec };

export type Specs = Readonly<Record<string, ParamSpec>>;

/** The TypeScript type of a spec's clean value. */
export type ValueOf<P> = P extends { type: 'int' | 'float' | 'choice' }
  ? number
  : P extends { type: 'enum'; values: readonly (infer V)[] }
    ? V
    : P extends { type: 'bool' }
      ? boolean
      : P extends { type: 'model' | 'text' }
        ? string
        : P extends { type: 'texts' }
          ? string[]
          : P extends { type: 'pixels' }
          ? Float32Array
          : P extends { type: 'bytes' }
            ? Uint8Array
            : P extends { type: 'ints' }
              ? number[]
              : P extends { type: 'enums'; values: readonly (infer V)[] }
                ? V[]
                : P extends { type: 'optional'; of: infer Q }
                  ? ValueOf<Q> | undefined
                  : never;

type OptionalKeys<S> = { [K in keyof S]: S[K] extends { type: 'optional' } ? K : never }[keyof S];
/** What a handler receives: every declared parameter, clean. */
export type CleanOf<S> = { [K in keyof S]: ValueOf<S[K]> };
/** What a caller sends: parameters with a default or marked optional may be left out. */
export type ParamsOf<S> = { [K in Exclude<keyof S, OptionalKeys<S> | DefaultedKeys<S>>]: ValueOf<S[K]> } & {
  [K in OptionalKeys<S> | DefaultedKeys<S>]?: ValueOf<S[K]>;
};
type DefaultedKeys<S> = { [K in keyof S]: S[K] extends { default: unknown } ? K : never }[keyof S];

// ---- builders (so that `values` keep their literal types) ----------------------------------------------

export const int = (d: number, min: number, max: number, step?: number) => ({ type: 'int' as const, default: d, min, max, ...(step ? { step } : {}) });
export const float = (d: number, min: number, max: number, step: number) => ({ type: 'float' as const, default: d, min, max, step });
export const oneOf = <const V extends readonly string[]>(values: V, d: V[number]) => ({ type: 'enum' as const, default: d, values });
export const choice = (values: readonly number[], d: number) => ({ type: 'choice' as const, default: d, values });
export const bool = (d: boolean) => ({ type: 'bool' as const, default: d });
export const model = (d: string) => ({ type: 'model' as const, default: d });
export const text = (d: string, maxLength: number) => ({ type: 'text' as const, default: d, maxLength });
export const texts = (d: readonly string[], maxItems: number, maxLength: number) => ({ type: 'texts' as const, default: d, maxItems, maxLength });
export const pixels = (minLength: number, maxLength = minLength) => ({ type: 'pixels' as const, minLength, maxLength });
export const bytes = (maxLength: number) => ({ type: 'bytes' as const, maxLength });
export const ints = (d: readonly number[], min: number, max: number, maxLength: number) => ({ type: 'ints' as const, default: d, min, max, maxLength });
export const enums = <const V extends readonly string[]>(values: V) => ({ type: 'enums' as const, values });
export const optional = <P extends ParamSpec>(of: P) => ({ type: 'optional' as const, of });
/** The same bounds with another default (a widget that starts elsewhere). */
export const withDefault = <P extends ParamSpec & { default: unknown }>(spec: P, d: P['default']): P => ({ ...spec, default: d });

/** Plain names of model folders: lower-case letters, digits and dashes. */
export const MODEL_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

// ---- cleaning requests ----------------------------------------------------------------------------------

/** A request the worker refuses: names the request and the parameter. */
export class ParamError extends TypeError {
  constructor(kind: string, name: string, problem: string) {
    super(`${kind}: parameter "${name}" ${problem}`);
    this.name = 'ParamError';
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}…` : v);
  if (typeof v === 'number') return String(v);
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${(v as unknown as ArrayLike<number>).length}`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return `a ${typeof v}`;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const nearest = (values: readonly number[], v: number) => values.reduce((a, b) => (Math.abs(b - v) < Math.abs(a - v) ? b : a));

/** One value against its spec: the clean value, or a ParamError. `undefined` takes the default. */
export function cleanValue(kind: string, name: string, spec: ParamSpec, v: unknown): unknown {
  const bad = (problem: string) => new ParamError(kind, name, `${problem}, got ${describe(v)}`);
  if (v === undefined) {
    if (spec.type === 'optional') return undefined;
    if ('default' in spec) return Array.isArray(spec.default) ? [...spec.default] : spec.default;
    throw new ParamError(kind, name, 'is missing');
  }
  switch (spec.type) {
    case 'optional':
      return cleanValue(kind, name, spec.of, v);
    case 'int':
    case 'float':
    case 'choice': {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('must be a finite number');
      if (spec.type === 'choice') return nearest(spec.values, v);
      return clamp(spec.type === 'int' ? Math.round(v) : v, spec.min, spec.max);
    }
    case 'enum':
      if (typeof v !== 'string' || !spec.values.includes(v)) throw bad(`must be one of ${spec.values.join(', ')}`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw bad('must be true or false');
      return v;
    case 'model':
      if (typeof v !== 'string' || !MODEL_NAME.test(v)) throw bad('must be a model name (letters, digits, dashes)');
      return v;
    case 'text':
      if (typeof v !== 'string' || v.length > spec.maxLength) throw bad(`must be text of at most ${spec.maxLength} characters`);
      return v;
    case 'texts':
      if (!Array.isArray(v) || v.length < 1 || v.length > spec.maxItems) throw bad(`must be an array of 1…${spec.maxItems} texts`);
      v.forEach((x, i) => {
        if (typeof x !== 'string' || x.length > spec.maxLength) throw new ParamError(kind, `${name}[${i}]`, `must be text of at most ${spec.maxLength} characters, got ${describe(x)}`);
      });
      return [...v] as string[];
    case 'pixels': {
      if (!(v instanceof Float32Array)) throw bad('must be a Float32Array');
      if (v.length < spec.minLength || v.length > spec.maxLength)
        throw bad(spec.minLength === spec.maxLength ? `must hold ${spec.minLength} values` : `must hold ${spec.minLength}…${spec.maxLength} values`);
      for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new ParamError(kind, name, `holds a non-finite value at index ${i}`);
      return v;
    }
    case 'bytes':
      if (!(v instanceof Uint8Array)) throw bad('must be a Uint8Array');
      if (v.length > spec.maxLength) throw bad(`must be at most ${spec.maxLength} bytes`);
      return v;
    case 'ints':
      if (!Array.isArray(v) || v.length < 1 || v.length > spec.maxLength) throw bad(`must be an array of 1…${spec.maxLength} numbers`);
      return v.map((x, i) => {
        if (typeof x !== 'number' || !Number.isFinite(x)) throw new ParamError(kind, `${name}[${i}]`, `must be a finite number, got ${describe(x)}`);
        return clamp(Math.round(x), spec.min, spec.max);
      });
    case 'enums':
      if (!Array.isArray(v)) throw bad('must be an array of names');
      return [...new Set(v.filter((x): x is string => typeof x === 'string' && spec.values.includes(x)))];
  }
}

/** Every declared parameter of a request, clean; undeclared keys are dropped. `null` counts as `{}`. */
export function cleanParams<S extends Specs>(kind: string, specs: S, params: unknown): CleanOf<S> {
  if (params === null || params === undefined) params = {};
  if (typeof params !== 'object' || Array.isArray(params)) throw new ParamError(kind, '(all)', `must be an object, got ${describe(params)}`);
  const raw = params as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = cleanValue(kind, name, spec, raw[name]);
  return out as CleanOf<S>;
}

// ---- URL state ------------------------------------------------------------------------------------------

/** Specs a URL can carry (numbers, options, flags, short text). */
export type UrlSpec = Extract<ParamSpec, { type: 'int' | 'float' | 'enum' | 'choice' | 'bool' | 'text' }>;
export type UrlSpecs = Readonly<Record<string, UrlSpec>>;

/** The first maxLength UTF-16 units of a text, without a dangling half of a surrogate pair. */
function cutText(v: string, maxLength: number): string {
  if (v.length <= maxLength) return v;
  const cut = v.slice(0, maxLength);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** A URL value (or null when absent) → the clean value; never throws. */
export function parseUrlValue(spec: UrlSpec, raw: string | null): unknown {
  if (raw === null) return spec.default;
  // Text: cut to its length, control characters (line breaks aside) dropped; it is only ever shown as text.
  if (spec.type === 'text') return cutText(raw.replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, ''), spec.maxLength);
  if (spec.type === 'enum') return spec.values.includes(raw) ? raw : spec.default;
  if (spec.type === 'bool') return raw === '1' || raw === 'true' ? true : raw === '0' || raw === 'false' ? false : spec.default;
  const trimmed = raw.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed)) return spec.default;
  const v = Number(trimmed);
  return Number.isFinite(v) ? cleanValue('url', '', spec, v) : spec.default;
}

export function formatUrlValue(spec: UrlSpec, value: unknown): string {
  if (spec.type === 'bool') return value ? '1' : '0';
  if (spec.type === 'float') return String(Math.round(Number(value) * 1e4) / 1e4);
  return String(value);
}

/** Every numeric bound a spec declares (the consistency test walks these). */
export function boundsOf(spec: ParamSpec): { min?: number; max?: number; step?: number } {
  if (spec.type === 'int' || spec.type === 'float') return { min: spec.min, max: spec.max, step: spec.type === 'int' ? (spec.step ?? 1) : spec.step };
  if (spec.type === 'ints') return { min: spec.min, max: spec.max };
  return {};
}
