/**
 * The tfjs backend ladder: try webgpu → webgl → wasm → cpu and keep the first that initialises and runs
 * a tiny op. Before tfjs touches a GPU rung, `probeBackend` looks at it with the browser's own APIs: a rung the
 * browser cannot offer is skipped quietly, and on the default ladder (`rank`) a GPU that turns out to be a
 * software renderer (SwiftShader, llvmpipe, a WebGPU fallback adapter) is ranked below wasm (`rankBackends`).
 * Detection rather than timing: it costs a few milliseconds and no backend initialisation, gives the same answer on
 * every load, and a one-op timing probe would mostly measure shader compilation, not the models' speed. Each backend package is imported lazily (dynamic import), so a page only downloads what it
 * uses and Node never evaluates browser-only code it does not need.
 *
 * wasm files: in Node the package's `main` is its Node bundle, which reads `tfjs-backend-wasm*.wasm` from
 * its own folder (`__dirname`), so Node callers pass no `wasmPaths`. A bundled page (Vite/Astro) must pass
 * them: import each `.wasm` with `?url` and give the map (or a folder prefix ending in '/') as `wasmPaths`.
 *
 * wasm threads: tfjs-backend-wasm loads its threaded SIMD binary by itself when the context can share memory
 * (`crossOriginIsolated`: the page and the worker's script are served with COOP same-origin + COEP require-corp),
 * otherwise the single-threaded SIMD one. The pool's size is `wasmThreadCount(navigator.hardwareConcurrency)`,
 * set before the backend starts; `BackendChoice.threads` says how many threads XNNPACK really runs.
 *
 * After a failure mid-run (e.g. a lost GPU device) call `fallbackBackend(failed)`: it initialises the next
 * backend down the ladder. Tensors that lived on the failed backend cannot be trusted; rebuild models from
 * their weights (see `getWeights`/`setWeights` in unet.ts) after switching.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmGradKernels } from './kernels';
import { BACKEND_NAMES, isBackendName, type BackendName } from './backendNames';

export type { BackendName } from './backendNames';

/** The default ladder, fastest first. */
export const BACKEND_ORDER: readonly BackendName[] = BACKEND_NAMES;

/** One rung's outcome, reported through `onAttempt`. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was skipped or failed (absent when ok). */
  error?: string;
  /** Wall time spent on this rung. */
  ms: number;
  /** True when the rung was not tried because its probe found it unavailable (tfjs never touched it). */
  skipped?: boolean;
  /** The GPU renderer or adapter the probe found (GPU rungs in a browser). */
  renderer?: string;
  /** The probe found a software renderer (SwiftShader, llvmpipe, a WebGPU fallback adapter…). */
  software?: boolean;
}

/**
 * What a quick look at a rung found before tfjs touched it. GPU rungs are probed with the browser's own APIs
 * (a WebGPU adapter's info; a throw-away WebGL context's `WEBGL_debug_renderer_info`); wasm and cpu need no probe.
 */
export interface BackendProbe {
  name: BackendName;
  /** False: this environment cannot run it (no navigator.gpu or no adapter, no WebGL context). */
  available: boolean;
  /** A software renderer or fallback adapter: it runs, but on the CPU, slower than wasm. */
  software: boolean;
  /** The renderer or adapter as the browser names it. */
  renderer?: string;
  /** Why it is unavailable. */
  reason?: string;
}

export type ProbeFn = (name: BackendName, timeoutMs?: number) => Promise<BackendProbe>;

/** How readers know the backends. */
export const BACKEND_LABELS: Record<BackendName, string> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WebAssembly', cpu: 'plain JavaScript (cpu)' };

const SOFTWARE_RENDERERS: [RegExp, string][] = [
  [/swiftshader/i, 'SwiftShader'],
  [/llvmpipe/i, 'llvmpipe'],
  [/lavapipe/i, 'lavapipe'],
  [/softpipe/i, 'softpipe'],
  [/microsoft basic render/i, 'Microsoft Basic Render Driver'],
  [/\bwarp\b/i, 'WARP'],
  [/software/i, 'software'],
];

