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

/** Most characters of text one run may show in all (log lines, text items, labels). */
export const MAX_RUN_CHARACTERS = 200_000;
/** Most image pixels one run may show in all (64 digits of 28 × 28 are 50,176). */
export const MAX_RUN_PIXELS = 2_000_000;
/** Largest side of one drawn image. */
export const MAX_IMAGE_SIDE = 512;
/** Most series of one plot, and most points drawn per series (longer series are thinned evenly). */
export const MAX_PLOT_SERIES = 16;
export const MAX_PLOT_POINTS = 5_000;

/** What one run has shown so far (the page keeps one per run; see admitOutput). */
export interface OutputBudget {
  items: number;
  characters: number;
  pixels: number;
  /** Whether the run has already been told that its output was cut. */
  noted: boolean;
}

export const newOutputBudget = (): OutputBudget => ({ items: 0, characters: 0, pixels: 0, noted: false });

const isText = (v: unknown): v is string => typeof v === 'string';
const optionalText = (v: unknown) => v === undefined || isText(v);
const finiteArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');
const posInt = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;

/** Every k-th point (and the last), so that at most `max` remain. */
function thin(xs: number[], ys: number[], max: number): { x: number[]; y: number[] } {
  if (xs.length <= max) return { x: xs, y: ys };
  const step = Math.ceil(xs.length / max);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < xs.length; i += step) (x.push(xs[i]), y.push(ys[i]));
  if (x[x.length - 1] !== xs[xs.length - 1]) (x.push(xs[xs.length - 1]), y.push(ys[ys.length - 1]));
  return { x, y };
}

/**
 * The page's check of one output message before it draws it: the kernel runs the reader's code, which can post
 * anything. A well-formed item within the run's budget comes back (long text cut to MAX_TEXT, long plots thinned);
 * a malformed item, or one past the budget (MAX_OUTPUT_ITEMS items, MAX_RUN_CHARACTERS characters, MAX_RUN_PIXELS
 * pixels), gives null, and the first time that happens in a run `note` is a warning line to show instead, once.
 * Updates `budget`.
 */
export function admitOutput(raw: unknown, budget: OutputBudget): { item: OutputItem | null; note: OutputItem | null } {
  const refuse = (why: string) => {
    if (budget.noted) return { item: null, note: null };
    budget.noted = true;
    return { item: null, note: { kind: 'log', level: 'warn', text: `(output truncated: ${why}; later output of this run is not shown)` } as OutputItem };
  };
  if (budget.items >= MAX_OUTPUT_ITEMS) return refuse(`more than ${MAX_OUTPUT_ITEMS} items`);
  if (!raw || typeof raw !== 'object') return refuse('a malformed output message');
  const r = raw as Record<string, unknown>;
  let item: OutputItem;
  let characters = 0;
  let pixels = 0;
  const cut = (t: string) => (t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT)}… (${t.length - MAX_TEXT} more characters)` : t);
  if (r.kind === 'log') {
    if (!isText(r.text) || !['log', 'info', 'warn', 'error'].includes(r.level as string)) return refuse('a malformed output message');
    item = { kind: 'log', level: r.level as 'log', text: cut(r.text) };
    characters = item.text.length;
  } else if (r.kind === 'text') {
    if (!isText(r.text) || !optionalText(r.label)) return refuse('a malformed output message');
    item = { kind: 'text', text: cut(r.text), ...(r.label !== undefined ? { label: cut(r.label as string) } : {}) };
    characters = item.text.length + (item.label?.length ?? 0);
  } else if (r.kind === 'images') {
    const { n, h, w, channels, cols, pixels: px, range } = r;
    if (!posInt(n, MAX_IMAGES) || !posInt(h, MAX_IMAGE_SIDE) || !posInt(w, MAX_IMAGE_SIDE) || (channels !== 1 && channels !== 3) || !posInt(cols, MAX_IMAGES)) return refuse('an image larger than the page draws, or malformed');
    if (!(px instanceof Uint8ClampedArray) || px.length !== n * h * w * channels) return refuse('an image whose pixels do not match its size');
    if (!finiteArray(range) || range.length !== 2 || !optionalText(r.label)) return refuse('a malformed output message');
    item = { kind: 'images', n, h, w, channels, cols, pixels: px, range: [range[0], range[1]], ...(r.label !== undefined ? { label: cut(r.label as string) } : {}) };
    pixels = n * h * w;
    characters = item.label?.length ?? 0;
  } else if (r.kind === 'plot') {
    if (!Array.isArray(r.series) || r.series.length === 0 || r.series.length > MAX_PLOT_SERIES) return refuse(`a plot with no series or more than ${MAX_PLOT_SERIES}`);
    const series: PlotSeries[] = [];
    for (const s of r.series as unknown[]) {
      const q = s as Record<string, unknown> | null;
      if (!q || !isText(q.name) || !finiteArray(q.x) || !finiteArray(q.y) || q.x.length !== q.y.length) return refuse('a malformed plot');
      series.push({ name: cut(q.name), ...thin(q.x, q.y, MAX_PLOT_POINTS) });
    }
    if (!optionalText(r.xLabel) || !optionalText(r.yLabel) || !optionalText(r.label) || (r.logY !== undefined && typeof r.logY !== 'boolean')) return refuse('a malformed plot');
    item = { kind: 'plot', series, ...(r.xLabel !== undefined ? { xLabel: cut(r.xLabel as string) } : {}), ...(r.yLabel !== undefined ? { yLabel: cut(r.yLabel as string) } : {}), ...(r.logY !== undefined ? { logY: r.logY as boolean } : {}), ...(r.label !== undefined ? { label: cut(r.label as string) } : {}) };
    characters = series.reduce((a, s) => a + s.name.length, 0);
  } else {
    return refuse('a malformed output message');
  }
  if (budget.characters + characters > MAX_RUN_CHARACTERS) return refuse(`more than ${MAX_RUN_CHARACTERS.toLocaleString('en')} characters`);
  if (budget.pixels + pixels > MAX_RUN_PIXELS) return refuse(`more than ${MAX_RUN_PIXELS.toLocaleString('en')} image pixels`);
  budget.items++;
  budget.characters += characters;
  budget.pixels += pixels;
  return { item, note: null };
}

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
