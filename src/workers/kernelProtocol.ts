/**
 * The notebook kernel's messages and the pure helpers behind `show()` and `console.log` in a cell. No tfjs and
 * no DOM here, so the formatting and the error-line mapping are unit-tested in Node; kernel.worker.ts wires them up.
 */
import type { BackendName } from '../core/backends';
import { downsampleMinMax } from '../core/downsample';

/** What a cell prints: console lines, text, an image grid or a line plot. */
export type OutputItem =
  | { kind: 'log'; level: 'log' | 'info' | 'warn' | 'error'; text: string }
  | { kind: 'text'; text: string; label?: string }
  | { kind: 'images'; n: number; h: number; w: number; channels: 1 | 3; pixels: Uint8ClampedArray; cols: number; range: [number, number]; label?: string }
  | { kind: 'plot'; series: PlotSeries[]; xLabel?: string; yLabel?: string; logY?: boolean; label?: string };

export interface PlotSeries { name: string; x: number[]; y: number[] }

/**
 * Page → kernel. `init` is the only message sent on the worker itself, with one end of a MessageChannel
 * transferred; every later message in both directions goes through that private port, which cell code cannot
 * reach (see kernel.worker.ts), so a cell can neither read the next cell's code nor post messages as the kernel.
 */
export type ToKernel =
  /** `root`: the site's root URL (the kernel's own origin is opaque), against which it names the files it asks for. */
  | { type: 'init'; order?: BackendName[]; root?: string }
  /** The page's answer to 'fetch': the file's bytes and HTTP status, or why it was refused or failed. */
  | { type: 'file'; reqId: number; status?: number; contentType?: string; bytes?: ArrayBuffer; error?: string }
  | { type: 'run'; id: number; js: string; declared: string[] }
  | { type: 'restart' }
  /** Clear the timers and remove the event listeners run `id` left (all runs' when `id` is absent). */
  | { type: 'stopLeftovers'; id?: number };

/** What a run left alive after it finished: pending timeouts (and un-awaited sleep()s), intervals, event listeners. */
export interface Leftovers { timeouts: number; intervals: number; listeners: number }

export type FromKernel =
  | { type: 'ready'; backend: string }
  | { type: 'status'; text: string }
  | { type: 'output'; id: number; item: OutputItem }
  | { type: 'done'; id: number; ms: number; newTensors: number; numTensors: number; leftovers?: Leftovers }
  | { type: 'error'; id: number; name: string; message: string; line?: number; column?: number; leftovers?: Leftovers }
  /** What run `id` still leaves alive, sent whenever that changes after the run finished. */
  | { type: 'leftovers'; id: number; leftovers: Leftovers }
  /** A callback run `id` left (timer or listener) starts (busy) or ends its synchronous part while no run is active. */
  | { type: 'background'; id: number; busy: boolean; what?: string }
  | { type: 'restarted'; numTensors: number; numBytes: number }
  /**
   * The kernel has no network (it runs in an opaque-origin frame): it asks the page for a file of the site — a
   * models/ file, the MNIST file, or a tfjs wasm binary by its name — and gets a 'file' message back.
   */
  | { type: 'fetch'; reqId: number; path: string; method?: string };

export const noLeftovers = (): Leftovers => ({ timeouts: 0, intervals: 0, listeners: 0 });
export const leftoverCount = (l: Leftovers | undefined): number => (l ? l.timeouts + l.intervals + l.listeners : 0);

/** "2 timers and 1 event listener" (timeouts and intervals are both timers to the reader); '' when none. */
export function describeLeftovers(l: Leftovers): string {
  const timers = l.timeouts + l.intervals;
  const parts: string[] = [];
  if (timers) parts.push(`${timers} timer${timers === 1 ? '' : 's'}`);
  if (l.listeners) parts.push(`${l.listeners} event listener${l.listeners === 1 ? '' : 's'}`);
  return parts.join(' and ');
}

/** Most bytes of tensors the kernel holds before it refuses to make more (models included). */
export const MAX_TENSOR_BYTES = 1024 ** 3;

