/**
 * The page's side of the kernel frame (see src/lib/kernelFramePolicy.ts and src/widgets/notebook/frameBootstrap.js):
 * a WorkerLike whose worker runs in an invisible iframe of opaque origin, and the only files that kernel may have.
 *
 * The iframe is made on the first Run. When a service worker controls the page it is loaded without the
 * `sandbox` attribute (a sandboxed frame is never controlled by the service worker, whose response carries the
 * sandbox in its CSP header); otherwise with sandbox="allow-scripts". Either way the frame itself checks that its
 * origin is opaque; if it is not, it says 'not-sandboxed' and the page tries once more with the attribute.
 * Terminating removes the iframe, which ends its worker even in an endless loop.
 */
import type { FromKernel, ToKernel } from '../../workers/kernelProtocol';
import type { WorkerLike } from './kernel';

/** The three tfjs wasm binaries the kernel may ask for by name. */
export const WASM_NAMES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

/**
 * Which URL of the site the page fetches for the kernel's request `path`, or why not. Allowed: a tfjs wasm binary
 * by its name (mapped to the built file's URL in `wasmUrls`), a file under the site's models/ folder, and the
 * MNIST file data/mnist.bin.gz; only GET or HEAD, no query or fragment, nothing outside the site's root (`..`
 * segments are resolved first, so they cannot climb out of models/).
 */
