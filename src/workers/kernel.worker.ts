/// <reference lib="webworker" />
/**
 * The notebook kernel: runs the readers' cells off the main thread, one lesson page = one kernel, so cells
 * share variables like a Jupyter kernel. Cells arrive already compiled (src/widgets/notebook/compile.ts) and
 * run as `async function (scope) { with (scope) { … } }`: top-level names live in `scope`, whose prototype is
 * the API below (tfjs, the core modules, show(), model and data loaders).
 *
 * Sandbox: this worker runs inside the kernel frame (src/pages/kernel-frame.astro, src/lib/kernelFramePolicy.ts),
 * an iframe of opaque origin whose policy allows no connections of any kind: no fetch, import(), nested worker,
 * font, cache or storage of the site reaches the network or the site's data, whatever a cell does with the
 * globals. Everything the kernel loads (tfjs's wasm binaries, the shipped models, the digits) is asked of the
 * page over the private port ('fetch' → 'file'); the page serves only the site's models/ files, the MNIST file
 * and the three known wasm binaries (src/widgets/notebook/kernelFrame.ts). An endless loop cannot be interrupted
 * from inside, so the page stops a cell by removing the frame (Stop button or time limit) and starts a fresh one.
 *
 * Defences against the cells themselves (they run in this realm and can touch its globals):
 * - A private channel: the page's first message transfers one end of a MessageChannel; the kernel takes it,
 *   removes its global listener and from then on talks only through that port, held in this module's closure.
 *   A cell's `self.onmessage` / `addEventListener('message')` sees nothing, and `self.postMessage` reaches a
 *   page that ignores the worker's own messages. The built-ins the kernel uses for this (MessagePort's
 *   postMessage, MessageEvent's data and ports getters, Reflect.apply) are captured before any cell runs.
 * - Leftovers: setTimeout/setInterval/clear* and addEventListener/removeEventListener/on… handlers of the worker
 *   global are wrapped, so the kernel knows what each run leaves alive, reports it with 'done' and later changes,
 *   and clears it on 'stopLeftovers'. A leftover callback that runs while no cell runs is announced to the page
 *   ('background' busy/idle) so the page's time limit covers it. Its output goes to the cell that created it,
 *   within that run's output budget (the page keeps the run's budget while it has leftovers).
 *   Not tracked: promises (an un-awaited fetch or async function), microtask loops, requestAnimationFrame, and
 *   listeners added by calling EventTarget.prototype.addEventListener directly; Stop and Restart end them all.
 * - A cell's code cannot be read or re-run by a later cell that reaches its function object (kernelProtocol's
 *   makeCellFunction runs once; Function.prototype.toString hides cells' code, see below).
 * - show() decides from a tensor's shape, before any readback, whether it can draw it (kernelProtocol.imagePlan)
 *   and thins long 1-D tensors on the device (min and max per bucket); tensors the kernel holds are capped at
 *   MAX_TENSOR_BYTES (1 GiB): making one more throws an error at the reader's line.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_ORDER, currentBackend, type BackendName } from '../core/backends';
import { batchTensor, labelsOf, type MnistData } from '../core/data';
import { epsFromX0, posteriorMean, posteriorVariance, qSample, x0FromEps } from '../core/forward';
import { decodeScaled, encodeScaled } from '../core/autoencoder';
import { embed } from '../core/classifier';
import { classifierFreeGuidance, conditioned, scaleFromW, unconditional, wFromScale } from '../core/guidance';
import { makeNoise, makeRng } from '../core/noise';
import { ddpmSigma, samplers } from '../core/samplers';
import { halfSignalT, makeSchedule } from '../core/schedules';
import {
  MAX_OUTPUT_ITEMS,
  MAX_PLOT_POINTS,
  MAX_TENSOR_BYTES,
  cellFileName,
  cellPosition,
  formatArgs,
  formatValue,
  imageLayout,
  imagePlan,
  imagesItem,
  makeCellFunction,
  measureLineOffset,
  plotItem,
  tensorMemoryMessage,
  thinnedNote,
  type FromKernel,
  type Leftovers,
  type OutputItem,
  type ShowOptions,
  type ToKernel,
} from './kernelProtocol';
import { Resources } from './resources';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const scope = self as unknown as DedicatedWorkerGlobalScope;

// ---- what the kernel needs untouched: captured before any cell runs ------------------------------------
const apply = Reflect.apply;
const portPost = MessagePort.prototype.postMessage;
const eventData = Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'data')!.get!;
const eventPorts = Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'ports')!.get!;
const realSetTimeout = scope.setTimeout.bind(scope);
const realSetInterval = scope.setInterval.bind(scope);
const realClearTimer = scope.clearTimeout.bind(scope);
const realAddListener = scope.addEventListener.bind(scope);
const realRemoveListener = scope.removeEventListener.bind(scope);

/**
 * A later cell can replace a shared function (console.log, a tf method, a prototype's) and, when an earlier
 * cell calls it, reach that cell's functions through `caller` or a stack trace's getFunction(). Their source
 * text is the cell's code, so Function.prototype.toString no longer gives it: cell functions and functions
 * whose source lies inside a cell's code read as a placeholder. The native toString stays in this closure.
 */
