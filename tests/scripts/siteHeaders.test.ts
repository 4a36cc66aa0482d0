import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSiteHeaders, pageFile, siteHeaders } from '../../scripts/siteHeaders';
import { KERNEL_FRAME_HEADERS } from '../../src/lib/kernelFramePolicy';

let dist: string;
const page = (policy: string) => `<!doctype html><html><head><meta http-equiv="content-security-policy" content="${policy}"></head></html>`;
const write = (rel: string, text: string) => {
  mkdirSync(dirname(join(dist, rel)), { recursive: true });
  writeFileSync(join(dist, rel), text);
};

beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'site-headers-'));
  write('index.html', page("default-src &#39;self&#39;; script-src &#39;sha256-home&#39;"));
  write('lessons/a/index.html', page("default-src 'self'; script-src 'sha256-a'"));
  write('embed/flow-playground/index.html', page("default-src 'self'; script-src 'sha256-embed'"));
  write('404.html', page("default-src 'self'; script-src 'sha256-404'"));
  write('kernel-frame/index.html', page("default-src 'none'"));
  write('_astro/page.js', 'export {}');
  write('models/unet/model.json', '{}');
});
afterAll(() => rmSync(dist, { recursive: true, force: true }));

describe('siteHeaders', () => {
  it("sends each page's own <meta> policy as its header, with frame-ancestors", () => {
    expect(siteHeaders(dist, '/')['Content-Security-Policy']).toBe("default-src 'self'; script-src 'sha256-home'; frame-ancestors 'self'");
    for (const url of ['/lessons/a/', '/lessons/a', '/lessons/a/index.html', '/lessons/a/?backend=wasm#x']) {
      expect(siteHeaders(dist, url)['Content-Security-Policy'], url).toBe("default-src 'self'; script-src 'sha256-a'; frame-ancestors 'self'");
    }
    expect(siteHeaders(dist, '/embed/flow-playground/?flow.steps=4')['Content-Security-Policy']).toBe(
      "default-src 'self'; script-src 'sha256-embed'; frame-ancestors *",
    );
  });

  it('answers a missing page with the 404 page policy', () => {
    expect(siteHeaders(dist, '/no/such/page/')['Content-Security-Policy']).toContain("'sha256-404'");
    expect(siteHeaders(dist, '/../../etc/passwd')['Content-Security-Policy']).toContain("'sha256-404'");
  });

  it('sends scripts, models and data with the isolation headers and no page policy', () => {
    for (const url of ['/_astro/page.js', '/models/unet/model.json']) {
      const h = siteHeaders(dist, url);
      expect(h['Content-Security-Policy'], url).toBeUndefined();
      expect(h['Cross-Origin-Embedder-Policy']).toBe('require-corp');
      expect(h['Cross-Origin-Resource-Policy']).toBe('same-origin');
    }
    expect(pageFile(dist, '/_astro/page.js')).toBeUndefined();
  });

  it("sends the kernel frame its own headers, never its file's or the site's page policy", () => {
    for (const url of ['/kernel-frame/', '/kernel-frame', '/kernel-frame/index.html']) {
      expect(siteHeaders(dist, url)['Content-Security-Policy'], url).toBe(KERNEL_FRAME_HEADERS['Content-Security-Policy']);
    }
  });
});

describe('installSiteHeaders', () => {
  it("sets the headers in front of the server's own handler, which still answers", async () => {
    const server = createServer((req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(`handled ${req.url}`);
    });
    installSiteHeaders(server, dist);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    const get = (path: string) =>
      new Promise<{ headers: IncomingHttpHeaders; body: string }>((done, fail) => {
        request({ host: '127.0.0.1', port, path }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => done({ headers: res.headers, body }));
        })
          .on('error', fail)
          .end();
      });
    try {
      const home = await get('/');
      expect(home.body).toBe('handled /');
      expect(home.headers['content-type']).toBe('text/plain');
      expect(home.headers['content-security-policy']).toBe("default-src 'self'; script-src 'sha256-home'; frame-ancestors 'self'");
      expect(home.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(home.headers['cross-origin-embedder-policy']).toBe('require-corp');
      const script = await get('/_astro/page.js');
      expect(script.headers['content-security-policy']).toBeUndefined();
      expect(script.headers['cross-origin-resource-policy']).toBe('same-origin');
    } finally {
      await new Promise((done) => server.close(done));
    }
  });
});
