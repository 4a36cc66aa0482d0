/**
 * The kernel frame's only script (inlined by src/pages/kernel-frame.astro; plain JS so that the same text runs in
 * the frame and in the unit tests). It runs the notebook kernel worker inside an iframe of opaque origin:
 *
 * - it refuses to run anything unless its origin is opaque (`self.origin === 'null'`): it then posts
 *   { type: 'not-sandboxed' } to its parent, which retries with the iframe's `sandbox` attribute;
 * - otherwise it posts { type: 'frame-ready' } and accepts, from its parent window only, exactly one message
 *   { type: 'init', code: Blob, init: { type: 'init', order?: string[], root?: string } } carrying one MessagePort;
 * - it starts the kernel as a worker from a blob: URL of that code and hands it `init` with the port, so the page
 *   and the worker talk directly through the port; the frame never reads that traffic. A classic worker: Chromium
 *   does not start a module worker from a blob: URL in an opaque-origin document (the worker fires a bare error
 *   event), so the page sends the single-file kernel bundle wrapped in a strict-mode function (no top-level names
 *   a cell could reach, no imports);
 * - the worker's own messages (what cell code posts on `self`) are dropped; an error that reaches the frame is
 *   reported to the parent as { type: 'crash', message }.
 *
 * Everything else (a second init, a message from anyone but the parent, a malformed one) is ignored. Stop and
 * Restart remove the whole iframe, which ends the worker.
 *
 * @param {any} win the frame's global object (a stand-in in unit tests)
 * @returns {'not-sandboxed' | 'waiting'}
 */
function kernelFrameBootstrap(win) {
  var parent = win.parent;
  var say = function (msg) {
    try {
      parent.postMessage(msg, '*');
    } catch (e) {
      /* the parent is gone */
    }
  };
  if (win.origin !== 'null') {
    say({ type: 'not-sandboxed' });
    return 'not-sandboxed';
  }
  var started = false;
  var ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'];
  var validInit = function (data, ports) {
    if (!data || typeof data !== 'object' || data.type !== 'init') return null;
    if (!(data.code instanceof win.Blob) || data.code.size === 0) return null;
    if (!ports || ports.length !== 1 || !(ports[0] instanceof win.MessagePort)) return null;
    var init = data.init;
    if (!init || typeof init !== 'object' || init.type !== 'init') return null;
    var clean = { type: 'init' };
    if (init.order !== undefined) {
      if (!Array.isArray(init.order) || init.order.length > ORDER.length) return null;
      for (var i = 0; i < init.order.length; i++) if (ORDER.indexOf(init.order[i]) < 0) return null;
      clean.order = init.order.slice();
    }
    if (init.root !== undefined) {
      if (typeof init.root !== 'string' || init.root.length > 2000) return null;
      clean.root = init.root;
    }
    return { code: data.code, init: clean, port: ports[0] };
  };
  var onMessage = function (e) {
    if (started || e.source !== parent) return;
    var ok = validInit(e.data, e.ports);
    if (!ok) return;
    started = true;
    win.removeEventListener('message', onMessage);
    var worker;
    try {
      worker = new win.Worker(win.URL.createObjectURL(ok.code), { name: 'diffusion-lab-notebook' });
    } catch (err) {
      say({ type: 'crash', message: 'the kernel could not start (' + String((err && err.message) || err) + ')' });
      return;
    }
    worker.onmessage = null;
    worker.onerror = function (ev) {
      if (ev && ev.preventDefault) ev.preventDefault();
      say({ type: 'crash', message: String((ev && ev.message) || 'unknown error') });
    };
    worker.postMessage(ok.init, [ok.port]);
  };
  win.addEventListener('message', onMessage);
  say({ type: 'frame-ready' });
  return 'waiting';
}