const nativeToString = Function.prototype.toString;
const cellFunctions = new WeakSet<object>();
/** The compiled code of the latest runs (bounded), to recognise the functions defined in them. */
const cellSources: string[] = [];
const HIDDEN_SOURCE = 'function () { [code of a notebook cell] }';
Object.defineProperty(Function.prototype, 'toString', {
  configurable: true,
  writable: true,
  value: function toString(this: unknown): string {
    if (typeof this === 'function' && cellFunctions.has(this)) return HIDDEN_SOURCE;
    const source = apply(nativeToString, this, []) as string;
    if (source.length >= 8) for (let i = 0; i < cellSources.length; i++) if (cellSources[i].includes(source)) return HIDDEN_SOURCE;
    return source;
  },
});

/** The private port to the page (see the module comment); null until the page's init arrives. */
let port: MessagePort | null = null;
const post = (msg: FromKernel, transfer: Transferable[] = []) => {
  if (port) apply(portPost, port, [msg, transfer]);
};

// ---- files, asked of the page -------------------------------------------------------------------------
/** The site's root URL as the page gave it in init (this worker's own origin is opaque: it has no site). */
let siteRoot = 'https://site.invalid/';
let nextFileRequest = 1;
const fileRequests = new Map<number, { resolve(r: Response): void; reject(e: Error): void }>();

/**
 * fetch for the kernel and for cells: the page fetches the file if it is one the kernel may have (a models/ file,
 * the MNIST file, a tfjs wasm binary) and sends its bytes; anything else is refused with the page's reason.
 */
function kernelFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  let path: string;
  let method: string;
  try {
    // One string, read once: what the page checks is what it fetches.
    path = typeof input === 'string' ? input : input instanceof URL ? input.href : input instanceof Request ? input.url : String(input);
    path = String(path);
    method = String(init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  } catch (e) {
    return Promise.reject(new TypeError(`fetch: ${formatValue(e)}`));
  }
  return new Promise((resolve, reject) => {
    const reqId = nextFileRequest++;
    fileRequests.set(reqId, { resolve, reject });
    post({ type: 'fetch', reqId, path, method });
  });
}

function onFile(msg: Extract<ToKernel, { type: 'file' }>): void {
  const waiting = fileRequests.get(msg.reqId);
  if (!waiting) return;
  fileRequests.delete(msg.reqId);
  if (typeof msg.error === 'string' || !(msg.bytes instanceof ArrayBuffer) || typeof msg.status !== 'number') {
    waiting.reject(new TypeError(typeof msg.error === 'string' ? msg.error : 'the page sent no file'));
    return;
  }
  const headers = typeof msg.contentType === 'string' ? { 'Content-Type': msg.contentType } : undefined;
  waiting.resolve(new Response(msg.status === 204 || msg.status === 304 ? null : msg.bytes, { status: msg.status >= 200 && msg.status <= 599 ? msg.status : 500, headers }));
}

