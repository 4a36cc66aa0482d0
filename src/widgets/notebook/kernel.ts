/**
 * The page's notebook kernel, shared by every cell of a lesson: a kernel worker (src/workers/kernel.worker.ts)
 * created on the first Run, a queue of runs, and Stop / time limit / Restart, which terminate the worker —
 * the only way to end an endless loop without freezing the page. Light: no tfjs on the main thread.
 */
import { backendRequest, rememberedBackend } from '../lib/compute';
import { admitOutput, newOutputBudget, type FromKernel, type OutputBudget, type OutputItem, type ToKernel } from '../../workers/kernelProtocol';

export interface RunOptions {
  /** Called for each output item, in order. */
  onOutput(item: OutputItem): void;
  /** Called when the run starts executing (after earlier queued runs). */
  onStart?(): void;
  /** Seconds before the kernel is stopped (default 30). */
  timeLimit?: number;
}

export type RunResult =
  | { status: 'ok'; ms: number; newTensors: number; numTensors: number }
  | { status: 'error'; name: string; message: string; line?: number; column?: number }
  /** Stopped by the reader or the time limit; the kernel was restarted and its variables are gone. */
  | { status: 'stopped'; reason: 'stop' | 'time limit' | 'crash'; message: string };

export interface KernelStatus {
  state: 'off' | 'starting' | 'idle' | 'busy';
  backend: string | null;
  /** Runs since the last restart (a fresh kernel has none). */
  runs: number;
  text: string;
}

/** Something that behaves like a Worker (a real one in the page, a fake in unit tests). */
export interface WorkerLike {
  postMessage(msg: ToKernel): void;
  terminate(): void;
  onmessage: ((e: MessageEvent<FromKernel>) => void) | null;
  onerror: ((e: ErrorEvent) => void) | null;
}

interface Pending {
  id: number;
  js: string;
  declared: string[];
  opts: RunOptions;
  resolve(r: RunResult): void;
  /** What this run has shown so far (admitOutput). */
  budget: OutputBudget;
}

export class Kernel {
  private worker: WorkerLike | null = null;
  private queue: Pending[] = [];
  private current: Pending | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private nextId = 1;
  private listeners = new Set<(s: KernelStatus) => void>();
  private restartWaiter: ((r: { numTensors: number; numBytes: number } | null) => void) | null = null;
  status: KernelStatus = { state: 'off', backend: null, runs: 0, text: 'not started' };

  constructor(private readonly createWorker: () => WorkerLike, private readonly init: ToKernel = { type: 'init' }) {}

  onStatus(listener: (s: KernelStatus) => void): () => void {
    this.listeners.add(listener);
    listener(this.status);
    return () => this.listeners.delete(listener);
  }