export function kernelFileUrl(path: unknown, method: unknown, siteRoot: string, wasmUrls: Record<string, string>): { url: string } | { refused: string } {
  const shown = typeof path === 'string' ? (path.length > 200 ? `${path.slice(0, 200)}…` : path) : typeof path;
  const refuse = () => ({ refused: `the notebook only loads this site's model and data files (models/…, data/mnist.bin.gz), not ${shown}` });
  if (typeof path !== 'string' || path.length > 2000) return refuse();
  if (method !== undefined && method !== 'GET' && method !== 'HEAD') return { refused: `the notebook only reads files (GET), not ${String(method).slice(0, 20)}` };
  if ((WASM_NAMES as readonly string[]).includes(path)) {
    const url = wasmUrls[path];
    return url ? { url: new URL(url, siteRoot).href } : refuse();
  }
  let url: URL;
  const root = new URL(siteRoot);
  try {
    url = new URL(path, root);
  } catch {
    return refuse();
  }
  if (url.origin !== root.origin || url.search || url.hash || url.username || url.password) return refuse();
  const base = root.pathname.endsWith('/') ? root.pathname : `${root.pathname}/`;
  if (!url.pathname.startsWith(base)) return refuse();
  const rest = url.pathname.slice(base.length);
  if (rest === 'data/mnist.bin.gz') return { url: url.href };
  // Decoded, a segment must still be a plain name: no encoded slash, backslash or dot-segment.
  if (!/^models\/[^?#]+$/.test(rest)) return refuse();
  for (const segment of rest.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return refuse();
    }
    if (!decoded || decoded === '.' || decoded === '..' || /[/\\]/.test(decoded)) return refuse();
  }
  return { url: url.href };
}

/** The answer to one 'fetch' of the kernel: a 'file' message and what to transfer with it. */
export async function serveKernelFile(
  msg: { reqId: number; path: unknown; method?: unknown },
  siteRoot: string,
  wasmUrls: Record<string, string>,
  get: typeof fetch = fetch,
): Promise<{ answer: Extract<ToKernel, { type: 'file' }>; transfer: Transferable[] }> {
  const target = kernelFileUrl(msg.path, msg.method ?? 'GET', siteRoot, wasmUrls);
  if ('refused' in target) return { answer: { type: 'file', reqId: msg.reqId, error: target.refused }, transfer: [] };
  try {
    const res = await get(target.url, { method: msg.method === 'HEAD' ? 'HEAD' : 'GET', credentials: 'same-origin' });
    const bytes = await res.arrayBuffer();
    const contentType = res.headers.get('Content-Type') ?? undefined;
    return { answer: { type: 'file', reqId: msg.reqId, status: res.status, contentType, bytes }, transfer: [bytes] };
  } catch (e) {
    return { answer: { type: 'file', reqId: msg.reqId, error: `${target.url}: could not be fetched (${e instanceof Error ? e.message : String(e)})` }, transfer: [] };
  }
}

/** What the page needs to make a frame: where things are, and how to make and find its parts (fakes in tests). */
export interface FrameEnvironment {
  /** The kernel worker's code (fetched once from the site: the built single-file worker). */
  code(): Promise<Blob>;
  /** Whether a service worker controls this page. */
  controlled(): boolean;
  document: Document;
  window: Window;
  /** The frame's URL (KERNEL_FRAME_PATH under the site's root). */
  frameUrl: string;
}

/**
 * A WorkerLike backed by the kernel frame. postMessage(init, [port]) is held until the frame says it is ready,
 * then the worker's code, the init message and the port go to the frame in one message; every later message
 * travels on the port, never through here.
 */
export class KernelFrameWorker implements WorkerLike {
  onmessage: ((e: MessageEvent<FromKernel>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  private iframe: HTMLIFrameElement | null = null;
  private held: { msg: ToKernel; port: Transferable } | null = null;
  private ready = false;
  private sent = false;
  private dead = false;
  private retried = false;
  private readonly listener = (e: MessageEvent) => this.onWindowMessage(e);

  constructor(private readonly env: FrameEnvironment) {
    env.window.addEventListener('message', this.listener);
    this.mount(!env.controlled());
  }

  private mount(sandboxed: boolean): void {
    const f = this.env.document.createElement('iframe');
    if (sandboxed) f.setAttribute('sandbox', 'allow-scripts');
    f.setAttribute('aria-hidden', 'true');
    f.setAttribute('tabindex', '-1');
    f.setAttribute('title', 'notebook kernel');
    f.setAttribute('data-kernel-frame', sandboxed ? 'sandbox-attribute' : 'sandbox-header');
    f.style.cssText = 'position:absolute;width:0;height:0;border:0;visibility:hidden;';
    f.src = this.env.frameUrl;
    this.iframe = f;
    this.ready = false;
    this.env.document.body.appendChild(f);
  }

  private fail(message: string): void {
    if (this.dead) return;
    this.onerror?.({ message, preventDefault() {} } as ErrorEvent);
  }

  private onWindowMessage(e: MessageEvent): void {
    if (this.dead || !this.iframe || e.source !== this.iframe.contentWindow) return;
    const data = e.data as { type?: unknown; message?: unknown } | null;
    if (!data || typeof data !== 'object') return;
    if (data.type === 'not-sandboxed') {
      // The frame's origin is the site's: it ran nothing. Once more with the attribute, then give up.
      this.iframe.remove();
      this.iframe = null;
      if (this.retried) return this.fail('the notebook could not start its sandbox (the kernel frame did not get an isolated origin); reload the page to try again');
      this.retried = true;
      this.mount(true);
      return;
    }
    if (e.origin !== 'null') return;
    if (data.type === 'frame-ready') {
      this.ready = true;
      void this.send();
    } else if (data.type === 'crash') {
      this.fail(typeof data.message === 'string' ? data.message.slice(0, 500) : 'unknown error');
    }
  }

  private async send(): Promise<void> {
    if (!this.ready || !this.held || this.sent || this.dead) return;
    this.sent = true;
    let code: Blob;
    try {
      code = await this.env.code();
    } catch (e) {
      return this.fail(`the notebook kernel could not be loaded (${e instanceof Error ? e.message : String(e)}); check the connection and press Run again`);
    }
    const target = this.iframe?.contentWindow;
    if (this.dead || !target) return;
    target.postMessage({ type: 'init', code, init: this.held.msg }, '*', [this.held.port]);
    this.held = null;
  }

  postMessage(msg: ToKernel, transfer: Transferable[] = []): void {
    // Only the init with the private port comes here; the Kernel sends the rest on that port.
    if (msg.type !== 'init' || this.held || this.sent || !transfer[0]) return;
    this.held = { msg, port: transfer[0] };
    void this.send();
  }

  terminate(): void {
    this.dead = true;
    this.env.window.removeEventListener('message', this.listener);
    this.iframe?.remove();
    this.iframe = null;
    this.held = null;
  }
}
