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
