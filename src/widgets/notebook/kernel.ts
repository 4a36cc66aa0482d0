/**
 * The page's notebook kernel, shared by every cell of a lesson: a kernel worker (src/workers/kernel.worker.ts)
 * created on the first Run, a queue of runs, and Stop / time limit / Restart, which terminate the worker —
 * the only way to end an endless loop without freezing the page. Light: no tfjs on the main thread. In the page
 * the worker runs inside the kernel frame, an iframe of opaque origin with no network (./kernelFrame.ts,
 * ./pageKernel.ts): the files it needs it asks of this class ('fetch'), which answers only what `serveFile` allows.
 *
 * All traffic goes through a private MessageChannel whose port is transferred with the first message; whatever
 * arrives on the worker's own onmessage was posted by cell code and is ignored (an error event still means a
 * crash). Runs that leave timers or listeners alive keep their output budget and callbacks until those end, and
 * while one of those callbacks runs with no cell running, the same time limit guards it.
 */
import { admitOutput, describeLeftovers, leftoverCount, newOutputBudget, noLeftovers, type FromKernel, type Leftovers, type OutputBudget, type OutputItem, type ToKernel } from '../../workers/kernelProtocol';

export interface RunOptions {
  /** Called for each output item, in order. */
  onOutput(item: OutputItem): void;
  /** Called when the run starts executing (after earlier queued runs), with its id. */
  onStart?(id: number): void;
  /** Seconds before the kernel is stopped (default 30); also the limit of each leftover callback of the run. */
  timeLimit?: number;
  /** The cell's name, for messages about its leftovers ("a timer “Scratch cell” left …"). */
  label?: string;
  /**
   * What the run still leaves alive after it finished, each time that changes; all zero once they ended. `ended`
   * says why the kernel was stopped when one of this run's callbacks ran past the time limit.
   */
  onLeftovers?(leftovers: Leftovers, ended?: string): void;
}

export type RunResult =
  | { status: 'ok'; ms: number; newTensors: number; numTensors: number; leftovers?: Leftovers }
  | { status: 'error'; name: string; message: string; line?: number; column?: number; leftovers?: Leftovers }
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
  postMessage(msg: ToKernel, transfer?: Transferable[]): void;
  terminate(): void;
  /** Ignored once the channel is set up: only cell code posts there. */
  onmessage: ((e: MessageEvent<FromKernel>) => void) | null;
  onerror: ((e: ErrorEvent) => void) | null;
}

/** The page's end of the private channel to the kernel. */
export interface PortLike {
  postMessage(msg: ToKernel, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<FromKernel>) => void) | null;
  close(): void;
}

