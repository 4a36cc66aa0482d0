/// <reference lib="webworker" />
/**
 * The notebook kernel: runs the readers' cells off the main thread, one lesson page = one kernel, so cells
 * share variables like a Jupyter kernel. Cells arrive already compiled (src/widgets/notebook/compile.ts) and
 * run as `async function (scope) { with (scope) { … } }`: top-level names live in `scope`, whose prototype is
 * the API below (tfjs, the core modules, show(), model and data loaders).
 *
 * Sandbox: a dedicated worker (no DOM, no access to the page), fetch limited to this site, no XHR, sockets
 * or importScripts. An endless loop cannot be interrupted from inside, so the page stops a cell by
 * terminating this worker (Stop button or time limit) and starts a fresh one.
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
  cellFileName,
  cellPosition,
  formatArgs,
  formatValue,
  imageLayout,
  imagesItem,
  makeCellFunction,
  measureLineOffset,
  plotItem,
  type FromKernel,
  type OutputItem,
  type ShowOptions,
  type ToKernel,
} from './kernelProtocol';
import { Resources } from './resources';
import { siteRoot, wasmPaths } from './runtime';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (msg: FromKernel, transfer: Transferable[] = []) => scope.postMessage(msg, transfer);

// ---- sandbox -------------------------------------------------------------------------------------------
const realFetch = scope.fetch.bind(scope);
function siteFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : String(input), siteRoot);
  if (url.origin !== scope.location.origin) return Promise.reject(new TypeError(`the notebook only loads files from this site, not from ${url.origin}`));
  return realFetch(input, init);
}
for (const name of ['XMLHttpRequest', 'WebSocket', 'EventSource', 'importScripts', 'BroadcastChannel', 'SharedWorker']) {
  try {
    Object.defineProperty(scope, name, { value: undefined, writable: false, configurable: false });
  } catch {
    /* not defined here */
  }
}
Object.defineProperty(scope, 'fetch', { value: siteFetch, writable: false, configurable: false });

// ---- output --------------------------------------------------------------------------------------------
/** The run whose output is being collected (asynchronous leftovers of a finished run still go to its cell). */
let runId = 0;
let outputs = 0;
function emit(item: OutputItem): void {
  outputs++;
  if (outputs > MAX_OUTPUT_ITEMS) {
    if (outputs === MAX_OUTPUT_ITEMS + 1) post({ type: 'output', id: runId, item: { kind: 'log', level: 'warn', text: `(output stopped after ${MAX_OUTPUT_ITEMS} items)` } });
    return;
  }
  post({ type: 'output', id: runId, item }, item.kind === 'images' ? [item.pixels.buffer as ArrayBuffer] : []);
}

const cellConsole = {
  log: (...a: unknown[]) => emit({ kind: 'log', level: 'log', text: formatArgs(a) }),
  info: (...a: unknown[]) => emit({ kind: 'log', level: 'info', text: formatArgs(a) }),
  debug: (...a: unknown[]) => emit({ kind: 'log', level: 'log', text: formatArgs(a) }),
  warn: (...a: unknown[]) => emit({ kind: 'log', level: 'warn', text: formatArgs(a) }),
  error: (...a: unknown[]) => emit({ kind: 'log', level: 'error', text: formatArgs(a) }),
};

/** show() calls of the running cell that have not finished; the run waits for them before it reports. */
const pending = new Set<Promise<void>>();

/**
 * show(value, options?): a tensor of images as a grid ([N, H, W, C], [H, W, C], [N, H, W], [H, W]); a 1-D
 * tensor, a numeric array or an object of named arrays as a line plot; anything else as text. Safe without
 * `await`: a tensor is copied at once, so the cell may dispose it on the next line.
 */
function show(value: unknown, opts: ShowOptions = {}): Promise<void> {
  const copy = value instanceof tf.Tensor && !value.isDisposed ? tf.clone(value) : null;
  const p = showNow(copy ?? value, opts).finally(() => {
    copy?.dispose();
    pending.delete(p);
  });
  pending.add(p);
  p.catch(() => {}); // reported through the run (below), not as an unhandled rejection
  return p;
}

