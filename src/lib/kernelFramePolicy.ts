/**
 * The notebook kernel's sandbox frame: one self-contained HTML document (no subresources: the page hands it
 * the kernel's code, the wasm binaries, model files and digits by message), shown in an iframe of opaque origin,
 * so reader code has no network and no access to the site's storage.
 *
 * Shared by everything that serves or embeds the frame: the page's CSP (frame-src), `npm start`'s and the test
 * server's headers, and the service worker (which cannot control a frame loaded with the `sandbox` attribute,
 * so when it controls the page the frame is loaded without the attribute and the service worker's response
 * carries the `sandbox` directive in its Content-Security-Policy header instead).
 */

/** Where the frame is served from (a directory index of the built site). */
export const KERNEL_FRAME_PATH = '/kernel-frame/';

/**
 * The frame's own policy (also in its <meta>): no connections of any kind, scripts only inline or evaluated
 * (reader code is evaluated; 'unsafe-eval' lives here and nowhere else on the site), workers only from blob:
 * URLs the frame creates, wasm compilation for the wasm backend.
 */
export const KERNEL_FRAME_CSP = [
  "default-src 'none'",
  "script-src 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' blob:",
  'worker-src blob:',
  "connect-src 'none'",
  'img-src data: blob:',
  "style-src 'unsafe-inline'",
  "font-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Headers for the frame's response where the server can set them: the sandbox directive makes its origin opaque. */
export const KERNEL_FRAME_HEADERS: Record<string, string> = {
  'Content-Security-Policy': `sandbox allow-scripts; ${KERNEL_FRAME_CSP}`,
};
