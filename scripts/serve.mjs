// A small static file server for the built site (dist/). `npm start` builds, then runs this;
// the end-to-end tests import `startServer` to serve the same build on a free local port.
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentType } from './mime.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)), 'dist');

/** Map a URL path onto a file inside `dir`, Astro-style (`/a/` → `/a/index.html`); null if none. */
function resolveFile(dir, urlPath) {
  let rel;
  try {
    rel = normalize(decodeURIComponent(urlPath));
  } catch {
    return null;
  }
  const candidates = [join(dir, rel), join(dir, rel, 'index.html'), join(dir, `${rel}.html`)];
  for (const file of candidates) {
    if ((file === dir || file.startsWith(dir + sep)) && existsSync(file) && statSync(file).isFile()) return file;
  }
  return null;
}

/**
 * Serve `dir` on 127.0.0.1. Port 0 picks a free one; when the asked port is busy the next ones are tried.
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export function startServer({ dir = root, port = 0, quiet = true } = {}) {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0].split('#')[0];
    const file = resolveFile(dir, path);
    if (!file) {
      const notFound = resolveFile(dir, '/404.html');
      res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' });
      if (notFound) createReadStream(notFound).pipe(res);
      else res.end('Not found');
      if (!quiet) console.log(`404 ${path}`);
      return;
    }
    res.writeHead(200, {
      'Content-Type': contentType(file),
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    let tries = 0;
    server.on('error', (err) => {
      if (err.code === 'EADDRINUSE' && port !== 0 && tries++ < 20) server.listen(++port, '127.0.0.1');
      else reject(err);
    });
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      resolvePromise({
        url: `http://127.0.0.1:${actual}`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!existsSync(join(root, 'index.html'))) {
    console.error('No build found in dist/. Run `npm run build` first (or `npm start`, which builds).');
    process.exit(1);
  }
  const { url } = await startServer({ port: Number(process.env.PORT ?? 4321), quiet: true });
  console.log(`\n  Diffusion Lab is being served at ${url}/\n  (Ctrl+C stops the server)\n`);
}
