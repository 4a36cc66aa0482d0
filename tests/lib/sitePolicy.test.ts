import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EMBED_PATH,
  INLINE_SCRIPT_FILES,
  PAGE_DIRECTIVES,
  SCRIPT_SOURCES,
  STYLE_SOURCES,
  frameAncestors,
  headersFor,
  metaPolicy,
  parsePolicy,
} from '../../src/lib/sitePolicy';
import { KERNEL_FRAME_CSP, KERNEL_FRAME_HEADERS, KERNEL_FRAME_PATH } from '../../src/lib/kernelFramePolicy';

const ROOT = join(import.meta.dirname, '../..');
const page = parsePolicy([...PAGE_DIRECTIVES, `script-src ${SCRIPT_SOURCES.join(' ')}`, `style-src ${STYLE_SOURCES.join(' ')}`].join('; '));

describe('the page policy', () => {
  it('allows only the site by default, connections included, and no plugins', () => {
    expect(page.get('default-src')).toEqual(["'self'"]);
    expect(page.get('connect-src')).toEqual(["'self'"]);
    expect(page.get('object-src')).toEqual(["'none'"]);
    expect(page.get('base-uri')).toEqual(["'self'"]);
    expect(page.get('form-action')).toEqual(["'self'"]);
    expect(page.get('frame-src')).toEqual(["'self'"]);
  });

  it("compiles wasm but never evaluates strings: 'wasm-unsafe-eval' and no 'unsafe-eval' anywhere", () => {
    expect(page.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    for (const [, sources] of page) expect(sources).not.toContain("'unsafe-eval'");
    expect(page.get('script-src')).not.toContain("'unsafe-inline'");
  });

  it('takes workers from the site only, fonts and images from the site and data:', () => {
    expect(page.get('worker-src')).toEqual(["'self'"]);
    expect(page.get('font-src')).toEqual(["'self'", 'data:']);
    expect(page.get('img-src')).toEqual(["'self'", 'data:', 'blob:']);
  });

  it('declares each directive once and leaves frame-ancestors to the header (a <meta> ignores it)', () => {
    const names = PAGE_DIRECTIVES.map((d) => d.split(' ')[0]);
    expect(new Set(names).size).toBe(names.length);
    expect(names).not.toContain('frame-ancestors');
    expect(names).not.toContain('script-src');
  });

  it('lets any site frame the embed pages and only the site frame the others', () => {
    expect(frameAncestors(`${EMBED_PATH}guidance-lab/`)).toBe('frame-ancestors *');
    expect(frameAncestors(EMBED_PATH)).toBe("frame-ancestors 'self'");
    expect(frameAncestors('/lessons/08-guidance/')).toBe("frame-ancestors 'self'");
  });
});

describe('headersFor', () => {
  const csp = "default-src 'self'; script-src 'self' 'sha256-abc'";

  it('gives a page its policy with frame-ancestors, cross-origin isolation and same-origin resources', () => {
    expect(headersFor('/widgets/', csp)).toEqual({
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Content-Security-Policy': `${csp}; frame-ancestors 'self'`,
    });
  });

  it('lets other sites frame an embed page, even those that require CORP themselves', () => {
    const h = headersFor('/embed/flow-playground/', `${csp};`);
    expect(h['Content-Security-Policy']).toBe(`${csp}; frame-ancestors *`);
    expect(h['Cross-Origin-Resource-Policy']).toBe('cross-origin');
  });

  it('sends no policy with scripts, workers, wasm and models, only the isolation headers', () => {
    expect(headersFor('/_astro/compute.worker.js')).toEqual({
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
    });
  });

  it('gives the kernel frame its own sandboxed policy and never the page policy', () => {
    for (const path of [KERNEL_FRAME_PATH, KERNEL_FRAME_PATH.slice(0, -1), `${KERNEL_FRAME_PATH}index.html`]) {
      const h = headersFor(path, csp);
      expect(h['Content-Security-Policy']).toBe(KERNEL_FRAME_HEADERS['Content-Security-Policy']);
      expect(h['Content-Security-Policy']).toContain('sandbox allow-scripts');
      expect(h['Content-Security-Policy']).toContain(KERNEL_FRAME_CSP);
      expect(h['Content-Security-Policy']).not.toContain('sha256-abc');
      expect(h['Cross-Origin-Embedder-Policy']).toBe('require-corp');
      expect(h['Cross-Origin-Opener-Policy']).toBe('same-origin');
    }
  });
});

describe('metaPolicy and parsePolicy', () => {
  it("read a page's <meta> policy whatever the case and quoting, with entities decoded", () => {
    const html = `<head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src &#39;self&#39;; img-src &#39;self&#39; data:"></head>`;
    expect(metaPolicy(html)).toBe("default-src 'self'; img-src 'self' data:");
    expect(metaPolicy(`<meta content='script-src "x"' http-equiv=content-security-policy>`)).toBe('script-src "x"');
    expect(metaPolicy('<meta name="description" content="no policy">')).toBeUndefined();
  });

  it('parse directives by name, lower-cased, the first of a repeated directive winning (as browsers do)', () => {
    const p = parsePolicy("Default-Src 'self';img-src data: ; default-src *;");
    expect([...p.keys()]).toEqual(['default-src', 'img-src']);
    expect(p.get('default-src')).toEqual(["'self'"]);
    expect(p.get('img-src')).toEqual(['data:']);
  });
});

describe('the Astro config', () => {
  it('hands Astro the page directives (each entry starting with one its schema knows) and the inline scripts by hash', async () => {
    const config = (await import('../../astro.config.mjs')).default as {
      experimental: { csp: { directives: string[]; scriptDirective: { resources: string[]; hashes: string[] }; styleDirective: { resources: string[] } } };
    };
    const { directives, scriptDirective, styleDirective } = config.experimental.csp;
    const astroKnows = /^(base-uri|child-src|connect-src|default-src|font-src|form-action|frame-ancestors|frame-src|img-src|manifest-src|media-src|object-src|worker-src)\s/;
    for (const d of directives) expect(d).toMatch(astroKnows);
    // Astro joins the entries with ';'.
    expect([...parsePolicy(directives.join(';')).entries()]).toEqual([...parsePolicy(PAGE_DIRECTIVES.join(';')).entries()]);
    expect(scriptDirective.resources).toEqual([...SCRIPT_SOURCES]);
    expect(styleDirective.resources).toEqual([...STYLE_SOURCES]);
    const hashOf = (file: string) => `sha256-${createHash('sha256').update(readFileSync(join(ROOT, file), 'utf8')).digest('base64')}`;
    expect(scriptDirective.hashes).toEqual(INLINE_SCRIPT_FILES.map(hashOf));
  });
});