/** The software renderer a renderer string names ('SwiftShader', 'llvmpipe', …), or null for a hardware one. */
export function softwareRendererName(renderer: string | undefined | null): string | null {
  if (!renderer) return null;
  for (const [re, name] of SOFTWARE_RENDERERS) if (re.test(renderer)) return name;
  return null;
}

/** The GPU rungs; wasm and cpu always run on the CPU and need no probe. */
const GPU_RUNGS: readonly BackendName[] = ['webgpu', 'webgl'];

type GpuAdapterInfoLike = { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
type GpuAdapterLike = { info?: GpuAdapterInfoLike; isFallbackAdapter?: boolean; requestAdapterInfo?: () => Promise<GpuAdapterInfoLike> };
type GpuLike = { requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null> };

async function probeWebGpu(): Promise<BackendProbe> {
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (!gpu) return { name: 'webgpu', available: false, software: false, reason: 'this browser offers no WebGPU (navigator.gpu is missing)' };
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { name: 'webgpu', available: false, software: false, reason: 'the browser has no WebGPU adapter for this device' };
  const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo().catch(() => undefined) : undefined) ?? {};
  const renderer = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.trim()).join(', ') || undefined;
  const fallback = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  return { name: 'webgpu', available: true, software: fallback || softwareRendererName(renderer) !== null, renderer: renderer ?? (fallback ? 'a fallback adapter' : undefined) };
}

function probeWebGl(): BackendProbe {
  const g = globalThis as { OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: string): unknown }; document?: { createElement(tag: 'canvas'): { getContext(kind: string): unknown } } };
  const canvas = g.OffscreenCanvas ? new g.OffscreenCanvas(1, 1) : g.document ? g.document.createElement('canvas') : null;
  if (!canvas) return { name: 'webgl', available: false, software: false, reason: 'no canvas to draw WebGL on here' };
  let gl: WebGLRenderingContext | null = null;
  try {
    gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
  } catch {
    gl = null;
  }
  if (!gl) return { name: 'webgl', available: false, software: false, reason: 'the browser gives no WebGL context' };
  try {
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '') || undefined;
    return { name: 'webgl', available: true, software: softwareRendererName(renderer) !== null, renderer };
  } finally {
    gl.getExtension('WEBGL_lose_context')?.loseContext();
  }
}

