/**
 * The page's side of the kernel frame: which files the kernel may have (only models/, the MNIST file and the three
 * wasm binaries by name), how a request is answered, the Kernel's 'fetch' traffic, and the iframe's lifecycle
 * (sandbox attribute or not, the not-sandboxed retry, init held until the frame is ready, removal on terminate).
 */
import { describe, expect, it } from 'vitest';
import { Kernel, MAX_FILE_REQUESTS, type WorkerLike } from '../../../src/widgets/notebook/kernel';
import { KernelFrameWorker, kernelFileUrl, serveKernelFile, type FrameEnvironment } from '../../../src/widgets/notebook/kernelFrame';
import type { FromKernel, ToKernel } from '../../../src/workers/kernelProtocol';
import { fakeChannel, type FakePort } from './fakeChannel';

const ROOT = 'http://127.0.0.1:4321/';
const WASM = { 'tfjs-backend-wasm.wasm': '/_astro/tfjs-backend-wasm.abc.wasm', 'tfjs-backend-wasm-simd.wasm': '/_astro/simd.def.wasm', 'tfjs-backend-wasm-threaded-simd.wasm': '/_astro/threaded.123.wasm' };
const url = (path: unknown, method: unknown = 'GET', root = ROOT) => kernelFileUrl(path, method, root, WASM);

