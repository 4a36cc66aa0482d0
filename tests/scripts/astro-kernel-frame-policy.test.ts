import { describe, expect, it } from 'vitest';
import { keepKernelFramePolicy } from '../../scripts/astro-kernel-frame-policy.mjs';
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
