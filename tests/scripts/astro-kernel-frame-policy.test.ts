import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepKernelFramePolicy, unusedKernelWorkers } from '../../scripts/astro-kernel-frame-policy.mjs';
import { KERNEL_FRAME_CSP } from '../../src/lib/kernelFramePolicy';
import { metaPolicy } from '../../src/lib/sitePolicy';

const escape = (s: string) => s.replace(/'/g, '&#39;');
const own = `<meta http-equiv="Content-Security-Policy" content="${escape(KERNEL_FRAME_CSP)}">`;
const astros = `<meta http-equiv="content-security-policy" content="${escape("default-src 'self'; worker-src 'self'; script-src 'self' 'sha256-x'")}">`;

describe('keepKernelFramePolicy', () => {
  it("removes the page policy Astro writes into the kernel frame and keeps the frame's own", () => {
    const html = `<html><head><meta charset="utf-8">${astros}${own}<script>boot()</script></head></html>`;
    const out = keepKernelFramePolicy(html);
    expect(out).toBe(`<html><head><meta charset="utf-8">${own}<script>boot()</script></head></html>`);
    expect(metaPolicy(out)).toBe(KERNEL_FRAME_CSP);
  });

  it('refuses a kernel frame without its own policy', () => {
    expect(() => keepKernelFramePolicy(`<html><head>${astros}</head></html>`)).toThrow(/no <meta> with its own policy/);
  });
});

describe('unusedKernelWorkers', () => {
  it('names the kernel worker bundles no other script names, and only those', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-assets-'));
    try {
      writeFileSync(join(dir, 'kernel.worker-Used123.js'), 'self.onmessage = () => {}');
      writeFileSync(join(dir, 'kernel.worker-Ssr4567.js'), 'self.onmessage = () => {} // unminified');
      writeFileSync(join(dir, 'Cell.abc.js'), 'const u = new URL("/_astro/kernel.worker-Used123.js", import.meta.url);');
      writeFileSync(join(dir, 'compute.worker-Zz.js'), 'unreferenced, but not the kernel');
      expect(unusedKernelWorkers(dir)).toEqual(['kernel.worker-Ssr4567.js']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