describe('kernelFileUrl: the files the kernel may have', () => {
  it('serves models/ files, the MNIST file and the wasm binaries by name', () => {
    expect(url('http://127.0.0.1:4321/models/unet-mnist/model.json')).toEqual({ url: 'http://127.0.0.1:4321/models/unet-mnist/model.json' });
    expect(url('models/unet-mnist/weights.bin')).toEqual({ url: 'http://127.0.0.1:4321/models/unet-mnist/weights.bin' });
    expect(url('/data/mnist.bin.gz')).toEqual({ url: 'http://127.0.0.1:4321/data/mnist.bin.gz' });
    expect(url('tfjs-backend-wasm-simd.wasm')).toEqual({ url: 'http://127.0.0.1:4321/_astro/simd.def.wasm' });
    expect(url('models/a/b.bin', 'HEAD')).toEqual({ url: 'http://127.0.0.1:4321/models/a/b.bin' });
    // Under a base path, only that base's models/.
    expect(url('http://h.test/lab/models/x/model.json', 'GET', 'http://h.test/lab/')).toEqual({ url: 'http://h.test/lab/models/x/model.json' });
    expect('refused' in url('http://h.test/models/x/model.json', 'GET', 'http://h.test/lab/')).toBe(true);
  });

  it('refuses everything else with a reason a reader can act on', () => {
    const refused = [
      'http://127.0.0.1:9999/models/unet-mnist/model.json', // another origin (another port)
      'http://evil.test/models/x',
      '//evil.test/models/x',
      'http://127.0.0.1:4321/',
      '/notebook/',
      '/_astro/kernel.worker-abc.js',
      '/data/other.bin',
      '/models/../notebook/',
      '/models/%2e%2e/notebook/',
      '/models/a%2fb',
      '/models/a%5cb',
      '/models/',
      '/models/x?token=1',
      '/models/x#frag',
      'http://user:pw@127.0.0.1:4321/models/x',
      'tfjs-backend-wasm.wasm/../../notebook/',
      'other.wasm',
      'blob:null/123',
      'data:text/plain,hi',
      'javascript:alert(1)',
      'x'.repeat(3000),
      42,
      { toString: () => '/models/x' },
      null,
    ];
    for (const p of refused) {
      const r = url(p);
      expect(r, String(p).slice(0, 60)).toHaveProperty('refused');
      expect((r as { refused: string }).refused).toMatch(/the notebook only loads this site's model and data files/);
    }
    expect(url('/models/x', 'POST')).toEqual({ refused: 'the notebook only reads files (GET), not POST' });
  });
});

describe('serveKernelFile', () => {
  it('fetches an allowed file from the site and sends its bytes, status and type, transferred', async () => {
    const asked: string[] = [];
    const get = (async (u: string) => {
      asked.push(u);
      return new Response(new Uint8Array([1, 2, 3]), { status: 200, headers: { 'Content-Type': 'application/octet-stream' } });
    }) as typeof fetch;
    const { answer, transfer } = await serveKernelFile({ reqId: 7, path: 'models/unet-mnist/weights.bin' }, ROOT, WASM, get);
    expect(asked).toEqual(['http://127.0.0.1:4321/models/unet-mnist/weights.bin']);
    expect(answer).toMatchObject({ type: 'file', reqId: 7, status: 200, contentType: 'application/octet-stream' });
    expect(Array.from(new Uint8Array(answer.bytes!))).toEqual([1, 2, 3]);
    expect(transfer).toEqual([answer.bytes]);
  });

  it('never fetches a refused path, and says why a fetch failed', async () => {
    const asked: string[] = [];
    const get = (async (u: string) => {
      asked.push(u);
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    const refused = await serveKernelFile({ reqId: 1, path: 'http://evil.test/leak' }, ROOT, WASM, get);
    expect(asked).toEqual([]);
    expect(refused.answer).toEqual({ type: 'file', reqId: 1, error: "the notebook only loads this site's model and data files (models/…, data/mnist.bin.gz), not http://evil.test/leak" });
    const failed = await serveKernelFile({ reqId: 2, path: 'data/mnist.bin.gz' }, ROOT, WASM, get);
    expect(failed.answer.error).toBe('http://127.0.0.1:4321/data/mnist.bin.gz: could not be fetched (Failed to fetch)');
  });
});

/** A kernel worker stand-in that takes the port and lets the test speak as the kernel. */
class PortWorker implements WorkerLike {
  port: FakePort | null = null;
  got: ToKernel[] = [];
  onmessage = null;
  onerror = null;
  postMessage(msg: ToKernel, transfer: unknown[] = []) {
    if (msg.type === 'init') {
      this.port = transfer[0] as FakePort;
      this.port.onmessage = (e) => this.got.push(e.data);
    }
  }
  terminate() {}
  say(msg: FromKernel) {
    this.port!.postMessage(msg);
  }
}

describe('Kernel: file requests of the kernel', () => {
  it('answers a fetch through serveFile on the same port, and refuses past MAX_FILE_REQUESTS at once', async () => {
    const w = new PortWorker();
    const pending: (() => void)[] = [];
    const k = new Kernel(() => w, { type: 'init' }, fakeChannel, (msg) =>
      new Promise((resolve) => pending.push(() => resolve({ answer: { type: 'file', reqId: msg.reqId, status: 200, bytes: new ArrayBuffer(1) }, transfer: [] }))),
    );
    void k.run('1', [], { onOutput() {} });
    for (let i = 1; i <= MAX_FILE_REQUESTS + 1; i++) w.say({ type: 'fetch', reqId: i, path: 'models/x' });
    // The one past the limit is refused at once; the others wait for the site.
    expect(w.got.filter((m) => m.type === 'file')).toEqual([{ type: 'file', reqId: MAX_FILE_REQUESTS + 1, error: `the notebook loads at most ${MAX_FILE_REQUESTS} files at once; wait for the others to arrive` }]);
    pending.splice(0).forEach((f) => f());
    await new Promise((r) => setTimeout(r, 0));
    expect(w.got.filter((m) => m.type === 'file').map((m) => (m as { reqId: number }).reqId).sort((a, b) => a - b)).toEqual(Array.from({ length: MAX_FILE_REQUESTS + 1 }, (_, i) => i + 1));
  });

  it('refuses every file without a serveFile, and drops answers for a kernel that was stopped', async () => {
    const w = new PortWorker();
    const k = new Kernel(() => w, { type: 'init' }, fakeChannel);
    void k.run('1', [], { onOutput() {} });
    w.say({ type: 'fetch', reqId: 1, path: 'models/x' });
    await new Promise((r) => setTimeout(r, 0));
    expect(w.got.find((m) => m.type === 'file')).toEqual({ type: 'file', reqId: 1, error: 'the notebook cannot load files here' });

    let release: () => void = () => {};
    const w2 = new PortWorker();
    const k2 = new Kernel(() => w2, { type: 'init' }, fakeChannel, (msg) => new Promise((resolve) => (release = () => resolve({ answer: { type: 'file', reqId: msg.reqId, status: 200, bytes: new ArrayBuffer(1) }, transfer: [] }))));
    void k2.run('1', [], { onOutput() {} });
    w2.say({ type: 'fetch', reqId: 1, path: 'models/x' });
    k2.stop();
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(w2.got.filter((m) => m.type === 'file')).toEqual([]);
  });
});

/** A minimal DOM for the frame worker: iframes that record their attributes, and a window's message listeners. */
function fakeDom(controlled = false) {
  const frames: { attrs: Record<string, string>; src: string; removed: boolean; contentWindow: { posted: { msg: unknown; transfer: unknown[] }[]; postMessage(m: unknown, o: string, t: unknown[]): void } }[] = [];
  const listeners = new Set<(e: MessageEvent) => void>();
  const document = {
    createElement: () => {
      const contentWindow = { posted: [] as { msg: unknown; transfer: unknown[] }[], postMessage(m: unknown, _o: string, t: unknown[]) { this.posted.push({ msg: m, transfer: t }); } };
      const f = { attrs: {} as Record<string, string>, src: '', removed: false, style: { cssText: '' }, contentWindow, setAttribute(k: string, v: string) { this.attrs[k] = v; }, remove() { this.removed = true; } };
      frames.push(f);
      return f;
    },
    body: { appendChild: () => {} },
  };
  const window = { addEventListener: (_t: string, l: (e: MessageEvent) => void) => listeners.add(l), removeEventListener: (_t: string, l: (e: MessageEvent) => void) => listeners.delete(l) };
  const send = (from: unknown, data: unknown, origin = 'null') => listeners.forEach((l) => l({ source: from, data, origin } as MessageEvent));
  const env: FrameEnvironment = { code: async () => new Blob(['k']), controlled: () => controlled, document: document as unknown as Document, window: window as unknown as Window, frameUrl: `${ROOT}kernel-frame/` };
  return { env, frames, listeners, send };
}

describe('KernelFrameWorker', () => {
  it('makes an invisible sandboxed iframe, holds the init until the frame is ready, then sends code, init and port once', async () => {
    const dom = fakeDom();
    const w = new KernelFrameWorker(dom.env);
    expect(dom.frames).toHaveLength(1);
    const f = dom.frames[0];
    expect(f.attrs).toMatchObject({ sandbox: 'allow-scripts', 'aria-hidden': 'true', tabindex: '-1' });
    expect(f.src).toBe('http://127.0.0.1:4321/kernel-frame/');
    const port = { port: 2 };
    w.postMessage({ type: 'init', root: ROOT }, [port as unknown as Transferable]);
    await new Promise((r) => setTimeout(r, 0));
    expect(f.contentWindow.posted).toEqual([]);
    // Someone else's "ready", or one from the site's own origin, does not count.
    dom.send({}, { type: 'frame-ready' });
    dom.send(f.contentWindow, { type: 'frame-ready' }, 'http://127.0.0.1:4321');
    await new Promise((r) => setTimeout(r, 0));
    expect(f.contentWindow.posted).toEqual([]);
    dom.send(f.contentWindow, { type: 'frame-ready' });
    dom.send(f.contentWindow, { type: 'frame-ready' });
    await new Promise((r) => setTimeout(r, 0));
    expect(f.contentWindow.posted).toHaveLength(1);
    const sent = f.contentWindow.posted[0];
    expect(sent.msg).toMatchObject({ type: 'init', init: { type: 'init', root: ROOT } });
    expect((sent.msg as { code: unknown }).code).toBeInstanceOf(Blob);
    expect(sent.transfer).toEqual([port]);
    // Terminate removes the frame (which ends its worker) and stops listening.
    w.terminate();
    expect(f.removed).toBe(true);
    expect(dom.listeners.size).toBe(0);
  });

  it('loads the frame without the attribute under a service worker, and retries once with it when the frame is not sandboxed', () => {
    const dom = fakeDom(true);
    const errors: string[] = [];
    const w = new KernelFrameWorker(dom.env);
    w.onerror = (e) => errors.push(e.message);
    expect(dom.frames[0].attrs.sandbox).toBeUndefined();
    dom.send(dom.frames[0].contentWindow, { type: 'not-sandboxed' }, 'http://127.0.0.1:4321');
    expect(dom.frames[0].removed).toBe(true);
    expect(dom.frames).toHaveLength(2);
    expect(dom.frames[1].attrs.sandbox).toBe('allow-scripts');
    expect(errors).toEqual([]);
    dom.send(dom.frames[1].contentWindow, { type: 'not-sandboxed' }, 'http://127.0.0.1:4321');
    expect(dom.frames).toHaveLength(2);
    expect(errors).toEqual(['the notebook could not start its sandbox (the kernel frame did not get an isolated origin); reload the page to try again']);
  });

  it('reports a crash of the frame’s worker, and a kernel whose code could not be loaded', async () => {
    const dom = fakeDom();
    const errors: string[] = [];
    const w = new KernelFrameWorker({ ...dom.env, code: async () => Promise.reject(new Error('HTTP 404')) });
    w.onerror = (e) => errors.push(e.message);
    w.postMessage({ type: 'init' }, [{} as Transferable]);
    dom.send(dom.frames[0].contentWindow, { type: 'crash', message: 'boom' });
    dom.send(dom.frames[0].contentWindow, { type: 'frame-ready' });
    await new Promise((r) => setTimeout(r, 0));
    expect(errors).toEqual(['boom', 'the notebook kernel could not be loaded (HTTP 404); check the connection and press Run again']);
  });
});
