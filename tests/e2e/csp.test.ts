/**
 * The page policy holds on every page with its widgets running: no Content-Security-Policy violation (reported by
 * the `securitypolicyviolation` event, listened for before any script of the page runs, and by the console, which
 * also carries the workers' reports), the <meta> policy and the header policy present and equal (the header adds
 * frame-ancestors, which a <meta> cannot carry), and every page cross-origin isolated.
 */
import { describe, expect, it } from 'vitest';
import type { Page, Response } from 'playwright-core';
import { brokenWidgets, hydrateAll, openPage, sitePaths } from './harness';
import { useSite } from './useSite';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIST } from './harness';
import { frameAncestors, metaPolicy, parsePolicy } from '../../src/lib/sitePolicy';
import { KERNEL_FRAME_CSP, KERNEL_FRAME_HEADERS, KERNEL_FRAME_PATH } from '../../src/lib/kernelFramePolicy';

const site = useSite();
// The notebook kernel's frame is no page for readers and has its own policy (tested below).
const paths = sitePaths().filter((p) => p !== KERNEL_FRAME_PATH);
const kernelFrameBuilt = existsSync(join(DIST, KERNEL_FRAME_PATH, 'index.html'));

type Violation = { directive: string; blocked: string; source: string; sample: string };

/** Record every policy violation of the page (and of its frames) from before its first script. */
async function recordViolations(page: Page): Promise<() => Promise<Violation[]>> {
  await page.addInitScript(() => {
    const seen: Violation[] = [];
    (window as unknown as { __violations: Violation[] }).__violations = seen;
    document.addEventListener(
      'securitypolicyviolation',
      (e) => seen.push({ directive: e.effectiveDirective, blocked: e.blockedURI, source: `${e.sourceFile}:${e.lineNumber}`, sample: e.sample }),
      true,
    );
  });
  return () => page.evaluate(() => (window as unknown as { __violations: Violation[] }).__violations);
}

/** The policy of the page's <meta http-equiv="content-security-policy"> elements, as the browser parsed the document. */
const metaPolicies = (page: Page) =>
  page.$$eval('meta[http-equiv="content-security-policy" i]', (metas) => metas.map((m) => m.getAttribute('content') ?? ''));

/** The header policy without frame-ancestors, and frame-ancestors alone. */
function splitHeader(header: string): { policy: Map<string, string[]>; frameAncestors: string | undefined } {
  const policy = parsePolicy(header);
  const fa = policy.get('frame-ancestors');
  policy.delete('frame-ancestors');
  return { policy, frameAncestors: fa === undefined ? undefined : ['frame-ancestors', ...fa].join(' ') };
}

const sorted = (p: Map<string, string[]>) => [...p.entries()].map(([k, v]) => [k, [...v].sort()] as const).sort(([a], [b]) => a.localeCompare(b));

describe('the Content-Security-Policy of every page', () => {
  it('covers every page of the build, the embed pages included', () => {
    expect(paths.length).toBeGreaterThan(10);
    expect(paths).toContain('/widgets/');
    expect(paths).toContain('/embed/');
    expect(paths.filter((p) => p.startsWith('/embed/') && p !== '/embed/').length).toBeGreaterThan(0);
  });

  for (const path of paths) {
    it(`${path}: no violation with its widgets running; meta and header policies present and equal; isolated`, async () => {
      const { context, page, problems } = await openPage(site);
      try {
        const violations = await recordViolations(page);
        // wasm: headless Chromium's WebGL is SwiftShader, far too slow for the model widgets (as site.test.ts).
        const response = (await page.goto(`${site.url}${path}?backend=wasm`, { waitUntil: 'networkidle' })) as Response;
        expect(response.status()).toBe(200);
        await hydrateAll(page);
        if (path === '/notebook/') {
          // A notebook cell: the editor (CodeMirror styles itself from script) and a run in the kernel.
          const id = await page.locator('[data-cell]').first().getAttribute('data-cell');
          const cell = page.locator(`[data-cell="${id}"]`);
          await cell.scrollIntoViewIfNeeded();
          await page.locator(`[data-cell="${id}"][data-hydrated="true"]`).waitFor({ timeout: 60_000 });
          await cell.locator('.static').click();
          await cell.locator('.cm-content').waitFor({ timeout: 60_000 });
          await cell.locator('button.run').click();
          await cell.locator('[data-testid="done"]').waitFor({ timeout: 120_000 });
        }
        expect(await brokenWidgets(page)).toEqual([]);

        const header = (await response.allHeaders())['content-security-policy'];
        const metas = await metaPolicies(page);
        expect(header, 'the page policy header').toBeTruthy();
        expect(metas, 'exactly one <meta> policy').toHaveLength(1);
        const { policy, frameAncestors: fa } = splitHeader(header);
        expect(sorted(policy)).toEqual(sorted(parsePolicy(metas[0])));
        expect(fa).toBe(frameAncestors(path));

        expect(header).not.toContain("'unsafe-eval'");
        expect(policy.get('connect-src')).toEqual(["'self'"]);
        expect(policy.get('default-src')).toEqual(["'self'"]);
        expect(policy.get('object-src')).toEqual(["'none'"]);

        expect(await page.evaluate(() => self.crossOriginIsolated), 'cross-origin isolated').toBe(true);
        expect(await violations()).toEqual([]);
        expect(problems.consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
        expect(problems).toEqual({ consoleErrors: [], pageErrors: [], failedRequests: [], foreignRequests: [] });
      } finally {
        await context.close();
      }
    });
  }

  it.skipIf(!kernelFrameBuilt)('the kernel frame gets its own headers and carries only its own policy, never the page policy', async () => {
    const { context, page } = await openPage(site);
    try {
      const response = await page.request.get(`${site.url}${KERNEL_FRAME_PATH}`);
      expect(response.headers()['content-security-policy']).toBe(KERNEL_FRAME_HEADERS['Content-Security-Policy']);
      expect(response.headers()['cross-origin-embedder-policy']).toBe('require-corp');
      const html = await response.text();
      const metas = html.match(/<meta\b[^>]*>/gi)!.map((tag) => metaPolicy(tag)).filter((p) => p !== undefined);
      expect(metas).toEqual([KERNEL_FRAME_CSP]);
    } finally {
      await context.close();
    }
  });

  it('reports a violation when the page breaks its policy (the listener works)', async () => {
    const { context, page } = await openPage(site);
    try {
      const violations = await recordViolations(page);
      await page.goto(`${site.url}/glossary/`, { waitUntil: 'networkidle' });
      // An inline script that no hash allows.
      await page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.__ran = true';
        document.head.append(s);
      });
      await page.waitForFunction(() => (window as unknown as { __violations: unknown[] }).__violations.length > 0);
      expect(await page.evaluate(() => (window as unknown as { __ran?: boolean }).__ran)).toBeUndefined();
      expect((await violations()).map((v) => v.directive)).toContain('script-src-elem');
    } finally {
      await context.close();
    }
  });
});
