/**
 * The notebook kernel's messages and the pure helpers behind `show()` and `console.log` in a cell. No tfjs and
 * no DOM here, so the formatting and the error-line mapping are unit-tested in Node; kernel.worker.ts wires them up.
 */
import type { BackendName } from '../core/backends';

/** What a cell prints: console lines, text, an image grid or a line plot. */
export type OutputItem =
  | { kind: 'log'; level: 'log' | 'info' | 'warn' | 'error'; text: string }
  | { kind: 'text'; text: string; label?: string }
  | { kind: 'images'; n: number; h: number; w: number; channels: 1 | 3; pixels: Uint8ClampedArray; cols: number; range: [number, number]; label?: string }
  | { kind: 'plot'; series: PlotSeries[]; xLabel?: string; yLabel?: string; logY?: boolean; label?: string };

export interface PlotSeries { name: string; x: number[]; y: number[] }

export type ToKernel =
  | { type: 'init'; order?: BackendName[] }
  | { type: 'run'; id: number; js: string; declared: string[] }
  | { type: 'restart' };

export type FromKernel =
  | { type: 'ready'; backend: string }
  | { type: 'status'; text: string }
  | { type: 'output'; id: number; item: OutputItem }
  | { type: 'done'; id: number; ms: number; newTensors: number; numTensors: number }
  | { type: 'error'; id: number; name: string; message: string; line?: number; column?: number }
  | { type: 'restarted'; numTensors: number; numBytes: number };

/** Most output items a cell may produce (a print in a loop cannot flood the page). */
export const MAX_OUTPUT_ITEMS = 200;
/** Longest text of one output item. */
export const MAX_TEXT = 4000;
/** Most images one `show()` draws. */
export const MAX_IMAGES = 64;

/** Each run gets its own file name, so a stack frame can be traced to the cell (and run) it came from. */
export const cellFileName = (id: number) => `notebook-cell-${id}.js`;

/**
 * The reader's line and column of the innermost frame of `file` in a V8 or SpiderMonkey stack, minus
 * `lineOffset` (the lines of the wrapper in front of the cell's code). Undefined if no frame is in the cell.
 */
export function cellPosition(stack: string | undefined, file: string, lineOffset: number): { line: number; column: number } | undefined {
  if (!stack) return undefined;
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${escaped}:(\\d+):(\\d+)`).exec(stack);
  if (!m) return undefined;
  const line = Number(m[1]) - lineOffset;
  return line >= 1 ? { line, column: Number(m[2]) } : undefined;
}

/** A compiled cell as the kernel runs it: the body of `async function (__scope) { with (__scope) { … } }`. */
export type CellFunction = (scope: Record<string, unknown>) => Promise<unknown>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => CellFunction;

/**
 * Wrap compiled cell code (src/widgets/notebook/compile.ts) so its free names resolve in `scope` first: the
 * declared names the kernel put there, then scope's prototype (the API), then the worker's globals. Sloppy
 * mode on purpose (`with` is what gives cells a shared, re-assignable namespace).
 */
export function makeCellFunction(js: string, id: number): CellFunction {
  return new AsyncFunction('__scope', `with (__scope) {\n${js}\n}\n//# sourceURL=${cellFileName(id)}`);
}

/** Lines the wrapper puts in front of the cell's line 1 in stack traces, measured with a probe (engine-specific). */
export async function measureLineOffset(): Promise<number> {
  try {
    await makeCellFunction('throw new Error("probe")', 0)(Object.create(null));
  } catch (e) {
    const pos = cellPosition((e as Error).stack, cellFileName(0), 0);
    if (pos) return pos.line - 1;
  }
  return 0;
}

/** Duck-typed tfjs tensor (this module does not import tfjs). */
export interface TensorLike { shape: number[]; dtype: string; size: number; isDisposed?: boolean }
export function isTensorLike(v: unknown): v is TensorLike {
  return typeof v === 'object' && v !== null && Array.isArray((v as TensorLike).shape) && typeof (v as TensorLike).dtype === 'string' && typeof (v as { dataSync?: unknown }).dataSync === 'function';
}

const isNumericArray = (v: unknown): v is ArrayLike<number> =>
  (ArrayBuffer.isView(v) && !(v instanceof DataView)) || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number'));