// tfjs's wasm binaries by name, fetched through the page (tfjs's platform fetch), never by URL.
setWasmPaths({ 'tfjs-backend-wasm.wasm': 'tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm': 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm': 'tfjs-backend-wasm-threaded-simd.wasm' }, true);
(tf.env().platform as unknown as { fetch: typeof fetch }).fetch = (path: RequestInfo | URL, init?: RequestInit) => kernelFetch(path, init);

// Defence in depth (the frame's policy already refuses every connection): the network globals are gone.
for (const name of ['XMLHttpRequest', 'WebSocket', 'EventSource', 'WebTransport', 'importScripts', 'BroadcastChannel', 'SharedWorker']) {
  try {
    Object.defineProperty(scope, name, { value: undefined, writable: false, configurable: false });
  } catch {
    /* not defined here */
  }
}
Object.defineProperty(scope, 'fetch', { value: kernelFetch, writable: false, configurable: false });

// ---- output --------------------------------------------------------------------------------------------
/** The run whose output is being collected: the running cell, or the owner of a leftover callback while it runs. */
let runId = 0;
/** The run in progress (0 between runs). */
let activeRun = 0;
/** Output items posted per run (runs with leftovers keep theirs; the page holds each run to its own budget too). */
const outputsOf = new Map<number, number>();
function emit(item: OutputItem, id = runId): void {
  const outputs = (outputsOf.get(id) ?? 0) + 1;
  outputsOf.set(id, outputs);
  if (outputs > MAX_OUTPUT_ITEMS) {
    if (outputs === MAX_OUTPUT_ITEMS + 1) post({ type: 'output', id, item: { kind: 'log', level: 'warn', text: `(output stopped after ${MAX_OUTPUT_ITEMS} items)` } });
    return;
  }
  post({ type: 'output', id, item }, item.kind === 'images' ? [item.pixels.buffer as ArrayBuffer] : []);
}

const cellConsole = {
  log: (...a: unknown[]) => emit({ kind: 'log', level: 'log', text: formatArgs(a) }),
  info: (...a: unknown[]) => emit({ kind: 'log', level: 'info', text: formatArgs(a) }),
  debug: (...a: unknown[]) => emit({ kind: 'log', level: 'log', text: formatArgs(a) }),
  warn: (...a: unknown[]) => emit({ kind: 'log', level: 'warn', text: formatArgs(a) }),
  error: (...a: unknown[]) => emit({ kind: 'log', level: 'error', text: formatArgs(a) }),
};

// ---- leftovers: timers and listeners a run leaves alive ------------------------------------------------
interface TrackedTimer { run: number; kind: 'timeout' | 'interval' }
interface TrackedListener { run: number; type: string; capture: boolean; listener: EventListenerOrEventListenerObject; wrapped: EventListener }
/** By the handle the cell got (the real timer's). */
const timers = new Map<number, TrackedTimer>();
const listeners = new Set<TrackedListener>();
/** The counts last reported per finished run that still leaves something alive, so a change is posted once. */
const reported = new Map<number, string>();

function leftoversOf(run: number): Leftovers {
  const l: Leftovers = { timeouts: 0, intervals: 0, listeners: 0 };
  for (const t of timers.values()) if (t.run === run) t.kind === 'timeout' ? l.timeouts++ : l.intervals++;
  for (const e of listeners) if (e.run === run) l.listeners++;
  return l;
}

/** Tell the page what a finished run still leaves alive, when that changed (a finished run starts from none). */
function report(run: number): void {
  if (run === activeRun || run === 0) return;
  const l = leftoversOf(run);
  const key = `${l.timeouts},${l.intervals},${l.listeners}`;
  if ((reported.get(run) ?? '0,0,0') === key) return;
  if (key === '0,0,0') {
    reported.delete(run);
    if (run !== runId) outputsOf.delete(run);
  } else reported.set(run, key);
  post({ type: 'leftovers', id: run, leftovers: l });
}

/**
 * Call a leftover callback for run `owner`: its output goes to that run's cell; an exception is shown there,
 * not thrown. When no run is active the page is told (busy, then idle after the synchronous part), so its time
 * limit can stop a callback that never returns.
 */
function guarded(owner: number, what: string, fn: unknown, self: unknown, args: unknown[]): void {
  if (typeof fn !== 'function') return;
  const background = activeRun === 0;
  if (background) post({ type: 'background', id: owner, busy: true, what });
  const previous = runId;
  runId = owner;
  try {
    apply(fn as (...a: unknown[]) => unknown, self, args);
  } catch (e) {
    emit({ kind: 'log', level: 'error', text: `Uncaught ${formatValue(e)} (in ${what} this cell left)` }, owner);
  } finally {
    runId = previous;
    if (background) post({ type: 'background', id: owner, busy: false });
  }
}

const callable = (cb: unknown): unknown => (typeof cb === 'function' ? cb : () => (0, eval)(String(cb)));

function cellSetTimeout(cb: unknown, ms?: number, ...args: unknown[]): number {
  const owner = runId;
  const fn = callable(cb);
  const handle: number = realSetTimeout(() => {
    timers.delete(handle);
    guarded(owner, 'a timer', fn, undefined, args);
    report(owner);
  }, ms);
  timers.set(handle, { run: owner, kind: 'timeout' });
  return handle;
}

function cellSetInterval(cb: unknown, ms?: number, ...args: unknown[]): number {
  const owner = runId;
  const fn = callable(cb);
  const handle: number = realSetInterval(() => {
    guarded(owner, 'a timer', fn, undefined, args);
    report(owner);
  }, ms);
  timers.set(handle, { run: owner, kind: 'interval' });
  return handle;
}

function cellClearTimer(handle?: number): void {
  if (handle === undefined) return;
  realClearTimer(handle);
  const t = timers.get(handle);
  if (!t) return;
  timers.delete(handle);
  report(t.run);
}

const captureOf = (options?: boolean | EventListenerOptions) => (typeof options === 'boolean' ? options : !!options?.capture);

function removeTracked(entry: TrackedListener): void {
  if (!listeners.delete(entry)) return;
  realRemoveListener(entry.type, entry.wrapped, entry.capture);
  report(entry.run);
}

function cellAddEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
  if (!listener) return;
  type = String(type);
  const capture = captureOf(options);
  for (const e of listeners) if (e.type === type && e.listener === listener && e.capture === capture) return; // as the DOM: no duplicates
  const once = typeof options === 'object' && !!options?.once;
  const signal = typeof options === 'object' ? options?.signal : undefined;
  if (signal?.aborted) return;
  const entry: TrackedListener = {
    run: runId,
    type,
    capture,
    listener,
    wrapped: function (this: unknown, ev: Event) {
      if (once) removeTracked(entry);
      const fn = typeof listener === 'function' ? listener : listener.handleEvent;
      guarded(entry.run, 'an event listener', fn, typeof listener === 'function' ? this : listener, [ev]);
    },
  };
  listeners.add(entry);
  realAddListener(type, entry.wrapped, { capture, passive: typeof options === 'object' ? options?.passive : undefined });
  signal?.addEventListener('abort', () => removeTracked(entry), { once: true });
}

function cellRemoveEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void {
  const capture = captureOf(options);
  for (const e of listeners) if (e.type === String(type) && e.listener === listener && e.capture === capture) return removeTracked(e);
}

/** Clear what run `id` left (every run's when undefined) and report the new counts. */
function stopLeftovers(id?: number): void {
  const runs = new Set<number>();
  for (const [handle, t] of timers) {
    if (id !== undefined && t.run !== id) continue;
    realClearTimer(handle);
    timers.delete(handle);
    runs.add(t.run);
  }
  for (const e of listeners) {
    if (id !== undefined && e.run !== id) continue;
    listeners.delete(e);
    realRemoveListener(e.type, e.wrapped, e.capture);
    runs.add(e.run);
  }
  for (const run of runs) report(run);
}

for (const [name, value] of Object.entries({
  setTimeout: cellSetTimeout,
  setInterval: cellSetInterval,
  clearTimeout: cellClearTimer,
  clearInterval: cellClearTimer,
  addEventListener: cellAddEventListener,
  removeEventListener: cellRemoveEventListener,
})) {
  Object.defineProperty(scope, name, { value, writable: true, configurable: true });
}
// `self.onmessage = …` and the like become tracked listeners too.
for (const name of ['onmessage', 'onmessageerror', 'onerror', 'onunhandledrejection', 'onrejectionhandled']) {
  let handler: unknown = null;
  let entryListener: EventListener | null = null;
  const type = name.slice(2);
  try {
    Object.defineProperty(scope, name, {
      configurable: true,
      get: () => handler,
      set: (v: unknown) => {
        if (entryListener) cellRemoveEventListener(type, entryListener);
        handler = typeof v === 'function' ? v : null;
        entryListener = null;
        if (typeof v === 'function') {
          const fn = v as (e: Event) => unknown;
          entryListener = function (this: unknown, e: Event) {
            return apply(fn, this, [e]);
          };
          cellAddEventListener(type, entryListener);
        }
      },
    });
  } catch {
    /* not redefinable here */
  }
}

// ---- show() --------------------------------------------------------------------------------------------
/** show() calls of the running cell that have not finished; the run waits for them before it reports. */
const pending = new Set<Promise<void>>();

/**
 * A 1-D tensor of more than MAX_PLOT_POINTS values, thinned on the device: per equal bucket the lowest and the
 * highest value with their indices (the last, shorter bucket read back and reduced here). Only ~5,000 numbers
 * are read back, whatever the length.
 */
function thinOnDevice(t: tf.Tensor): () => Promise<{ index: number[]; value: number[] }> {
  const n = t.size;
  const buckets = MAX_PLOT_POINTS / 2 - 1;
  const k = Math.floor(n / buckets);
  const m = buckets * k;
  const parts = tf.tidy(() => {
    const f = t.dtype === 'float32' ? t : tf.cast(t, 'float32');
    const main = tf.reshape(m === n ? f : tf.slice(f, 0, m), [buckets, k]);
    return [tf.min(main, 1), tf.argMin(main, 1), tf.max(main, 1), tf.argMax(main, 1), tf.slice(f, m)];
  });
  return async () => {
    try {
      const [lo, loAt, hi, hiAt, tail] = await Promise.all(parts.map((p) => p.data()));
      const index: number[] = [];
      const value: number[] = [];
      const push = (i: number, v: number) => (index.push(i), value.push(v));
      for (let b = 0; b < buckets; b++) {
        const i = b * k + loAt[b];
        const j = b * k + hiAt[b];
        if (i === j) push(i, lo[b]);
        else if (i < j) (push(i, lo[b]), push(j, hi[b]));
        else (push(j, hi[b]), push(i, lo[b]));
      }
      if (tail.length) {
        let iLo = 0;
        let iHi = 0;
        for (let i = 1; i < tail.length; i++) {
          if (tail[i] < tail[iLo]) iLo = i;
          if (tail[i] > tail[iHi]) iHi = i;
        }
        for (const i of iLo <= iHi ? [iLo, iHi] : [iHi, iLo]) if (index[index.length - 1] !== m + i) push(m + i, tail[i]);
      }
      return { index, value };
    } finally {
      tf.dispose(parts);
    }
  };
}

/**
 * show(value, options?): a tensor of images as a grid ([N, H, W, C], [H, W, C], [N, H, W], [H, W]); a 1-D
 * tensor, a numeric array or an object of named arrays as a line plot; anything else as text. Safe without
 * `await`: what it needs of a tensor is copied (or reduced) at once, so the cell may dispose it on the next line.
 * Everything about size is decided from the shape first: an image larger than the page draws is refused with a
 * line saying so, only the images drawn are read back, and a long 1-D tensor is thinned on the device.
 */
function show(value: unknown, opts: ShowOptions = {}): Promise<void> {
  let work: () => Promise<void>;
  let kept: tf.Tensor | null = null;
  if (value instanceof tf.Tensor) {
    const t = value;
    const layout = t.isDisposed ? null : imageLayout(t.shape);
    if (t.isDisposed) work = async () => emit({ kind: 'text', text: 'Tensor (disposed)', label: opts.label });
    else if (layout && layout.h > 1 && layout.w > 1) {
      const plan = imagePlan(t.shape)!;
      if ('refuse' in plan) work = async () => emit({ kind: 'text', text: plan.refuse, label: opts.label });
      else {
        const shape = [...t.shape];
        shape[0] = plan.draw;
        const copy = (kept = plan.draw < layout.n ? tf.slice(t, 0, plan.draw) : tf.clone(t));
        work = async () => {
          // data(), never dataSync(): dataSync can return stale values on WebGPU.
          emit(imagesItem(await copy.data<'float32'>(), layout.n === 1 ? t.shape : shape, opts));
          if (plan.note) emit({ kind: 'log', level: 'warn', text: plan.note });
        };
      }
    } else if (t.rank === 1 && t.size > MAX_PLOT_POINTS) {
      const read = thinOnDevice(t);
      const size = t.size;
      work = async () => {
        const { index, value: ys } = await read();
        const xs = opts.x ? Array.from({ length: index.length }, (_, i) => Number(opts.x![index[i]])) : index;
        const item = plotItem({ [opts.yLabel ?? 'y']: ys }, { ...opts, x: xs })!;
        emit(item);
        emit({ kind: 'log', level: 'info', text: thinnedNote(size) });
      };
    } else if (t.rank === 1 && t.size > 1) {
      const copy = (kept = tf.clone(t));
      work = async () => emit(plotItem(await copy.data<'float32'>(), opts)!);
    } else {
      const copy = t.size <= 64 ? (kept = tf.clone(t)) : null;
      const head = `Tensor ${t.dtype} [${t.shape.join(', ')}]`;
      work = async () => emit({ kind: 'text', text: copy ? `${head} ${formatValue(Array.from(await copy.data()))}` : head, label: opts.label });
    }
  } else {
    work = async () => {
      const notes: string[] = [];
      const plot = plotItem(value, opts, notes);
      if (!plot) return emit({ kind: 'text', text: formatValue(value), label: opts.label });
      emit(plot);
      for (const text of notes) emit({ kind: 'log', level: 'info', text });
    };
  }
  const copy = kept;
  const p = work().finally(() => {
    copy?.dispose();
    pending.delete(p);
  });
  pending.add(p);
  p.catch(() => {}); // reported through the run (below), not as an unhandled rejection
  return p;
}

// ---- tensor memory -------------------------------------------------------------------------------------
/**
 * Every new tensor passes through the engine's trackTensor: past MAX_TENSOR_BYTES the new one is disposed again
 * and the cell gets an error at its own line (the stack is kept deep enough to reach the cell's frame).
 */
const engine = tf.engine() as unknown as { trackTensor(a: tf.Tensor, backend: unknown): void; state: { numBytes: number; numTensors: number } };
const trackTensor = engine.trackTensor;
engine.trackTensor = function (this: typeof engine, a: tf.Tensor, backend: unknown) {
  apply(trackTensor, this, [a, backend]);
  if (this.state.numBytes <= MAX_TENSOR_BYTES) return;
  const { numBytes, numTensors } = this.state;
  a.dispose();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 200;
  const err = new RangeError(tensorMemoryMessage(numBytes, numTensors));
  Error.stackTraceLimit = limit;
  throw err;
};
// ---- backend, data and models --------------------------------------------------------------------------
let order: BackendName[] = [...BACKEND_ORDER];
/** Made at init, when the page has said where the site's files are (all fetched through the page). */
let resources = makeResources();
function makeResources(): Resources {
  return new Resources({ root: siteRoot, fetch: kernelFetch, onEvent: (e) => e.type === 'backend' && post({ type: 'ready', backend: e.backend }) });
}
let backendRequested = false;
function ensureBackend(): Promise<unknown> {
  if (!backendRequested) post({ type: 'status', text: 'starting TensorFlow.js…' });
  backendRequested = true;
  return resources.ensureBackend(order);
}
const loadMnist = () => resources.mnist();

/** Indices of `count` (1…256) held-out digits, of one class if `label` is given, skipping the first `start`. */
async function pickHeldOut(count: number, label: number | undefined, start: number): Promise<{ test: MnistData['test']; picked: number[] }> {
  const { test } = await loadMnist();
  const n = Math.max(1, Math.min(256, Math.trunc(count)));
  const picked: number[] = [];
  for (let i = 0; i < test.count && picked.length < n + start; i++) if (label === undefined || test.labels[i] === label) picked.push(i);
  return { test, picked: picked.slice(start, start + n) };
}

/** `count` held-out digits ([count, 28, 28, 1] in [−1, 1]), of one class if `label` is given; from `start`. */
async function digits(count = 8, label?: number, start = 0): Promise<tf.Tensor4D> {
  const { test, picked } = await pickHeldOut(count, label, start);
  return batchTensor(test, picked);
}

/** The labels of the same digits `digits(count, label, start)` returns. */
async function digitLabels(count = 8, label?: number, start = 0): Promise<number[]> {
  const { test, picked } = await pickHeldOut(count, label, start);
  return Array.from(labelsOf(test, picked));
}

const api: Record<string, unknown> = Object.assign(Object.create(null), {
  tf,
  show,
  console: cellConsole,
  fetch: kernelFetch,
  // the core API (src/core)
  makeSchedule,
  halfSignalT,
  qSample,
  x0FromEps,
  epsFromX0,
  posteriorMean,
  posteriorVariance,
  makeNoise,
  makeRng,
  samplers,
  ddpmSigma,
  conditioned,
  unconditional,
  classifierFreeGuidance,
  scaleFromW,
  wFromScale,
  decodeScaled,
  encodeScaled,
  embed,
  // shipped models and data (loaded once per kernel)
  loadModel: (name = 'unet-mnist') => resources.unet(name),
  loadLatentModel: (name = 'latent-mnist') => resources.latent(name),
  loadClassifier: (name = 'classifier-mnist') => resources.classifier(name),
  digits,
  digitLabels,
  backend: () => currentBackend(),
  /** A timeout like any other: an un-awaited sleep() counts among the run's leftover timers. */
  sleep: (ms: number) => new Promise((r) => cellSetTimeout(r, ms)),
});
let state: Record<string, unknown> = Object.create(api);

// ---- running cells -------------------------------------------------------------------------------------
const lineOffset = measureLineOffset();

async function run(id: number, js: string, declared: string[]): Promise<void> {
  runId = id;
  activeRun = id;
  for (const old of outputsOf.keys()) if (!reported.has(old)) outputsOf.delete(old);
  outputsOf.set(id, 0);
  const started = performance.now();
  let before = 0;
  let modelsBefore = resources.modelTensors;
  let message: FromKernel;
  try {
    await ensureBackend();
    before = tf.memory().numTensors;
    modelsBefore = resources.modelTensors;
    for (const name of declared) if (!Object.prototype.hasOwnProperty.call(state, name)) state[name] = undefined;
    pending.clear();
    const cell = makeCellFunction(js, id);
    cellFunctions.add(cell);
    cellSources[cellSources.length] = js;
    if (cellSources.length > 100) cellSources.splice(0, cellSources.length - 100);
    const result = await cell(state);
    if (result !== undefined) void show(result);
    // show() calls the cell did not await still belong to it (their errors too); no spread of the set.
    while (pending.size) await pending.values().next().value;
    const numTensors = tf.memory().numTensors;
    message = { type: 'done', id, ms: performance.now() - started, newTensors: numTensors - before - (resources.modelTensors - modelsBefore), numTensors: numTensors - resources.modelTensors, leftovers: leftoversOf(id) };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(formatValue(e));
    const pos = cellPosition(err.stack, cellFileName(id), await lineOffset);
    message = { type: 'error', id, name: err.name || 'Error', message: err.message, line: pos?.line, column: pos?.column, leftovers: leftoversOf(id) };
  }
  activeRun = 0;
  const l = message.leftovers!;
  if (l.timeouts + l.intervals + l.listeners > 0) reported.set(id, `${l.timeouts},${l.intervals},${l.listeners}`);
  post(message);
}

realAddListener('unhandledrejection', (e) => {
  e.preventDefault();
  emit({ kind: 'log', level: 'error', text: `Unhandled rejection: ${formatValue(e.reason)}` });
});
realAddListener('error', (e) => {
  e.preventDefault();
  emit({ kind: 'log', level: 'error', text: `Uncaught ${e.message}` });
});

/** One cell at a time, in the order the page sent them (a plain array: no Promise.prototype.then a cell could replace). */
const jobs: (() => Promise<void>)[] = [];
let draining = false;
async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i];
    jobs[i] = undefined as unknown as () => Promise<void>;
    await job();
  }
  jobs.length = 0;
  draining = false;
}

