import { afterEach, describe, expect, it, vi } from 'vitest';
import { Kernel, type WorkerLike } from '../../../src/widgets/notebook/kernel';
import type { FromKernel, OutputItem, ToKernel } from '../../../src/workers/kernelProtocol';
import { fakeChannel, type FakePort } from './fakeChannel';

/**
 * A scripted stand-in for the kernel worker: takes the private port from the init message (as the real kernel
 * does), records every message (init on the worker, the rest on the port), answers through the port when told to.
 */
class FakeWorker implements WorkerLike {
  sent: ToKernel[] = [];
  /** Messages that arrived on the worker itself, not on the port. */
  onWorker: ToKernel[] = [];
  port: FakePort | null = null;
  terminated = false;
  onmessage: ((e: MessageEvent<FromKernel>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  constructor(private readonly auto: (msg: ToKernel, w: FakeWorker) => void = () => {}) {}
  postMessage(msg: ToKernel, transfer: unknown[] = []) {
    this.onWorker.push(msg);
    if (msg.type === 'init' && !this.port) {
      this.port = transfer[0] as FakePort;
      this.port.onmessage = (e) => {
        this.sent.push(e.data);
        this.auto(e.data, this);
      };
    }
    this.sent.push(msg);
    this.auto(msg, this);
  }
  terminate() {
    this.terminated = true;
  }
  reply(msg: FromKernel) {
    this.port!.postMessage(msg);
  }
  /** What cell code can do: post on the worker global, which reaches the worker's onmessage. */
  postFromCell(msg: unknown) {
    this.onmessage?.({ data: msg } as MessageEvent<FromKernel>);
  }
  runs() {
    return this.sent.filter((m): m is Extract<ToKernel, { type: 'run' }> => m.type === 'run');
  }
}

const newKernel = (create: () => WorkerLike, init?: ToKernel) => new Kernel(create, init, fakeChannel);

afterEach(() => vi.useRealTimers());

describe('notebook Kernel (page side)', () => {
  it('starts one worker on the first run, forwards output of the running cell and resolves with the result', async () => {
    const workers: FakeWorker[] = [];
    const k = newKernel(() => {
      const w = new FakeWorker((msg, self) => {
        if (msg.type === 'run') {
          queueMicrotask(() => {
            self.reply({ type: 'ready', backend: 'wasm' });
            self.reply({ type: 'output', id: msg.id, item: { kind: 'log', level: 'log', text: `ran ${msg.js}` } });
            self.reply({ type: 'output', id: msg.id + 100, item: { kind: 'log', level: 'log', text: 'stale' } });
            self.reply({ type: 'done', id: msg.id, ms: 5, newTensors: 2, numTensors: 3 });
          });
        }
      });
      workers.push(w);
      return w;
    }, { type: 'init', order: ['wasm'] });
    const seen: OutputItem[] = [];
    const r = await k.run('a', ['a'], { onOutput: (i) => seen.push(i) });
    expect(r).toEqual({ status: 'ok', ms: 5, newTensors: 2, numTensors: 3 });
    expect(seen).toEqual([{ kind: 'log', level: 'log', text: 'ran a' }]);
    const r2 = await k.run('b', [], { onOutput: () => {} });
    expect(r2.status).toBe('ok');
    expect(workers).toHaveLength(1);
    expect(workers[0].sent[0]).toEqual({ type: 'init', order: ['wasm'] });
    expect(workers[0].runs().map((m) => m.js)).toEqual(['a', 'b']);
    expect(k.status).toMatchObject({ state: 'idle', backend: 'wasm', runs: 2 });
  });

  it('runs queued cells one at a time, in order', async () => {
    let w!: FakeWorker;
    const k = newKernel(() => (w = new FakeWorker()));
    const order: string[] = [];
    const p1 = k.run('one', [], { onOutput: () => {}, onStart: () => order.push('start one') });
    const p2 = k.run('two', [], { onOutput: () => {}, onStart: () => order.push('start two') });
    expect(w.runs().map((m) => m.js)).toEqual(['one']);
    w.reply({ type: 'error', id: w.runs()[0].id, name: 'TypeError', message: 'x is not a function', line: 3, column: 5 });
    expect(await p1).toEqual({ status: 'error', name: 'TypeError', message: 'x is not a function', line: 3, column: 5 });
    expect(w.runs().map((m) => m.js)).toEqual(['one', 'two']);
    w.reply({ type: 'done', id: w.runs()[1].id, ms: 1, newTensors: 0, numTensors: 0 });
    expect((await p2).status).toBe('ok');
    expect(order).toEqual(['start one', 'start two']);
  });

  it('stops an endless cell at its time limit by terminating the worker, and cancels what was queued', async () => {
    vi.useFakeTimers();
    const workers: FakeWorker[] = [];
    const k = newKernel(() => {
      const w = new FakeWorker();
      workers.push(w);
      return w;
    });
    const p1 = k.run('while (true) {}', [], { onOutput: () => {}, timeLimit: 2 });
    const p2 = k.run('later', [], { onOutput: () => {} });
    vi.advanceTimersByTime(1999);
    expect(workers[0].terminated).toBe(false);
    vi.advanceTimersByTime(1);
    expect(workers[0].terminated).toBe(true);
    expect(await p1).toEqual({ status: 'stopped', reason: 'time limit', message: "stopped after 2 s (the cell's time limit)" });
    expect(await p2).toMatchObject({ status: 'stopped', message: expect.stringMatching(/cancelled/) });
    expect(k.status.state).toBe('off');
    // The next run starts a fresh worker.
    const p3 = k.run('again', [], { onOutput: () => {} });
    expect(workers).toHaveLength(2);
    workers[1].reply({ type: 'done', id: workers[1].runs()[0].id, ms: 1, newTensors: 0, numTensors: 0 });
    expect((await p3).status).toBe('ok');
  });

  it('Stop ends the running cell at once', async () => {
    let w!: FakeWorker;
    const k = newKernel(() => (w = new FakeWorker()));
    const p = k.run('for (;;) {}', [], { onOutput: () => {} });
    expect(k.busy).toBe(true);
    k.stop();
    expect(w.terminated).toBe(true);
    expect(await p).toMatchObject({ status: 'stopped', reason: 'stop' });
    expect(k.busy).toBe(false);
  });

  it('restart reports the tensors the cells left, then frees everything by terminating the worker', async () => {
    let w!: FakeWorker;
    const k = newKernel(() =>
      (w = new FakeWorker((msg, self) => {
        if (msg.type === 'run') queueMicrotask(() => self.reply({ type: 'done', id: msg.id, ms: 1, newTensors: 4, numTensors: 4 }));
        if (msg.type === 'restart') queueMicrotask(() => self.reply({ type: 'restarted', numTensors: 4, numBytes: 4096 }));
      })),
    );
    expect(await k.restart()).toBeNull(); // nothing to restart yet
    await k.run('leak', [], { onOutput: () => {} });
    expect(await k.restart()).toEqual({ numTensors: 4, numBytes: 4096 });
    expect(w.terminated).toBe(true);
    expect(k.status.state).toBe('off');
  });

  it('treats a worker crash as a stop with a message', async () => {
    let w!: FakeWorker;
    const k = newKernel(() => (w = new FakeWorker()));
    const p = k.run('x', [], { onOutput: () => {} });
    w.onerror?.({ message: 'out of memory', preventDefault() {} } as ErrorEvent);
    expect(await p).toMatchObject({ status: 'stopped', reason: 'crash', message: expect.stringMatching(/out of memory/) });
  });
});

describe('notebook Kernel: the private channel', () => {
  it('sends only init on the worker, with the channel’s port, and everything else through that port', async () => {
    let w!: FakeWorker;
    const k = newKernel(() => (w = new FakeWorker((msg, self) => msg.type === 'run' && queueMicrotask(() => self.reply({ type: 'done', id: msg.id, ms: 1, newTensors: 0, numTensors: 0 })))), { type: 'init', order: ['wasm'] });
    expect((await k.run('a', [], { onOutput: () => {} })).status).toBe('ok');
    expect(w.onWorker).toEqual([{ type: 'init', order: ['wasm'] }]);
    expect(w.port).not.toBeNull();
    expect(w.runs().map((m) => m.js)).toEqual(['a']);
  });

  it('ignores whatever cell code posts on the worker itself: fake output, errors and done change nothing', async () => {
    let w!: FakeWorker;
    const k = newKernel(() => (w = new FakeWorker()));
    const seen: OutputItem[] = [];
    let settled = false;
    const p = k.run('real', [], { onOutput: (i) => seen.push(i) }).then((r) => ((settled = true), r));
    const id = w.runs()[0].id;
    w.postFromCell({ type: 'output', id, item: { kind: 'log', level: 'log', text: 'FAKE' } });
    w.postFromCell({ type: 'error', id, name: 'FakeError', message: 'fake' });
    w.postFromCell({ type: 'done', id, ms: 1, newTensors: 0, numTensors: 0 });
    w.postFromCell({ type: 'restarted', numTensors: 0, numBytes: 0 });
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
    expect(seen).toEqual([]);
    expect(k.busy).toBe(true);
    w.reply({ type: 'output', id, item: { kind: 'log', level: 'log', text: 'real output' } });
    w.reply({ type: 'done', id, ms: 2, newTensors: 0, numTensors: 0 });
    expect(await p).toEqual({ status: 'ok', ms: 2, newTensors: 0, numTensors: 0 });
    expect(seen).toEqual([{ kind: 'log', level: 'log', text: 'real output' }]);
  });

  it('closes its port when it terminates the worker, so a dead kernel’s messages are not heard', async () => {
    let w!: FakeWorker;
    const k = newKernel(() => (w = new FakeWorker()));
    const seen: OutputItem[] = [];
    const p = k.run('x', [], { onOutput: (i) => seen.push(i) });
    const old = w;
    k.stop();
    await p;
    old.reply({ type: 'output', id: old.runs()[0].id, item: { kind: 'log', level: 'log', text: 'late' } });
    expect(seen).toEqual([]);
  });
});

describe('notebook Kernel: timers and listeners a run leaves alive', () => {
  const leftoverKernel = () => {
    const workers: FakeWorker[] = [];
    const k = newKernel(() => {
      const w = new FakeWorker((msg, self) => {
        if (msg.type === 'restart') queueMicrotask(() => self.reply({ type: 'restarted', numTensors: 0, numBytes: 0 }));
        if (msg.type === 'run')
          queueMicrotask(() => {
            self.reply({ type: 'ready', backend: 'wasm' });
            self.reply({ type: 'done', id: msg.id, ms: 1, newTensors: 0, numTensors: 0, leftovers: msg.js === 'interval' ? { timeouts: 1, intervals: 1, listeners: 0 } : { timeouts: 0, intervals: 0, listeners: 0 } });
          });
      });
      workers.push(w);
      return w;
    });
    return { k, workers };
  };

  it('reports them with the result and in the kernel status, keeps their output under the run, and stops them on request', async () => {
    const { k, workers } = leftoverKernel();
    const seen: OutputItem[] = [];
    const reports: unknown[] = [];
    let id = 0;
    const r = await k.run('interval', [], { onOutput: (i) => seen.push(i), onStart: (runId) => (id = runId), onLeftovers: (l, ended) => reports.push({ l, ended }) });
    expect(r).toEqual({ status: 'ok', ms: 1, newTensors: 0, numTensors: 0, leftovers: { timeouts: 1, intervals: 1, listeners: 0 } });
    expect(k.status.text).toBe('ready (wasm); 2 timers left running by cells');
    const w = workers[0];
    // A tick after Done still reaches the cell that made the timer, within that run's budget.
    w.reply({ type: 'output', id, item: { kind: 'log', level: 'log', text: 'tick' } });
    expect(seen).toEqual([{ kind: 'log', level: 'log', text: 'tick' }]);
    // Output for a run that left nothing is not taken.
    const other = await k.run('plain', [], { onOutput: (i) => seen.push(i) });
    expect(other).toEqual({ status: 'ok', ms: 1, newTensors: 0, numTensors: 0 });
    w.reply({ type: 'output', id: id + 1, item: { kind: 'log', level: 'log', text: 'stray' } });
    expect(seen).toHaveLength(1);

    k.stopLeftovers(id);
    expect(w.sent.at(-1)).toEqual({ type: 'stopLeftovers', id });
    w.reply({ type: 'leftovers', id, leftovers: { timeouts: 0, intervals: 0, listeners: 0 } });
    expect(reports).toEqual([{ l: { timeouts: 0, intervals: 0, listeners: 0 }, ended: undefined }]);
    expect(k.status.text).toBe('ready (wasm)');
    w.reply({ type: 'output', id, item: { kind: 'log', level: 'log', text: 'after stop' } });
    expect(seen).toHaveLength(1);
    expect(workers[0].terminated).toBe(false); // no restart needed
  });

  it('holds a leftover callback that runs with no cell running to the run’s time limit, naming the cell', async () => {
    vi.useFakeTimers();
    const { k, workers } = leftoverKernel();
    const reports: { l: unknown; ended?: string }[] = [];
    let id = 0;
    const r = k.run('interval', [], { label: 'Scratch cell', timeLimit: 30, onOutput: () => {}, onStart: (runId) => (id = runId), onLeftovers: (l, ended) => reports.push({ l, ended }) });
    await vi.advanceTimersByTimeAsync(0);
    expect((await r).status).toBe('ok');
    const w = workers[0];
    // A callback that returns in time disarms the limit.
    w.reply({ type: 'background', id, busy: true, what: 'a timer' });
    await vi.advanceTimersByTimeAsync(29_999);
    w.reply({ type: 'background', id, busy: false });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(w.terminated).toBe(false);
    // One that does not is stopped at 30 s by terminating the kernel.
    w.reply({ type: 'background', id, busy: true, what: 'a timer' });
    await vi.advanceTimersByTimeAsync(29_999);
    expect(w.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(w.terminated).toBe(true);
    expect(reports).toEqual([{ l: { timeouts: 0, intervals: 0, listeners: 0 }, ended: 'a timer that “Scratch cell” left ran past the 30 s limit' }]);
    expect(k.status).toMatchObject({ state: 'off', text: 'a timer that “Scratch cell” left ran past the 30 s limit; restarts on the next Run' });
  });

  it('leaves a callback that runs during another cell’s run to that run’s own time limit', async () => {
    vi.useFakeTimers();
    let w!: FakeWorker;
    const k = newKernel(() => (w = new FakeWorker()));
    const p = k.run('slow', [], { timeLimit: 100, onOutput: () => {} });
    w.reply({ type: 'background', id: 99, busy: true, what: 'a timer' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(w.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(40_000);
    expect(w.terminated).toBe(true);
    expect(await p).toMatchObject({ status: 'stopped', reason: 'time limit' });
  });

  it('takes up a finished run whose async code starts a timer after it reported none', async () => {
    const { k, workers } = leftoverKernel();
    const seen: OutputItem[] = [];
    const reports: unknown[] = [];
    let id = 0;
    const r = await k.run('plain', [], { onOutput: (i) => seen.push(i), onStart: (runId) => (id = runId), onLeftovers: (l) => reports.push(l) });
    expect(r.status === 'ok' && r.leftovers).toBeUndefined();
    workers[0].reply({ type: 'leftovers', id, leftovers: { timeouts: 0, intervals: 1, listeners: 0 } });
    expect(reports).toEqual([{ timeouts: 0, intervals: 1, listeners: 0 }]);
    expect(k.status.text).toBe('ready (wasm); 1 timer left running by cells');
    workers[0].reply({ type: 'output', id, item: { kind: 'log', level: 'log', text: 'tick' } });
    expect(seen).toEqual([{ kind: 'log', level: 'log', text: 'tick' }]);
  });

  it('tells every run with leftovers that they ended when the kernel is restarted', async () => {
    const { k } = leftoverKernel();
    const reports: unknown[] = [];
    await k.run('interval', [], { onOutput: () => {}, onLeftovers: (l, ended) => reports.push({ l, ended }) });
    await k.restart();
    expect(reports).toEqual([{ l: { timeouts: 0, intervals: 0, listeners: 0 }, ended: undefined }]);
    expect(k.status.state).toBe('off');
  });
});