async function showNow(value: unknown, opts: ShowOptions): Promise<void> {
  if (value instanceof tf.Tensor) {
    if (value.isDisposed) return emit({ kind: 'text', text: 'Tensor (disposed)', label: opts.label });
    const layout = imageLayout(value.shape);
    // data(), never dataSync(): dataSync can return stale values on WebGPU.
    if (layout && layout.h > 1 && layout.w > 1) return emit(imagesItem(await value.data<'float32'>(), value.shape, opts));
    if (value.rank === 1 && value.size > 1) return emit(plotItem(await value.data<'float32'>(), opts)!);
    const values = value.size <= 64 ? ` ${formatValue(Array.from(await value.data()))}` : '';
    return emit({ kind: 'text', text: `Tensor ${value.dtype} [${value.shape.join(', ')}]${values}`, label: opts.label });
  }
  const plot = plotItem(value, opts);
  if (plot) return emit(plot);
  emit({ kind: 'text', text: formatValue(value), label: opts.label });
}

// ---- backend, data and models --------------------------------------------------------------------------
let order: BackendName[] = [...BACKEND_ORDER];
const resources = new Resources({ root: siteRoot, wasmPaths, onEvent: (e) => e.type === 'backend' && post({ type: 'ready', backend: e.backend }) });
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
  fetch: siteFetch,
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
  sleep: (ms: number) => new Promise((r) => setTimeout(r, ms)),
});
let state: Record<string, unknown> = Object.create(api);

// ---- running cells -------------------------------------------------------------------------------------
const lineOffset = measureLineOffset();

async function run(id: number, js: string, declared: string[]): Promise<void> {
  runId = id;
  outputs = 0;
  const started = performance.now();
  let before = 0;
  let modelsBefore = resources.modelTensors;
  try {
    await ensureBackend();
    before = tf.memory().numTensors;
    modelsBefore = resources.modelTensors;
    for (const name of declared) if (!Object.prototype.hasOwnProperty.call(state, name)) state[name] = undefined;
    pending.clear();
    const result = await makeCellFunction(js, id)(state);
    if (result !== undefined) void show(result);
    // show() calls the cell did not await still belong to it (their errors too).
    while (pending.size) await Promise.all([...pending]);
    const numTensors = tf.memory().numTensors;
    post({ type: 'done', id, ms: performance.now() - started, newTensors: numTensors - before - (resources.modelTensors - modelsBefore), numTensors: numTensors - resources.modelTensors });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(formatValue(e));
    const pos = cellPosition(err.stack, cellFileName(id), await lineOffset);
    post({ type: 'error', id, name: err.name || 'Error', message: err.message, line: pos?.line, column: pos?.column });
  }
}

scope.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  emit({ kind: 'log', level: 'error', text: `Unhandled rejection: ${formatValue(e.reason)}` });
});
scope.addEventListener('error', (e) => {
  e.preventDefault();
  emit({ kind: 'log', level: 'error', text: `Uncaught ${e.message}` });
});

/** One cell at a time, in the order the page sent them. */
let queue: Promise<void> = Promise.resolve();
scope.addEventListener('message', (e: MessageEvent<ToKernel>) => {
  const msg = e.data;
  if (!msg || typeof msg !== 'object') return;
  if (msg.type === 'init') {
    if (Array.isArray(msg.order) && msg.order.length) order = msg.order;
  } else if (msg.type === 'run') {
    queue = queue.then(() => run(msg.id, String(msg.js), Array.isArray(msg.declared) ? msg.declared.map(String) : []));
  } else if (msg.type === 'restart') {
    // Report what the cells left behind; the page then terminates this worker, which frees it all.
    const mem = backendRequested ? tf.memory() : { numTensors: 0, numBytes: 0 };
    state = Object.create(api);
    post({ type: 'restarted', numTensors: Math.max(0, mem.numTensors - resources.modelTensors), numBytes: mem.numBytes });
  }
});
