import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FromWorker, ToWorker } from '../../../src/workers/rpc';
import { supervisedConnection, type BackendState } from '../../../src/widgets/lib/compute';
import type { WorkerLike } from '../../../src/widgets/lib/supervisor';

type Listener = (ev: MessageEvent & ErrorEvent) => void;

/** A stand-in worker: answers init and pings at once (unless silenced); other requests wait for `answer`. */
class FakeWorker implements WorkerLike {
  readonly sent: ToWorker[] = [];
  terminated = false;
  /** Silent: answers nothing (a worker stuck in a synchronous loop). */
  silent = false;
  private readonly listeners: Record<string, Listener[]> = { message: [], error: [], messageerror: [] };

  addEventListener(type: string, listener: Listener): void {
    this.listeners[type].push(listener);
  }
  emit(type: 'message' | 'error' | 'messageerror', ev: { data?: unknown; message?: string }): void {
    for (const l of this.listeners[type]) l(ev as MessageEvent & ErrorEvent);
  }
  reply(data: FromWorker): void {
    this.emit('message', { data });
  }
  postMessage(message: unknown): void {
    const msg = message as ToWorker;
    this.sent.push(msg);
    if (this.silent || this.terminated) return;
    const later = (data: FromWorker) => queueMicrotask(() => !this.silent && !this.terminated && this.reply(data));
    if (msg.type === 'ping') later({ type: 'pong', n: msg.n });
    if (msg.type === 'request' && msg.kind === 'init') later({ type: 'result', id: msg.id, data: { backend: 'wasm', attempts: [] } });
  }
  terminate(): void {
    this.terminated = true;
  }
  /** Answer the latest request of `kind`. */
  answer(kind: string, data: unknown): void {
    const req = [...this.sent].reverse().find((m) => m.type === 'request' && m.kind === kind) as Extract<ToWorker, { type: 'request' }>;
    this.reply({ type: 'result', id: req.id, data });
  }
  requests(): string[] {
    return this.sent.flatMap((m) => (m.type === 'request' ? [m.kind] : []));
  }
  pings(): number {
    return this.sent.filter((m) => m.type === 'ping').length;
  }
}