  private setStatus(patch: Partial<KernelStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const l of this.listeners) l(this.status);
  }

  private ensureWorker(): WorkerLike {
    if (this.worker) return this.worker;
    const w = this.createWorker();
    w.onmessage = (e) => this.handle(e.data);
    w.onerror = (e) => {
      e.preventDefault?.();
      this.kill('crash', `the kernel crashed: ${e.message || 'unknown error'}`);
    };
    w.postMessage(this.init);
    this.worker = w;
    this.setStatus({ state: 'starting', text: 'starting…', runs: 0 });
    return w;
  }

  /** Queue compiled code; resolves when it finished, failed or was stopped. */
  run(js: string, declared: string[], opts: RunOptions): Promise<RunResult> {
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, js, declared, opts, resolve, budget: newOutputBudget() });
      this.pump();
    });
  }

  private pump(): void {
    if (this.current || !this.queue.length) return;
    const job = this.queue.shift()!;
    this.current = job;
    const w = this.ensureWorker();
    job.opts.onStart?.();
    const limit = Math.max(1, job.opts.timeLimit ?? 30);
    this.timer = setTimeout(() => this.kill('time limit', `stopped after ${limit} s (the cell's time limit)`), limit * 1000);
    if (this.status.state !== 'starting') this.setStatus({ state: 'busy', text: 'running…' });
    w.postMessage({ type: 'run', id: job.id, js: job.js, declared: job.declared });
  }

  private finish(result: RunResult): void {
    const job = this.current;
    if (!job) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.current = null;
    if (result.status !== 'stopped') this.setStatus({ state: 'idle', runs: this.status.runs + 1, text: this.status.backend ? `ready (${this.status.backend})` : 'ready' });
    job.resolve(result);
    this.pump();
  }

  private handle(msg: FromKernel): void {
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'status':
        this.setStatus({ text: msg.text });
        break;
      case 'ready':
        this.setStatus({ state: this.current ? 'busy' : 'idle', backend: msg.backend, text: this.current ? 'running…' : `ready (${msg.backend})` });
        break;
      case 'output':
        // Only the running cell's output, checked and within its run's budget (the kernel runs the reader's code).
        if (this.current && msg.id === this.current.id) {
          const { item, note } = admitOutput(msg.item, this.current.budget);
          if (item) this.current.opts.onOutput(item);
          if (note) this.current.opts.onOutput(note);
        }
        break;
      case 'done':
        if (this.current?.id === msg.id) this.finish({ status: 'ok', ms: msg.ms, newTensors: msg.newTensors, numTensors: msg.numTensors });
        break;
      case 'error':
        if (this.current?.id === msg.id) this.finish({ status: 'error', name: msg.name, message: msg.message, line: msg.line, column: msg.column });
        break;
      case 'restarted':
        this.restartWaiter?.({ numTensors: msg.numTensors, numBytes: msg.numBytes });
        break;
    }
  }

  /** Terminate the worker: the running cell is stopped, queued cells are cancelled, all state is freed. */
  private kill(reason: 'stop' | 'time limit' | 'crash', message: string): void {
    this.worker?.terminate();
    this.worker = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const stopped: RunResult = { status: 'stopped', reason, message };
    const jobs = [...(this.current ? [this.current] : []), ...this.queue];
    this.current = null;
    this.queue = [];
    this.setStatus({ state: 'off', backend: null, runs: 0, text: reason === 'stop' ? 'stopped; restarts on the next Run' : `${message}; restarts on the next Run` });
    for (const j of jobs) j.resolve(j === jobs[0] ? stopped : { ...stopped, message: 'cancelled: the kernel was stopped before this cell ran' });
  }

  /** Stop whatever runs now (the kernel restarts on the next Run; variables are lost). */
  stop(): void {
    if (this.current || this.queue.length) this.kill('stop', 'stopped by you');
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /**
   * Restart: ask the kernel what the cells left behind (tensors, bytes), then terminate it, which frees all
   * of it. Resolves with that report, or null if the kernel was not running or did not answer within 1 s.
   */
  async restart(): Promise<{ numTensors: number; numBytes: number } | null> {
    const w = this.worker;
    if (!w) return null;
    let report: { numTensors: number; numBytes: number } | null = null;
    if (!this.current) {
      report = await new Promise((resolve) => {
        this.restartWaiter = resolve;
        w.postMessage({ type: 'restart' });
        setTimeout(() => resolve(null), 1000);
      });
      this.restartWaiter = null;
    }
    this.kill('stop', 'restarted');
    this.setStatus({ text: 'restarted; starts again on the next Run' });
    return report;
  }
}

let pageKernel: Kernel | null = null;

/** The one kernel of this page (all cells of a lesson share it). */
export function kernel(): Kernel {
  pageKernel ??= new Kernel(
    () => new Worker(new URL('../../workers/kernel.worker.ts', import.meta.url), { type: 'module', name: 'diffusion-lab-notebook' }) as unknown as WorkerLike,
    { type: 'init', order: backendRequest(location.search, rememberedBackend()).order },
  );
  return pageKernel;
}
