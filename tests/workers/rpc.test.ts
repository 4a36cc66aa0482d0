import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, isAbortError, serve, transferables, type Port } from '../../src/workers/rpc';

type Api = {
  double: { params: { values: Float32Array }; result: { values: Float32Array } };
  count: { params: { to: number; delayMs: number }; result: number; progress: { at: number } };
  fail: { params: null; result: never };
};

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup() {
  const channel = new MessageChannel();
  channels.push(channel);
  const log: string[] = [];
  const broadcast = serve<Api>(channel.port2 as unknown as Port, {
    double: ({ values }) => ({ values: values.map((v) => 2 * v) }),
    count: async ({ to, delayMs }, { signal, progress }) => {
      for (let i = 1; i <= to; i++) {
        await sleep(delayMs);
        if (signal.aborted) {
          log.push(`aborted at ${i}`);
          throw new Error('stopped');
        }
        progress({ at: i });
      }
      log.push(`finished ${to}`);
      return to;
    },
    fail: () => {
      throw new RangeError('bad model file: models/x/weights.bin is truncated');
    },
  });
  channel.port1.start();
  channel.port2.start();
  const client = createClient<Api>(channel.port1 as unknown as Port);
  return { client, log, broadcast };
}

describe('the worker protocol', () => {
  it('routes results by id and carries typed arrays', async () => {
    const { client } = setup();
    const [a, b] = await Promise.all([
      client.request('double', { values: new Float32Array([1, 2]) }),
      client.request('double', { values: new Float32Array([5]) }),
    ]);
    expect([...a.values]).toEqual([2, 4]);
    expect([...b.values]).toEqual([10]);
    expect(client.pending()).toBe(0);
  });

  it('delivers progress events before the result', async () => {
    const { client } = setup();
    const seen: number[] = [];
    const result = await client.request('count', { to: 3, delayMs: 1 }, { onProgress: (p) => seen.push(p.at) });
    expect(result).toBe(3);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('rejects with the handler error, keeping its name and message', async () => {
    const { client } = setup();
    const err = await client.request('fail', null).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('RangeError');
    expect(err.message).toContain('models/x/weights.bin');
  });

  it('rejects an unknown request kind with a clear message', async () => {
    const { client } = setup();
    // @ts-expect-error — deliberately not in the API
    const err: unknown = await client.request('nope', {}).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/no request kind 'nope'/);
  });

  it('cancels through an AbortSignal, and the worker stops the work', async () => {
    const { client, log } = setup();
    const controller = new AbortController();
    const run = client.request('count', { to: 1000, delayMs: 2 }, { signal: controller.signal });
    await sleep(15);
    controller.abort();
    const err = await run.catch((e: unknown) => e);
    expect(isAbortError(err)).toBe(true);
    await sleep(20);
    expect(log.some((l) => l.startsWith('aborted at'))).toBe(true);
    expect(log).not.toContain('finished 1000');
    expect(client.pending()).toBe(0);
  });

  it('lets a newer request with the same key supersede the stale one', async () => {
    const { client, log } = setup();
    const stale = client.request('count', { to: 1000, delayMs: 2 }, { key: 'slider' });
    const fresh = client.request('count', { to: 2, delayMs: 1 }, { key: 'slider' });
    const other = client.request('count', { to: 3, delayMs: 1 }, { key: 'other' });
    expect(isAbortError(await stale.catch((e: unknown) => e))).toBe(true);
    expect(await fresh).toBe(2);
    expect(await other).toBe(3);
    await sleep(10);
    expect(log).toContain('finished 2');
    expect(log).toContain('finished 3');
    expect(log).not.toContain('finished 1000');
  });

  it('rejects at once when the signal is already aborted', async () => {
    const { client } = setup();
    const err = await client.request('double', { values: new Float32Array(1) }, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isAbortError(err)).toBe(true);
    expect(client.pending()).toBe(0);
  });

  it('broadcasts unsolicited events to every listener until unsubscribed', async () => {
    const { client, broadcast } = setup();
    const a: unknown[] = [];
    const b: unknown[] = [];
    client.onEvent((d) => a.push(d));
    const off = client.onEvent((d) => b.push(d));
    broadcast({ backend: 'wasm' });
    await sleep(5);
    off();
    broadcast({ backend: 'cpu' });
    await sleep(5);
    expect(a).toEqual([{ backend: 'wasm' }, { backend: 'cpu' }]);
    expect(b).toEqual([{ backend: 'wasm' }]);
  });
});

describe('the heartbeat and a dead worker', () => {
  it('answers a ping with a pong from the message loop, between the steps of a running handler', async () => {
    const { client } = setup();
    const channel = channels[0];
    const pongs: { at: number; n: number }[] = [];
    let at = 0;
    channel.port1.addListener('message', (data: { type?: string; n?: number }) => {
      if (data?.type === 'pong') pongs.push({ at, n: data.n! });
    });
    const run = client.request('count', { to: 6, delayMs: 15 }, { onProgress: (p) => (at = p.at) });
    await sleep(40);
    channel.port1.postMessage({ type: 'ping', n: 7 });
    expect(await run).toBe(6);
    expect(pongs).toHaveLength(1);
    expect(pongs[0].n).toBe(7);
    expect(pongs[0].at).toBeLessThan(6); // answered while the run was still going
  });

  it('rejects every pending request with the given error when the worker is gone, and sends it nothing', async () => {
    const { client, log } = setup();
    const a = client.request('count', { to: 50, delayMs: 20 });
    const b = client.request('count', { to: 50, delayMs: 20 }, { key: 'k' });
    const gone = new Error('The compute worker stopped');
    client.failAll(gone);
    await expect(a).rejects.toBe(gone);
    await expect(b).rejects.toBe(gone);
    expect(client.pending()).toBe(0);
    await sleep(60);
    expect(log).toEqual([]); // no cancel reached the worker: it keeps going (the page terminates it)
  });
});

describe('transferables', () => {
  it('finds each buffer once, through nested objects and arrays', () => {
    const x = new Float32Array(4);
    const y = new Uint8Array(x.buffer); // same buffer
    const z = new Int32Array(2);
    const found = transferables({ a: x, b: [y, { c: z }], d: 3, e: 'text', f: null });
    expect(found).toHaveLength(2);
    expect(found).toContain(x.buffer);
    expect(found).toContain(z.buffer);
  });
});
