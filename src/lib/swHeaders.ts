/**
 * The headers the service worker (src/sw.ts) adds to what it serves: cross-origin isolation for every
 * same-origin response (COOP + COEP + CORP: SharedArrayBuffer, hence wasm threads), and the kernel frame's own
 * policy on the notebook's kernel frame. No DOM, no worker globals: unit-tested in Node.
 */

/** Cross-origin isolation, for pages and everything they load from this site. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Statuses whose responses may not carry a body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * `response` with the isolation headers when `url` is of `origin` (and, for the path `kernelFrame`, the frame's
 * headers too); other responses, opaque ones and errors pass unchanged.
 */
export function isolatedResponse(response: Response, url: URL, origin: string, kernelFrame: string, frameHeaders: Readonly<Record<string, string>>): Response {
  if (url.origin !== origin || response.type === 'opaque' || response.type === 'opaqueredirect' || response.status === 0) return response;
  const headers = new Headers(response.headers);
  for (const [k, v] of Object.entries(ISOLATION_HEADERS)) headers.set(k, v);
  if (url.pathname === kernelFrame || url.pathname === `${kernelFrame}index.html`) for (const [k, v] of Object.entries(frameHeaders)) headers.set(k, v);
  return new Response(NULL_BODY.has(response.status) ? null : response.body, { status: response.status, statusText: response.statusText, headers });
}