function onPortMessage(e: MessageEvent): void {
  const msg = apply(eventData, e, []) as ToKernel;
  if (!msg || typeof msg !== 'object') return;
  if (msg.type === 'run') {
    if (typeof msg.id !== 'number' || typeof msg.js !== 'string') return;
    const { id, js } = msg;
    const declared: string[] = [];
    if (Array.isArray(msg.declared)) for (let i = 0; i < msg.declared.length; i++) if (typeof msg.declared[i] === 'string') declared[declared.length] = msg.declared[i];
    jobs[jobs.length] = () => run(id, js, declared);
    void drain();
  } else if (msg.type === 'file') {
    if (typeof msg.reqId === 'number') onFile(msg);
  } else if (msg.type === 'stopLeftovers') {
    stopLeftovers(typeof msg.id === 'number' ? msg.id : undefined);
  } else if (msg.type === 'restart') {
    // Report what the cells left behind; the page then terminates this worker, which frees it all.
    const mem = backendRequested ? tf.memory() : { numTensors: 0, numBytes: 0 };
    state = Object.create(api);
    post({ type: 'restarted', numTensors: Math.max(0, mem.numTensors - resources.modelTensors), numBytes: mem.numBytes });
  }
}

/**
 * The page's first message, on the worker itself: `init` with the private port. The kernel takes the port and
 * stops listening on the worker; anything a cell posts to or listens for on `self` never meets the page's traffic.
 */
function onFirstMessage(e: MessageEvent): void {
  const msg = apply(eventData, e, []) as ToKernel;
  const ports = apply(eventPorts, e, []) as readonly MessagePort[];
  if (port || !msg || typeof msg !== 'object' || msg.type !== 'init' || !ports[0]) return;
  realRemoveListener('message', onFirstMessage);
  port = ports[0];
  if (Array.isArray(msg.order) && msg.order.length) order = msg.order;
  if (typeof msg.root === 'string') {
    try {
      siteRoot = new URL(msg.root).href;
      resources = makeResources();
    } catch {
      /* keep the placeholder: every file is refused by the page then */
    }
  }
  port.onmessage = onPortMessage;
}
realAddListener('message', onFirstMessage);