/** Look at one rung with the browser's own APIs, without tfjs: is it there, and is it a software renderer? */
export async function probeBackend(name: BackendName, timeoutMs?: number): Promise<BackendProbe> {
  try {
    if (name === 'webgpu') return await withTimeout(probeWebGpu(), timeoutMs, 'the WebGPU adapter request');
    if (name === 'webgl') return probeWebGl();
    return { name, available: true, software: false };
  } catch (e) {
    return { name, available: false, software: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The default ladder ranked by what the probes found (a pure function): rungs found unavailable are dropped;
 * hardware GPUs keep the front; a GPU on a software renderer moves below wasm (SwiftShader WebGL measured 4–100×
 * slower than wasm for these models), above cpu. Order within each tier is kept; a rung without a probe keeps
 * its tier by name (GPU rungs count as hardware).
 */
export function rankBackends(order: readonly BackendName[], probes: readonly BackendProbe[]): BackendName[] {
  const probe = new Map(probes.map((p) => [p.name, p]));
  const tier = (name: BackendName): number => {
    if (name === 'wasm') return 1;
    if (name === 'cpu') return 3;
    return probe.get(name)?.software ? 2 : 0;
  };
  return order
    .filter((name) => probe.get(name)?.available !== false)
    .map((name, i) => ({ name, i, t: tier(name) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((r) => r.name);
}

/** One sentence a reader can follow: why `backend` computes here, given what was probed and tried. */
export function explainChoice(backend: BackendName, attempts: readonly BackendAttempt[], probes: readonly BackendProbe[], ranked: boolean): string {
  const label = BACKEND_LABELS;
  const probe = new Map(probes.map((p) => [p.name, p]));
  const parts: string[] = [];
  const chosen = probe.get(backend);
  if (chosen && GPU_RUNGS.includes(backend)) {
    const soft = softwareRendererName(chosen.renderer) ?? (chosen.software ? 'a fallback adapter' : null);
    parts.push(
      soft
        ? `${label[backend]} runs on a software renderer (${soft}), slower than a real GPU.`
        : `${label[backend]} runs on the GPU${chosen.renderer ? ` (${chosen.renderer})` : ''}.`,
    );
  }
  // First the GPUs ranked below wasm (the usual surprise), then what was missing or failed.
  for (const name of GPU_RUNGS) {
    const p = probe.get(name);
    const a = attempts.find((x) => x.name === name);
    if (name !== backend && p?.software && p.available && (!a || a.ok)) {
      const soft = softwareRendererName(p.renderer) ?? 'a fallback adapter';
      parts.push(`${label[name]} runs on a software renderer (${soft}), slower than ${label.wasm} here.`);
    }
  }
  for (const a of attempts) {
    if (a.ok || a.name === backend) continue;
    parts.push(a.skipped ? `${label[a.name]}: ${a.error ?? 'not available here'}.` : `${label[a.name]} failed to start (${a.error ?? 'unknown error'}).`);
  }
  if (!parts.length) parts.push(ranked ? `${label[backend]} is the fastest backend that runs here.` : `${label[backend]} is the backend asked for.`);
  return parts.join(' ');
}

/**
 * The most threads the wasm backend asks for by default. The page's own thread and the notebook kernel need cores
 * too, and these small 28 × 28 networks split into few enough pieces that more threads mostly wait on each other.
 */
export const MAX_WASM_THREADS = 4;

/**
 * How many threads XNNPACK's pool runs by default on a machine with `cores` logical cores: one per two (the usual
 * two hardware threads per physical core, tfjs's own estimate), 1…MAX_WASM_THREADS. Measured on 2 shared cores
 * (`npm run bench -- threads`): a second thread made training and sampling slower, so 2 cores run one.
 */
export function wasmThreadCount(cores: number | undefined): number {
  const n = Math.floor(Number(cores) / 2);
  return Number.isFinite(n) && n > 1 ? Math.min(n, MAX_WASM_THREADS) : 1;
}

/** True when this context may share memory between threads (what the threaded wasm binary needs). */
export function canShareMemory(g: { crossOriginIsolated?: boolean; SharedArrayBuffer?: unknown } = globalThis): boolean {
  return g.crossOriginIsolated === true && typeof g.SharedArrayBuffer === 'function';
}

export interface InitBackendOptions {
  /**
   * Threads for the wasm backend's pool when the context can share memory (default:
   * `wasmThreadCount(navigator.hardwareConcurrency)`); ignored elsewhere, where the single-threaded binary runs.
   */
  wasmThreads?: number;
  /** Backends to try, in order (default BACKEND_ORDER). */
  order?: readonly BackendName[];
  /** Where the wasm binaries live: a prefix ending in '/' or a map file name → URL (browser bundles only). */
  wasmPaths?: string | Record<string, string>;
  /** Give up on one rung after this long and try the next; the abandoned backend is removed from tfjs (default: wait). */
  timeoutMs?: number;
  /** Called once per rung tried, in order. */
  onAttempt?: (attempt: BackendAttempt) => void;
  /**
   * Look at each GPU rung with the browser's own APIs before tfjs touches it (default: `probeBackend`): a rung
   * found unavailable is skipped quietly (tfjs would log warnings for it). `false`: no probes.
   */
  probe?: ProbeFn | false;
  /** Rank the probed rungs (`rankBackends`): software GPUs below wasm. Meant for the default ladder; an order the reader chose is kept. */
  rank?: boolean;
}

/** The outcome of `chooseBackend`. */
export interface BackendChoice {
  backend: BackendName;
  /** Every rung tried or skipped, in the order it came up; the last is the chosen one. */
  attempts: BackendAttempt[];
  /** What the probes found. */
  probes: BackendProbe[];
  /** The ladder as tried (after ranking); the fallback after a failure walks down this order. */
  order: BackendName[];
  ranked: boolean;
  /** Why `backend` computes here, for the reader. */
  reason: string;
  /** wasm only: how many threads its pool runs (1 on the single-threaded binary). */
  threads?: number;
}

let wasmPathsSet = false;
/** The wasm module's `getThreadsCount`, once the package is imported. */
let wasmThreadsInUse: (() => number) | null = null;

/** How many threads the running wasm backend uses (undefined before it started). */
export function wasmThreadsRunning(): number | undefined {
  try {
    return wasmThreadsInUse?.() ?? undefined;
  } catch {
    return undefined; // not initialised yet
  }
}

type NavigatorLike = { hardwareConcurrency?: number };
const globalNavigator = (): NavigatorLike | undefined => (globalThis as { navigator?: NavigatorLike }).navigator;

/** The pool size to ask the wasm backend for here: 1 where memory cannot be shared. */
function wasmThreadsWanted(opts: InitBackendOptions): number {
  return canShareMemory() ? (opts.wasmThreads ?? wasmThreadCount(globalNavigator()?.hardwareConcurrency)) : 1;
}

/**
 * Run `start` while `nav.hardwareConcurrency` reads `cores`, then put the real value back (also when it throws).
 *
 * Why: tfjs-backend-wasm 4.22 caps its pool at hardwareConcurrency / 2 ("many x86-64 processors have 2 threads per
 * core", backend.cc), whatever `setThreadsCount` asks — on a 2-core machine, one thread. Its Emscripten module reads
 * navigator.hardwareConcurrency once, while the backend starts, so the ladder shows it twice the threads it wants.
 */
export async function withLogicalCores<T>(nav: NavigatorLike | undefined, cores: number, start: () => Promise<T>): Promise<T> {
  if (!nav) return start();
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  Object.defineProperty(nav, 'hardwareConcurrency', { value: cores, configurable: true });
  try {
    return await start();
  } finally {
    if (own) Object.defineProperty(nav, 'hardwareConcurrency', own);
    else delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
  }
}

/** Load a backend package on demand; importing it registers the backend with tfjs-core. */
async function importBackend(name: BackendName, opts: InitBackendOptions): Promise<void> {
  switch (name) {
    case 'webgpu':
      await import('@tensorflow/tfjs-backend-webgpu');
      return;
    case 'webgl':
      await import('@tensorflow/tfjs-backend-webgl');
      return;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (opts.wasmPaths !== undefined && !wasmPathsSet) {
        // Must precede the first wasm initialisation; later calls would not take effect anyway.
        wasm.setWasmPaths(opts.wasmPaths);
        wasmPathsSet = true;
      }
      // Read when the backend starts (the first setBackend('wasm')); the threaded binary loads only where memory can be
      // shared, and only for a pool of more than one thread (one thread runs the plain SIMD binary, as without isolation).
      if (canShareMemory()) {
        const threads = wasmThreadsWanted(opts);
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
        wasm.setThreadsCount(threads);
      }
      wasmThreadsInUse = wasm.getThreadsCount;
      return;
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number | undefined, what: string, onTimeout?: () => void): Promise<T> {
  if (ms === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what} timed out after ${ms} ms`));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Run 1 + 2 on the active backend and read it back asynchronously; true when the answer is 3. */
async function smokeTest(): Promise<boolean> {
  const y = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)));
  try {
    const v = await y.data();
    return v[0] === 3;
  } finally {
    y.dispose();
  }
}

/** Try one backend: import, configure, setBackend, smoke test. Throws with the reason when it fails. */
async function tryBackend(name: BackendName, opts: InitBackendOptions): Promise<void> {
  await importBackend(name, opts);
  if (tf.findBackendFactory(name) == null) {
    throw new Error(`backend '${name}' did not register (unsupported environment)`);
  }
  const threads = name === 'wasm' ? wasmThreadsWanted(opts) : 1;
  const ok = threads > 1 ? await withLogicalCores(globalNavigator(), 2 * threads, () => tf.setBackend(name)) : await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') resolved false`);
  if (name === 'wasm') registerWasmGradKernels();
  if (!(await smokeTest())) throw new Error(`backend '${name}' computed 1 + 2 wrongly`);
}

/**
 * Initialise the first backend of the ladder that works and make it active; resolves to its name (see
 * `chooseBackend`, which it runs, for the probes and the ranking).
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendName> {
  return (await chooseBackend(opts)).backend;
}

/**
 * Probe the GPU rungs of the ladder (unless `probe: false`), rank them when `rank` is set, then initialise the
 * first rung that works and make it active. Rejects only when every rung fails (the message lists each reason).
 */
export async function chooseBackend(opts: InitBackendOptions = {}): Promise<BackendChoice> {
  const given = opts.order ?? BACKEND_ORDER;
  const probeFn = opts.probe === false ? null : (opts.probe ?? probeBackend);
  const probes: BackendProbe[] = [];
  if (probeFn) for (const name of given) if (GPU_RUNGS.includes(name)) probes.push(await probeFn(name, opts.timeoutMs));
  const probed = new Map(probes.map((p) => [p.name, p]));
  const ranked = opts.rank === true && probeFn !== null;
  // Unavailable rungs are reported first, as skipped, and never reach tfjs (which would log warnings for them).
  const usable = ranked ? rankBackends(given, probes) : given.filter((n) => probed.get(n)?.available !== false);
  const order = [...given.filter((n) => probed.get(n)?.available === false), ...usable];
  const attempts: BackendAttempt[] = [];
  const report = (a: BackendAttempt) => {
    const p = probed.get(a.name);
    const full: BackendAttempt = p ? { ...a, ...(p.renderer ? { renderer: p.renderer } : {}), software: p.software } : a;
    attempts.push(full);
    opts.onAttempt?.(full);
  };
  const reasons: string[] = [];
  for (const name of order) {
    const start = Date.now();
    const p = probed.get(name);
    if (p && !p.available) {
      const error = p.reason ?? 'not available here';
      reasons.push(`${name}: ${error}`);
      report({ name, ok: false, skipped: true, error, ms: 0 });
      continue;
    }
    try {
      let hung = false;
      const timeout = withTimeout(tryBackend(name, opts), opts.timeoutMs, `backend '${name}'`, () => (hung = true));
      await timeout.catch((e: unknown) => {
        // A hung initialisation leaves tfjs's engine waiting on it forever (every op then throws
        // "not yet been initialized"); removing the backend is the public way to abandon it. One that failed
        // (a wasm binary that did not arrive) stays registered, so a later attempt can start it.
        if (hung && tf.engine().backendName === name && tf.findBackendFactory(name) != null) tf.removeBackend(name);
        throw e;
      });
      report({ name, ok: true, ms: Date.now() - start });
      const threads = name === 'wasm' ? wasmThreadsRunning() : undefined;
      return { backend: name, attempts, probes, order: usable, ranked, reason: explainChoice(name, attempts, probes, ranked), ...(threads ? { threads } : {}) };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      reasons.push(`${name}: ${error}`);
      report({ name, ok: false, error, ms: Date.now() - start });
    }
  }
  throw new Error(`no tfjs backend could be initialised (${reasons.join('; ') || 'empty order'})`);
}

/** The rungs below `current` in `order` (empty when it is the last or not in the ladder). */
export function nextBackends(current: BackendName, order: readonly BackendName[] = BACKEND_ORDER): BackendName[] {
  const i = order.indexOf(current);
  return i < 0 ? [] : order.slice(i + 1);
}

/** After `failed` broke mid-run (e.g. GPU device lost), initialise the next working backend below it. */
export function fallbackBackend(failed: BackendName, opts: InitBackendOptions = {}): Promise<BackendName> {
  return initBackend({ ...opts, order: nextBackends(failed, opts.order ?? BACKEND_ORDER) });
}

/** The active backend's name as a BackendName, or null when tfjs runs something else or nothing yet. */
export function currentBackend(): BackendName | null {
  const name: unknown = tf.engine().backendName; // tf.getBackend() would initialise one
  return isBackendName(name) ? name : null;
}
