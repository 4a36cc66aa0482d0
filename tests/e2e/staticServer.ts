/**
 * dist/ over HTTP on 127.0.0.1 the way a plain static host serves it (directory indexes, a 301 to the slash, the
 * 404 page), with files a test can replace in memory, and optionally the cross-origin isolation headers a host
 * can be configured to send. Used by tests/e2e/offline.test.ts (no headers: the service worker adds them) and
 * `npm run bench -- threads` (isolated vs not).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import { contentType } from '../../scripts/mime.mjs';
import { DIST } from './harness';

export interface StaticServer {
  url: string;
  /** Paths (e.g. '/sw.js', '/lessons/x/index.html') served from memory instead of dist/. */
  overrides: Map<string, string>;
  close(): Promise<void>;
}

/** COOP + COEP + CORP, what makes a page cross-origin isolated. */
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' };

export async function serveStatic(options: { isolation?: boolean; root?: string } = {}): Promise<StaticServer> {
  const root = options.root ?? DIST;
  const extra = options.isolation ? ISOLATION : {};
  const overrides = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const key = path.endsWith('/') ? `${path}index.html` : path;
    const override = overrides.get(key);
    if (override !== undefined) {
      res.writeHead(200, { 'Content-Type': contentType(key), 'Cache-Control': 'no-cache', ...extra });
      res.end(override);
      return;
    }
    let file = normalize(join(root, path));
    if (!file.startsWith(root + sep) && file !== root) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) {
      if (!path.endsWith('/')) {
        res.writeHead(301, { Location: `${path}/` }).end();
        return;
      }
      file = join(file, 'index.html');
    }
    if (!existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8', ...extra }).end(readFileSync(join(root, '404.html')));
      return;
    }
    res.writeHead(200, { 'Content-Type': contentType(file), 'Cache-Control': 'no-cache', ...extra });
    res.end(readFileSync(file));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    overrides,
    close: () =>
      (closed ??= new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      })),
  };
}