function formatNumber(x: number): string {
  if (Number.isInteger(x) || !Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-4 || a >= 1e6) ? x.toExponential(4) : String(Number(x.toPrecision(6)));
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}… (${text.length - MAX_TEXT} more characters)` : text;
}

/** A readable one-value rendering for console.log and text output; never throws, bounded length. */
export function formatValue(v: unknown, depth = 0): string {
  if (typeof v === 'string') return depth === 0 ? clip(v) : JSON.stringify(v);
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === undefined || v === null || typeof v === 'boolean' || typeof v === 'symbol') return String(v);
  if (typeof v === 'function') return `[function ${v.name || 'anonymous'}]`;
  if (isTensorLike(v)) return v.isDisposed ? `Tensor (disposed)` : `Tensor ${v.dtype} [${v.shape.join(', ')}]`;
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const a = v as unknown as ArrayLike<number>;
    const head = Array.from({ length: Math.min(a.length, 8) }, (_, i) => formatNumber(Number(a[i])));
    return `${v.constructor.name}(${a.length}) [${head.join(', ')}${a.length > 8 ? ', …' : ''}]`;
  }
  if (depth > 2) return Array.isArray(v) ? '[…]' : '{…}';
  if (Array.isArray(v)) {
    const head = v.slice(0, 20).map((x) => formatValue(x, depth + 1));
    return clip(`[${head.join(', ')}${v.length > 20 ? `, … ${v.length - 20} more` : ''}]`);
  }
  if (v instanceof Map) return clip(`Map(${v.size}) {${[...v].slice(0, 20).map(([k, x]) => `${formatValue(k, depth + 1)} => ${formatValue(x, depth + 1)}`).join(', ')}}`);
  let entries: [string, unknown][];
  try {
    entries = Object.entries(v as object);
  } catch {
    return '[object]';
  }
  const name = (v as object).constructor && (v as object).constructor !== Object ? `${(v as object).constructor.name} ` : '';
  const body = entries.slice(0, 20).map(([k, x]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${formatValue(x, depth + 1)}`);
  return clip(`${name}{ ${body.join(', ')}${entries.length > 20 ? `, … ${entries.length - 20} more` : ''} }`);
}

/** console.log's arguments as one line: strings as they are, everything else formatted. */
export const formatArgs = (args: unknown[]): string => clip(args.map((a) => (typeof a === 'string' ? a : formatValue(a))).join(' '));

export interface ShowOptions {
  /** Value range mapped to black…white; default [−1, 1] if any value is negative, [0, 1] if all lie in it, else [min, max]. */
  range?: [number, number];
  /** Images per row. */
  cols?: number;
  /** Plot: x values (default 0, 1, 2, …). */
  x?: ArrayLike<number>;
  xLabel?: string;
  yLabel?: string;
  logY?: boolean;
  /** A caption above the output. */
  label?: string;
}

/** The image layout of a tensor shape: [N, H, W, C], [H, W, C] with C = 1 or 3, [N, H, W] or [H, W]. */
export function imageLayout(shape: number[]): { n: number; h: number; w: number; channels: 1 | 3 } | null {
  const [a, b, c, d] = shape;
  if (shape.length === 4 && (d === 1 || d === 3)) return { n: a, h: b, w: c, channels: d };
  if (shape.length === 3 && (c === 1 || c === 3)) return { n: 1, h: a, w: b, channels: c };
  if (shape.length === 3) return { n: a, h: b, w: c, channels: 1 };
  if (shape.length === 2 && a > 1 && b > 1) return { n: 1, h: a, w: b, channels: 1 };
  return null;
}

/** Values of a tensor of images → an 8-bit grid item; `range` maps to 0…255 (clamped). */
export function imagesItem(values: ArrayLike<number>, shape: number[], opts: ShowOptions = {}): Extract<OutputItem, { kind: 'images' }> {
  const layout = imageLayout(shape);
  if (!layout) throw new TypeError(`show: cannot draw a tensor of shape [${shape.join(', ')}] as images`);
  const { h, w, channels } = layout;
  const n = Math.min(layout.n, MAX_IMAGES);
  const count = n * h * w * channels;
  let range = opts.range;
  if (!range) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < count; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    range = lo >= 0 && hi <= 1 ? [0, 1] : lo >= -1 && hi <= 1 ? [-1, 1] : [lo, hi > lo ? hi : lo + 1];
  }
  const [lo, hi] = range;
  const scale = 255 / (hi - lo || 1);
  const pixels = new Uint8ClampedArray(count);
  for (let i = 0; i < count; i++) pixels[i] = (values[i] - lo) * scale;
  const cols = Math.max(1, Math.min(n, Math.round(opts.cols ?? Math.min(n, 8))));
  return { kind: 'images', n, h, w, channels, pixels, cols, range: [lo, hi], label: opts.label };
}

function toNumbers(a: ArrayLike<number>): number[] {
  return Array.from(a, (v) => Number(v));
}

/** A plot item from one numeric array or an object of named arrays (all the same length); null if not plottable. */
export function plotItem(value: unknown, opts: ShowOptions = {}): Extract<OutputItem, { kind: 'plot' }> | null {
  let named: [string, ArrayLike<number>][];
  if (isNumericArray(value)) named = [[opts.yLabel ?? 'y', value]];
  else if (value && typeof value === 'object' && !isTensorLike(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (!entries.length || !entries.every(([, v]) => isNumericArray(v))) return null;
    named = entries as [string, ArrayLike<number>][];
  } else return null;
  const series = named.map(([name, ys]) => {
    const y = toNumbers(ys);
    const x = opts.x ? toNumbers(opts.x).slice(0, y.length) : y.map((_, i) => i);
    return { name, x, y: y.slice(0, x.length) };
  });
  return { kind: 'plot', series, xLabel: opts.xLabel, yLabel: opts.yLabel, logY: opts.logY, label: opts.label };
}