/** A MessageChannel (a real one in the page, a fake in unit tests): port1 stays here, port2 goes to the kernel. */
export type ChannelLike = { port1: PortLike; port2: unknown };

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
  private port: PortLike | null = null;
  /** Finished runs that left timers or listeners alive: their output and callbacks still belong to them. */
  private lingering = new Map<number, Pending>();
  private leftoversOf = new Map<number, Leftovers>();
  /** The last runs that finished, in case one's async code leaves a timer after it reported none. */
  private recent = new Map<number, Pending>();
  /** Armed while a leftover callback runs with no cell running (the 'background' message). */
  private backgroundTimer: ReturnType<typeof setTimeout> | null = null;
  private queue: Pending[] = [];
  private current: Pending | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private nextId = 1;
  private listeners = new Set<(s: KernelStatus) => void>();
  private restartWaiter: ((r: { numTensors: number; numBytes: number } | null) => void) | null = null;
  status: KernelStatus = { state: 'off', backend: null, runs: 0, text: 'not started' };

  /** File requests of the kernel being served now (at most MAX_FILE_REQUESTS at once). */
  private fileRequests = 0;

  constructor(
    private readonly createWorker: () => WorkerLike,
    private readonly init: ToKernel = { type: 'init' },
    private readonly createChannel: () => ChannelLike = () => new MessageChannel() as unknown as ChannelLike,
    /** Answers the kernel's 'fetch' (the kernel has no network); without it every request is refused. */
    private readonly serveFile: FileServer = async (msg) => ({ answer: { type: 'file', reqId: msg.reqId, error: 'the notebook cannot load files here' }, transfer: [] }),
  ) {}

  onStatus(listener: (s: KernelStatus) => void): () => void {
    this.listeners.add(listener);
    listener(this.status);
    return () => this.listeners.delete(listener);
  }

  private setStatus(patch: Partial<KernelStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const l of this.listeners) l(this.status);
  }

  private ensureWorker(): PortLike {
    if (this.worker && this.port) return this.port;
    const w = this.createWorker();
    const channel = this.createChannel();
    // Only cell code posts on the worker itself once the channel is set up: never trusted.
    w.onmessage = () => {};
    w.onerror = (e) => {
      e.preventDefault?.();
      this.kill('crash', `the kernel crashed: ${e.message || 'unknown error'}`);
    };
    channel.port1.onmessage = (e) => this.handle(e.data, channel.port1);
    w.postMessage(this.init, [channel.port2 as Transferable]);
    this.worker = w;
    this.port = channel.port1;
    this.setStatus({ state: 'starting', text: 'starting…', runs: 0 });
    return channel.port1;
  }

  /** "ready (wasm)", and what finished cells left running, so the status never hides a running interval. */
  private idleText(): string {
    const total = noLeftovers();
    for (const l of this.leftoversOf.values()) (total.timeouts += l.timeouts, total.intervals += l.intervals, total.listeners += l.listeners);
    const ready = this.status.backend ? `ready (${this.status.backend})` : 'ready';
    return leftoverCount(total) ? `${ready}; ${describeLeftovers(total)} left running by cells` : ready;
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
    job.opts.onStart?.(job.id);
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
    if (result.status !== 'stopped' && leftoverCount(result.leftovers) > 0) {
      this.lingering.set(job.id, job);
      this.leftoversOf.set(job.id, result.leftovers!);
    }
    if (result.status !== 'stopped') {
      this.recent.set(job.id, job);
      for (const id of this.recent.keys()) if (this.recent.size > 20) this.recent.delete(id);
    }
    if (result.status !== 'stopped') this.setStatus({ state: 'idle', runs: this.status.runs + 1, text: this.idleText() });
    job.resolve(result);
    this.pump();
  }

  private handle(msg: FromKernel, from?: PortLike): void {
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'fetch':
        if (from && typeof msg.reqId === 'number') this.fetchFor(from, msg);
        break;
      case 'status':
        this.setStatus({ text: msg.text });
        break;
      case 'ready':
        this.setStatus({ state: this.current ? 'busy' : 'idle', backend: msg.backend });
        this.setStatus({ text: this.current ? 'running…' : this.idleText() });
        break;
      case 'output': {
        // Only the running cell's output, or a finished run's that left timers or listeners alive: checked and
        // within that run's budget (the kernel runs the reader's code).
        const job = this.current && msg.id === this.current.id ? this.current : this.lingering.get(msg.id);
        if (job) {
          const { item, note } = admitOutput(msg.item, job.budget);
          if (item) job.opts.onOutput(item);
          if (note) job.opts.onOutput(note);
        }
        break;
      }
      case 'done':
        if (this.current?.id === msg.id) this.finish({ status: 'ok', ms: msg.ms, newTensors: msg.newTensors, numTensors: msg.numTensors, leftovers: someLeftovers(msg.leftovers) });
        break;
      case 'error':
        if (this.current?.id === msg.id) this.finish({ status: 'error', name: msg.name, message: msg.message, line: msg.line, column: msg.column, leftovers: someLeftovers(msg.leftovers) });
        break;
      case 'leftovers': {
        const l = cleanLeftovers(msg.leftovers);
        const job = this.lingering.get(msg.id) ?? (leftoverCount(l) > 0 ? this.recent.get(msg.id) : undefined);
        if (!job || this.current === job) break;
        this.lingering.set(msg.id, job);
        if (leftoverCount(l) > 0) this.leftoversOf.set(msg.id, l);
        else (this.lingering.delete(msg.id), this.leftoversOf.delete(msg.id));
        job.opts.onLeftovers?.(l);
        if (!this.current && this.status.state === 'idle') this.setStatus({ text: this.idleText() });
        break;
      }
      case 'background': {
        if (this.backgroundTimer) clearTimeout(this.backgroundTimer);
        this.backgroundTimer = null;
        // A running cell's own time limit already covers the kernel while it runs.
        if (!msg.busy || this.current) break;
        const job = this.lingering.get(msg.id);
        const limit = Math.max(1, job?.opts.timeLimit ?? 30);
        const what = typeof msg.what === 'string' && /^an? [a-z ]+$/.test(msg.what) ? msg.what : 'a callback';
        const who = job?.opts.label ? `“${job.opts.label}”` : 'a cell';
        this.backgroundTimer = setTimeout(() => this.kill('time limit', `${what} that ${who} left ran past the ${limit} s limit`, job), limit * 1000);
        break;
      }
      case 'restarted':
        this.restartWaiter?.({ numTensors: msg.numTensors, numBytes: msg.numBytes });
        break;
    }
  }

  /** Serve one file request of the kernel on `port`, unless that kernel has been stopped meanwhile. */
  private fetchFor(port: PortLike, msg: Extract<FromKernel, { type: 'fetch' }>): void {
    const reqId = msg.reqId;
    if (this.fileRequests >= MAX_FILE_REQUESTS) {
      port.postMessage({ type: 'file', reqId, error: `the notebook loads at most ${MAX_FILE_REQUESTS} files at once; wait for the others to arrive` });
      return;
    }
    this.fileRequests++;
    this.serveFile({ reqId, path: msg.path, method: msg.method })
      .catch((e: unknown) => ({ answer: { type: 'file' as const, reqId, error: e instanceof Error ? e.message : String(e) }, transfer: [] as Transferable[] }))
      .then(({ answer, transfer }) => {
        this.fileRequests--;
        if (this.port === port) port.postMessage(answer, transfer);
      });
  }

  /**
   * Terminate the worker: the running cell is stopped, queued cells are cancelled, all state is freed, and runs
   * with leftovers hear that they ended (`culprit`, whose callback ran past the limit, with the reason).
   */
  private kill(reason: 'stop' | 'time limit' | 'crash', message: string, culprit?: Pending): void {
    this.worker?.terminate();
    this.worker = null;
    this.port?.close();
    this.port = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.backgroundTimer) clearTimeout(this.backgroundTimer);
    this.backgroundTimer = null;
    const lingering = [...this.lingering.values()];
    this.lingering.clear();
    this.recent.clear();
    this.leftoversOf.clear();
    for (const job of lingering) job.opts.onLeftovers?.(noLeftovers(), job === culprit ? message : undefined);
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

  /** Clear the timers and listeners run `id` left alive (every run's without an id); no restart needed. */
  stopLeftovers(id?: number): void {
    if (this.port && (id === undefined || this.lingering.has(id))) this.port.postMessage({ type: 'stopLeftovers', id });
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /**
   * Restart: ask the kernel what the cells left behind (tensors, bytes), then terminate it, which frees all
   * of it. Resolves with that report, or null if the kernel was not running or did not answer within 1 s.
   */
  async restart(): Promise<{ numTensors: number; numBytes: number } | null> {
    const w = this.port;
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

/** Leftover counts from the kernel as three non-negative integers (the kernel runs the reader's code). */
function cleanLeftovers(raw: unknown): Leftovers {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? Math.min(v, 1e9) : 0);
  return { timeouts: count(r.timeouts), intervals: count(r.intervals), listeners: count(r.listeners) };
}

/** The leftovers a finished run reports, or undefined when it left nothing alive. */
function someLeftovers(raw: unknown): Leftovers | undefined {
  const l = cleanLeftovers(raw);
  return leftoverCount(l) > 0 ? l : undefined;
}

/** Most file requests of the kernel the page serves at once (a cell could ask for the same model in a loop). */
export const MAX_FILE_REQUESTS = 8;

/** Answers one 'fetch' of the kernel with a 'file' message (and the bytes to transfer). */
export type FileServer = (msg: { reqId: number; path: unknown; method?: unknown }) => Promise<{ answer: Extract<ToKernel, { type: 'file' }>; transfer: Transferable[] }>;