/** The error a cell gets when the kernel's tensors pass MAX_TENSOR_BYTES. */
export function tensorMemoryMessage(numBytes: number, numTensors: number): string {
  return `the notebook's tensors take ${(numBytes / 1024 ** 2).toFixed(0)} MB in ${numTensors.toLocaleString('en')} tensors, more than the ${MAX_TENSOR_BYTES / 1024 ** 3} GiB the kernel allows: dispose what you no longer need (tf.dispose, or work inside tf.tidy), or press Restart kernel to free them all`;
}

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
/** Captured when this module loads, before any cell runs: a cell may replace the global `Function` later. */
const FunctionConstructor = Function;

/**
 * Wrap compiled cell code (src/widgets/notebook/compile.ts) so its free names resolve in `scope` first: the
 * declared names the kernel put there, then scope's prototype (the API), then the worker's globals. Sloppy
 * mode on purpose (`with` is what gives cells a shared, re-assignable namespace).
 *
 * The function runs its code once: a later cell that gets hold of it (through `caller` or a stack trace's
 * getFunction() from a shared function it replaced) cannot run it again with a scope of its own to spy on it.
 */
export function makeCellFunction(js: string, id: number): CellFunction {
  let ran = false;
  const once = () => !ran && (ran = true);
  return new FunctionConstructor('__once', `return async function (__scope) {\nif (!__once()) return;\nwith (__scope) {\n${js}\n}\n}\n//# sourceURL=${cellFileName(id)}`)(once) as CellFunction;
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
  if (typeof v === 'string') return depth === 0 ? clip(v) : JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v);
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === undefined || v === null || typeof v === 'boolean' || typeof v === 'symbol') return String(v);
  if (typeof v === 'function') return `[function ${v.name || 'anonymous'}]`;
  if (isTensorLike(v)) return v.isDisposed ? `Tensor (disposed)` : `Tensor ${v.dtype} [${v.shape.join(', ')}]`;
  if (v instanceof Error) return clip(`${v.name}: ${v.message}`);
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
  if (v instanceof Map) {
    // The first 20 entries by the iterator: never the whole map.
    const body: string[] = [];
    for (const [k, x] of v) {
      if (body.length === 20) break;
      body.push(`${formatValue(k, depth + 1)} => ${formatValue(x, depth + 1)}`);
    }
    return clip(`Map(${v.size}) {${body.join(', ')}${v.size > 20 ? `, … ${v.size - 20} more` : ''}}`);
  }
  let keys: string[];
  try {
    keys = Object.keys(v as object);
  } catch {
    return '[object]';
  }
  let name = '';
  try {
    const ctor = (v as object).constructor;
    name = ctor && ctor !== Object && typeof ctor.name === 'string' ? `${ctor.name} ` : '';
  } catch {
    /* a throwing getter */
  }
  const body: string[] = [];
  for (let i = 0; i < keys.length && i < 20; i++) {
    const k = keys[i];
    let x: unknown;
    try {
      x = (v as Record<string, unknown>)[k];
    } catch {
      x = '[getter threw]';
    }
    body.push(`${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${formatValue(x, depth + 1)}`);
  }
  return clip(`${name}{ ${body.join(', ')}${keys.length > 20 ? `, … ${keys.length - 20} more` : ''} }`);
}

/** console.log's arguments as one line: strings as they are, everything else formatted. */
export function formatArgs(args: unknown[]): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; i < args.length; i++) {
    if (length > MAX_TEXT) {
      parts.push(`… (${args.length - i} more)`);
      break;
    }
    const a = args[i];
    const text = typeof a === 'string' ? clip(a) : formatValue(a);
    parts.push(text);
    length += text.length + 1;
  }
  return clip(parts.join(' '));
}

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

/**
 * How show() draws a tensor of images of this shape, decided from the shape alone (before any readback): how many
 * of its images to read (MAX_IMAGES, and no more than MAX_RUN_PIXELS pixels) with a note when that is fewer than
 * it has, or a refusal that says the size and what to do when one image is larger than the page draws.
 */