function page(timing: { pingEveryMs?: number; silenceMs?: number } = {}) {
  const workers: FakeWorker[] = [];
  const c = supervisedConnection(
    () => {
      const w = new FakeWorker();
      workers.push(w);
      return w;
    },
    ['wasm', 'cpu'],
    'url',
    timing,
  );
  const states: BackendState[] = [];
  c.backend.subscribe((s) => states.push(s));
  return { c, workers, states };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

afterEach(() => {
  vi.useRealTimers();
});

describe('the supervised compute worker', () => {
  it('replaces a worker that fires error: pending requests reject saying so, the new worker gets init in the same order and the next request', async () => {
    const { c, workers, states } = page();
    const pending = c.client.request('guide', { digit: 1 });
    expect(workers).toHaveLength(1);
    expect(workers[0].requests()).toEqual(['init', 'guide']);
    workers[0].emit('error', { message: 'Uncaught RuntimeError: unreachable' });
    await expect(pending).rejects.toMatchObject({
      name: 'WorkerStoppedError',
      message: 'The compute worker stopped (an error in the worker: Uncaught RuntimeError: unreachable); a new one has started, so try again',
    });
    expect(workers[0].terminated).toBe(true);
    expect(workers).toHaveLength(2);
    expect(workers[1].sent[0]).toMatchObject({ type: 'request', kind: 'init', params: { order: ['wasm', 'cpu'] } });
    expect(states.at(-1)?.notice).toMatch(/^The compute worker stopped \(an error in the worker: .*\) and a new one took over; models load again/);

    const next = c.client.request('guide', { digit: 2 });
    expect(workers[1].requests()).toEqual(['init', 'guide']);
    expect(workers[0].requests()).toEqual(['init', 'guide']); // nothing more went to the dead one
    workers[1].answer('guide', { accuracy: 1 });
    await expect(next).resolves.toEqual({ accuracy: 1 });
  });

  it('reports a second death without starting a third worker: pending and later requests say to reload the page', async () => {
    const { c, workers, states } = page();
    const first = c.client.request('guide', {});
    workers[0].emit('messageerror', {});
    await expect(first).rejects.toThrow('The compute worker stopped (a message from it could not be read); a new one has started, so try again');
    const second = c.client.request('guide', {});
    workers[1].emit('error', { message: 'Uncaught Error: Aborted()' });
    await expect(second).rejects.toMatchObject({ name: 'WorkerStoppedError', replaced: false, message: expect.stringMatching(/^The compute worker stopped again \(.*Aborted\(\)\); reload the page/) });
    await expect(c.client.request('guide', {})).rejects.toThrow(/reload the page/);
    expect(workers).toHaveLength(2);
    expect(workers[1].terminated).toBe(true);
    expect(states.at(-1)?.notice).toMatch(/stopped again .*; reload the page/);
  });

  it('replaces a worker that leaves a ping unanswered for 20 s while a request is pending, and only then', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const { c, workers } = page();
    const pending = c.client.request('guide', {});
    const outcome = pending.then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await flush();
    workers[0].silent = true;
    await vi.advanceTimersByTimeAsync(19_000);
    expect(workers).toHaveLength(1);
    expect(workers[0].pings()).toBe(1); // one ping, outstanding since 5 s
    await vi.advanceTimersByTimeAsync(6_000);
    expect(workers).toHaveLength(2);
    expect(await outcome).toBe('The compute worker stopped (it did not answer for 20 s); a new one has started, so try again');
  });

  it('does not judge a worker silent before it has answered at all (its script may still be arriving)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const { c, workers } = page();
    const pending = c.client.request('guide', {});
    workers[0].silent = true; // loading: nothing answers, not even init
    void pending.catch(() => {});
    await vi.advanceTimersByTimeAsync(90_000);
    expect(workers).toHaveLength(1);
    workers[0].reply({ type: 'pong', n: 1 }); // the script ran and answered the queued ping
    await vi.advanceTimersByTimeAsync(26_000); // then it hangs
    expect(workers).toHaveLength(2);
    await expect(pending).rejects.toThrow(/did not answer for 20 s/);
  });

  it('keeps a worker that answers its pings through a long run, and pings nobody while nothing is pending', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const { c, workers } = page();
    await c.client.request('init', {});
    await vi.advanceTimersByTimeAsync(60_000);
    expect(workers[0].pings()).toBe(0);
    const long = c.client.request('guide', {});
    await vi.advanceTimersByTimeAsync(120_000);
    expect(workers).toHaveLength(1);
    expect(workers[0].pings()).toBe(24);
    workers[0].answer('guide', { accuracy: 0.5 });
    await expect(long).resolves.toEqual({ accuracy: 0.5 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(workers[0].pings()).toBe(24); // the first tick that found nothing pending stopped the heartbeat
  });

  it("does not count time the page itself was held up (throttled timers) as the worker's silence", async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const { c, workers } = page();
    void c.client.request('guide', {}).catch(() => {});
    await flush();
    workers[0].silent = true;
    await vi.advanceTimersByTimeAsync(5_000); // ping sent
    vi.setSystemTime(Date.now() + 60_000); // the page slept for a minute without ticks
    await vi.advanceTimersByTimeAsync(5_000);
    expect(workers).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(20_000); // a fresh ping, unanswered for 20 s
    expect(workers).toHaveLength(2);
  });

  it('treats a worker whose script never arrived as a failed load: no replacement counted, the next request tries a fresh worker', async () => {
    const { c, workers } = page();
    const pending = c.client.request('guide', {});
    workers[0].silent = true;
    workers[0].emit('error', {});
    await expect(pending).rejects.toMatchObject({ name: 'WorkerLoadError', message: expect.stringMatching(/^Could not load the compute worker's script .*back online/) });
    expect(workers).toHaveLength(1);
    const again = c.client.request('guide', {});
    expect(workers).toHaveLength(2);
    workers[1].answer('guide', { accuracy: 1 });
    await expect(again).resolves.toEqual({ accuracy: 1 });
    // Both replacements are still to come: the first real death is replaced.
    workers[1].emit('error', { message: 'Uncaught Error: boom' });
    expect(workers).toHaveLength(3);
  });
});
