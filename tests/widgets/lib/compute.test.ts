import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUESTS, type ComputeApi } from '../../../src/workers/api';
import { cleanParams } from '../../../src/workers/params';
import { serve, type Handlers, type Port } from '../../../src/workers/rpc';
import { backendOrderFromUrl, connect, threadsFromUrl, type BackendState } from '../../../src/widgets/lib/compute';

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});
const tick = () => new Promise((r) => setTimeout(r, 20));

/** A stand-in worker: serves init and guide (cleaned against the catalogue like the real one) and can broadcast. */
function fakeWorker() {
  const channel = new MessageChannel();
  channels.push(channel);
  const seen: unknown[] = [];
  const handlers = {
    init: () => ({ backend: 'wasm', attempts: [] }),
    guide: (p: unknown) => {
      seen.push(p);
      return { accuracy: 1 };
    },
  } as unknown as Handlers<ComputeApi>;
  const broadcast = serve<ComputeApi>(channel.port2 as unknown as Port, handlers, {
    clean: (kind, params) => cleanParams(kind, REQUESTS[kind as keyof typeof REQUESTS], params),
  });
  return { port: channel.port1 as unknown as Port, broadcast, seen };
}

describe('the page connection', () => {
  it('replays the current backend to a widget that subscribes after the worker announced it', async () => {
    const worker = fakeWorker();
    const { backend } = connect(worker.port);
    worker.broadcast({ type: 'backend', backend: 'wasm', attempts: [] });
    await tick();
    const late: BackendState[] = [];
    backend.subscribe((s) => late.push(s));
    expect(late).toEqual([{ backend: 'wasm', notice: null }]);
  });

  it('tells every subscriber about a fallback, with what failed and why', async () => {
    const worker = fakeWorker();
    const { backend } = connect(worker.port);
    const states: BackendState[] = [];
    const off = backend.subscribe((s) => states.push(s));
    worker.broadcast({ type: 'backend', backend: 'webgl', attempts: [] });
    worker.broadcast({ type: 'fallback', from: 'webgl', to: 'wasm', reason: 'context lost' });
    await tick();
    off();
    worker.broadcast({ type: 'backend', backend: 'cpu', attempts: [] });
    await tick();
    expect(states.map((s) => s.backend)).toEqual([null, 'webgl', 'wasm']);
    expect(states[2].notice).toBe('webgl failed (context lost); now running on wasm.');
  });

  it('keeps the wasm thread count the worker announced, and forgets it after a fallback', async () => {
    const worker = fakeWorker();
    const { backend } = connect(worker.port);
    const states: BackendState[] = [];
    backend.subscribe((s) => states.push(s));
    worker.broadcast({ type: 'backend', backend: 'wasm', attempts: [], threads: 2 });
    await tick();
    expect(states.at(-1)).toMatchObject({ backend: 'wasm', threads: 2 });
    worker.broadcast({ type: 'fallback', from: 'wasm', to: 'cpu', reason: 'memory access out of bounds' });
    await tick();
    expect(states.at(-1)?.backend).toBe('cpu');
    expect(states.at(-1)?.threads).toBeUndefined();
  });

    it('gets a clear error naming the parameter for a malformed request, and clean values otherwise', async () => {
    const worker = fakeWorker();
    const { client } = connect(worker.port);
    await expect(client.request('guide', { w: 'lots' as unknown as number })).rejects.toThrow('guide: parameter "w" must be a finite number, got "lots"');
    await client.request('guide', { w: 99, digit: 4 });
    expect(worker.seen).toEqual([{ model: 'latent-mnist', digit: 4, w: 10, seed: 11, count: 16, steps: 25, negative: -1 }]);
  });

  it('reads the wasm thread count from ?threads=, ignoring anything but a whole number 1…16', () => {
    expect(threadsFromUrl('?threads=2')).toBe(2);
    expect(threadsFromUrl('?backend=wasm&threads=16')).toBe(16);
    for (const bad of ['', '?threads=', '?threads=0', '?threads=17', '?threads=1.5', '?threads=two']) expect(threadsFromUrl(bad), bad).toBeUndefined();
  });

  it('reads the backend ladder from the page URL, ignoring unknown names', () => {
    expect(backendOrderFromUrl('?backend=wasm,cpu')).toEqual(['wasm', 'cpu']);
    expect(backendOrderFromUrl('?backend=WebGL,%20cuda,webgl')).toEqual(['webgl']);
    expect(backendOrderFromUrl('?backend=cuda')).toBeUndefined();
    expect(backendOrderFromUrl('')).toBeUndefined();
  });
});