export function imagePlan(shape: number[]): { draw: number; note?: string } | { refuse: string } | null {
  const layout = imageLayout(shape);
  if (!layout) return null;
  const { n, h, w } = layout;
  const fmt = (x: number) => x.toLocaleString('en');
  const limits = `the notebook draws images up to ${MAX_IMAGE_SIDE} × ${MAX_IMAGE_SIDE} and ${fmt(MAX_RUN_PIXELS)} pixels a run`;
  const what = `${n > 1 ? `${fmt(n)} images of ` : 'an image of '}${fmt(h)} × ${fmt(w)}`;
  if (h > MAX_IMAGE_SIDE || w > MAX_IMAGE_SIDE || h * w > MAX_RUN_PIXELS) {
    return { refuse: `show: not drawn: ${what} (shape [${shape.join(', ')}]) is larger than ${limits}. Slice it (x.slice(…)) or shrink it first, e.g. show(tf.image.resizeBilinear(x, [256, 256])) for [N, H, W, C] or [H, W, C].` };
  }
  const draw = Math.max(1, Math.min(n, MAX_IMAGES, Math.floor(MAX_RUN_PIXELS / (h * w))));
  return draw < n ? { draw, note: `show: drew the first ${fmt(draw)} of ${what} (${limits}, at most ${MAX_IMAGES} images); slice the tensor to see others.` } : { draw };
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

/**
 * At most MAX_PLOT_POINTS points of one series: the lowest and the highest reading of each equal bucket
 * (downsampleMinMax), so spikes survive. Loops only: no spread of the data into a call.
 */
export function thinSeries(x: number[], y: number[], max = MAX_PLOT_POINTS): { x: number[]; y: number[] } {
  if (y.length <= max) return { x, y };
  const points: [number, number][] = new Array(y.length);
  for (let i = 0; i < y.length; i++) points[i] = [i, y[i]];
  const kept = downsampleMinMax(points, max);
  const tx: number[] = new Array(kept.length);
  const ty: number[] = new Array(kept.length);
  for (let i = 0; i < kept.length; i++) (tx[i] = x[kept[i][0]], ty[i] = kept[i][1]);
  return { x: tx, y: ty };
}

/** The note show() adds when it thinned a plot of `length` points. */
export const thinnedNote = (length: number) =>
  `show: ${length.toLocaleString('en')} points thinned to at most ${MAX_PLOT_POINTS.toLocaleString('en')} for the plot (the lowest and highest of each stretch are kept).`;

/**
 * A plot item from one numeric array or an object of named arrays (all the same length); null if not plottable.
 * Series longer than MAX_PLOT_POINTS are thinned (thinSeries) and `notes` gets a line saying so.
 */
export function plotItem(value: unknown, opts: ShowOptions = {}, notes: string[] = []): Extract<OutputItem, { kind: 'plot' }> | null {
  let named: [string, ArrayLike<number>][];
  if (isNumericArray(value)) named = [[opts.yLabel ?? 'y', value]];
  else if (value && typeof value === 'object' && !isTensorLike(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (!entries.length || !entries.every(([, v]) => isNumericArray(v))) return null;
    named = entries as [string, ArrayLike<number>][];
  } else return null;
  if (named.length > MAX_PLOT_SERIES) named = named.slice(0, MAX_PLOT_SERIES);
  const xAll = opts.x ? toNumbers(opts.x) : null;
  let longest = 0;
  const series = named.map(([name, ys]) => {
    const y = toNumbers(ys);
    let x: number[];
    if (xAll) x = xAll.length > y.length ? xAll.slice(0, y.length) : xAll;
    else {
      x = new Array(y.length);
      for (let i = 0; i < y.length; i++) x[i] = i;
    }
    const yy = y.length > x.length ? y.slice(0, x.length) : y;
    if (yy.length > longest) longest = yy.length;
    return { name, ...thinSeries(x, yy) };
  });
  if (longest > MAX_PLOT_POINTS) notes.push(thinnedNote(longest));
  return { kind: 'plot', series, xLabel: opts.xLabel, yLabel: opts.yLabel, logY: opts.logY, label: opts.label };
}
