/**
 * Per-path response headers for the built site (src/lib/sitePolicy.ts `headersFor`), on Astro's preview server:
 * `npm start` (scripts/serve.ts) and the end-to-end server (tests/e2e/harness.ts `serveDist`) both call
 * `installSiteHeaders` on the HTTP server that `preview()` returns.
 *
 * Astro's static preview runs Vite's preview server with its own plugins only (no user plugin's
 * configurePreviewServer) and `server.headers` is one set for every path, so the headers are set by a request
 * listener placed in front of the server's own. A page's header policy is its <meta> policy, read from the file
 * it is served from (Astro computes its hashes at build time), plus frame-ancestors, which a <meta> cannot carry.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { headersFor, isKernelFramePath, metaPolicy } from '../src/lib/sitePolicy';

const isFile = (path: string): boolean => existsSync(path) && statSync(path).isFile();

/** The page file a request for `pathname` is answered with, as Astro's preview resolves it; undefined for other files. */
export function pageFile(dist: string, pathname: string): string | undefined {
  const path = normalize(join(dist, pathname));
  if (path !== dist && !path.startsWith(dist + sep)) return undefined;
  if (pathname.endsWith('/')) {
    const index = join(path, 'index.html');
    if (isFile(index)) return index;
    if (isFile(path.replace(/[\\/]$/, '') + '.html')) return path.replace(/[\\/]$/, '') + '.html';
  } else if (extname(pathname) === '.html') {
    if (isFile(path)) return path;
  } else if (isFile(path)) {
    return undefined; // a script, stylesheet, model, wasm binary…
  } else if (isFile(join(path, 'index.html'))) {
    return join(path, 'index.html');
  }
  // Anything else is answered with the 404 page.
  const notFound = join(dist, '404.html');
  return isFile(notFound) ? notFound : undefined;
}

/** The headers for one request to the build in `dist`. */
export function siteHeaders(dist: string, url: string): Record<string, string> {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, 'http://site.invalid').pathname);
  } catch {
    return headersFor('/');
  }
  if (isKernelFramePath(pathname)) return headersFor(pathname);
  const file = pageFile(dist, pathname);
  const policy = file ? metaPolicy(readFileSync(file, 'utf8')) : undefined;
  return headersFor(pathname, policy);
}

/** Set the site's headers on every response of `server` (an HTTP server serving `dist`) before it answers. */
export function installSiteHeaders(server: Server, dist: string): void {
  const own = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    for (const [name, value] of Object.entries(siteHeaders(dist, req.url ?? '/'))) res.setHeader(name, value);
    for (const listener of own) listener.call(server, req, res);
  });
}
