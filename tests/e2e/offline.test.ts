/**
 * Offline use and the service worker (src/sw.ts, src/lib/registerSw.ts), against dist/ served by a plain static
 * server of this file's own that sends no isolation headers (like a static host) and whose files the update test
 * can change:
 *
 * 1. After the first visit (the worker controls the page and has precached every file of the build), the browser
 *    goes offline and the server stops; three lessons load, each runs a widget that loads model files on wasm, and
 *    each page is cross-origin isolated by the worker's headers, so the badge names the wasm threads.
 * 2. A new build (one lesson's HTML changed, its revision in sw.js changed): the open page is not reloaded, a notice
 *    offers to reload, and the next visit to that lesson shows the new text, offline too — no stale lesson.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wasmThreadCount } from '../../src/core/backends';
import { badgeText } from '../../src/widgets/ui/backendBadge';
import { DIST, launchChromium, openPage, ready, type Site } from './harness';
import { serveStatic } from './staticServer';
import { cell, hydrated } from './cells';

/** How many files the built service worker precaches (its injected manifest). */
function precacheCount(sw: string): number {
  return (sw.match(/"url":"/g) ?? []).length;
}

/** Wait until the service worker controls `page` and has finished installing (every precached file stored). */
async function whenControlled(page: Page): Promise<void> {
  await page.waitForFunction(
    () => navigator.serviceWorker.controller !== null && (window as unknown as { diffusionLabOffline?: { status: string } }).diffusionLabOffline?.status === 'ready',
    undefined,
    { timeout: 120_000 },
  );
}

/** The files in the worker's precache. */
const precached = (page: Page): Promise<string[]> =>
  page.evaluate(async () => {
    const names = (await caches.keys()).filter((n) => n.includes('precache'));
    const urls: string[] = [];
    for (const name of names) for (const req of await (await caches.open(name)).keys()) urls.push(new URL(req.url).pathname);
    return urls;
  });

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Three lessons with a model widget; the guidance lab asks for 2 wasm threads (`?threads=2`), the others get the default. */
const LESSONS = [
  { path: '/lessons/04-reverse-process/', widget: '[data-widget="one-step-inspector"]', threads: undefined },
  { path: '/lessons/08-guidance/', widget: '[data-widget="guidance-lab"]', threads: 2 },
  { path: '/lessons/09-latent-diffusion/', widget: '[data-widget="autoencoder-lab"]', threads: undefined },
];

describe('offline after the first visit', () => {
  it('precaches the build, then loads three lessons and runs their model widgets on wasm threads with the network off', async () => {
    const server = await serveStatic();
    const site: Site = { url: server.url, browser, close: async () => {} };
    const { context, page, problems } = await openPage(site, { serviceWorkers: 'allow' });
    try {
      await page.goto(`${server.url}/`);
      await whenControlled(page);
      // The first page came from the network without isolation headers: it stays as it loaded (no reload).
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
      const files = await precached(page);
      expect(files.length).toBe(precacheCount(readFileSync(join(DIST, 'sw.js'), 'utf8')));
      for (const f of ['/lessons/04-reverse-process/index.html', '/data/mnist.bin.gz', '/models/latent-mnist/denoiser/weights.bin', '/models/classifier-mnist/weights.bin']) {
        expect(files).toContain(f);
      }
      expect(files.filter((f) => f.endsWith('.wasm'))).toHaveLength(3);

      await context.setOffline(true);
      await server.close();
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      for (const { path, widget, threads } of LESSONS) {
        const res = await page.goto(`${server.url}${path}?backend=wasm${threads ? `&threads=${threads}` : ''}`);
        expect(res?.fromServiceWorker(), path).toBe(true);
        expect(res?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
        expect(await page.evaluate(() => crossOriginIsolated), path).toBe(true);
        await ready(page, widget);
        await page.waitForSelector(`${widget} [data-backend="wasm"]`, { timeout: 60_000 });
        // Isolated by the worker's headers, wasm runs the asked or default pool (the threaded binary when > 1) and the badge says so.
        const expected = threads ?? wasmThreadCount(cores);
        expect(Number(await page.locator(`${widget} .badge`).getAttribute('data-threads')), path).toBe(expected);
        expect(await page.locator(`${widget} .badge`).textContent()).toBe(badgeText('wasm', expected));
        if (threads === 2) expect(await page.locator(`${widget} .badge`).textContent()).toBe('wasm · 2 threads');
        if (widget.includes('inspector')) {
          expect(await page.locator(`${widget} .panels img`).count()).toBe(6);
        } else if (widget.includes('guidance')) {
          await page.waitForSelector(`${widget}[data-pending="false"]`, { timeout: 120_000 });
          expect(Number(await page.locator(widget).getAttribute('data-accuracy'))).toBeGreaterThan(0);
        } else {
          await page.waitForSelector(`${widget}[data-pending="false"]`, { timeout: 60_000 });
          expect(Number(await page.locator(widget).getAttribute('data-mse'))).toBeGreaterThan(0);
        }
        expect(await page.locator(`${widget}[data-status="error"]`).count(), path).toBe(0);
        if (path.includes('04-')) {
          // The notebook too: its kernel frame is loaded through the service worker (no sandbox attribute, which
          // would keep the worker out), whose response makes the frame's origin opaque; the cell loads the shipped
          // U-Net through the page, offline.
          await hydrated(page, 'eps-loss');
          await page.locator(`${cell('eps-loss')} button.run`).click();
          await page.locator(`${cell('eps-loss')} [data-testid="done"]`).waitFor({ timeout: 180_000 });
          const frame = page.frames().find((f) => f.url().includes('/kernel-frame/'));
          expect(frame, 'the kernel frame').toBeTruthy();
          expect(await frame!.evaluate(() => self.origin)).toBe('null');
          expect(await page.locator('iframe[data-kernel-frame]').getAttribute('sandbox')).toBeNull();
          expect(await page.locator('iframe[data-kernel-frame]').getAttribute('data-kernel-frame')).toBe('sandbox-header');
          expect(await page.locator(`${cell('eps-loss')} [data-testid="error"]`).count()).toBe(0);
        }
      }
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
      expect(problems.failedRequests).toEqual([]);
    } finally {
      await context.close();
      await server.close();
    }
  });
});

describe('a new build', () => {
  it('replaces the cached lesson: the open page is told, never reloaded, and the next visit shows the new lesson, offline too', async () => {
    const server = await serveStatic();
    const site: Site = { url: server.url, browser, close: async () => {} };
    const { context, page, problems } = await openPage(site, { serviceWorkers: 'allow' });
    const lesson = '/lessons/05-the-denoiser/';
    try {
      await page.goto(`${server.url}${lesson}`);
      await whenControlled(page);
      expect(await page.locator('#new-build').count()).toBe(0);
      await page.evaluate(() => ((window as unknown as { keep: number }).keep = 42));

      // The new build: the lesson's HTML and, as a build does, its revision in the worker's manifest.
      const html = readFileSync(join(DIST, lesson, 'index.html'), 'utf8');
      const changed = html.replace('<main id="main" tabindex="-1">', '<main id="main" tabindex="-1"><p id="new-build">This lesson was updated.</p>');
      expect(changed).not.toBe(html);
      const sw = readFileSync(join(DIST, 'sw.js'), 'utf8');
      const entry = new RegExp(`"revision":"([0-9a-f]+)","url":"${lesson.slice(1)}index.html"`);
      expect(sw).toMatch(entry);
      const revision = createHash('md5').update(changed).digest('hex');
      server.overrides.set(`${lesson}index.html`, changed);
      server.overrides.set('/sw.js', sw.replace(entry, `"revision":"${revision}","url":"${lesson.slice(1)}index.html"`));

      await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update());
      await page.waitForSelector('#site-update-notice', { timeout: 60_000 });
      expect(await page.locator('#site-update-notice').innerText()).toMatch(/A new version of Diffusion Lab is available\. Reload this page to use it/);
      // Still the same document: nothing reloaded by itself.
      expect(await page.evaluate(() => (window as unknown as { keep?: number }).keep)).toBe(42);
      expect(await page.locator('#new-build').count()).toBe(0);

      await context.setOffline(true);
      await page.locator('#site-update-notice').getByRole('button', { name: 'Reload' }).click();
      await page.waitForSelector('#new-build', { timeout: 30_000 });
      expect(await page.evaluate(() => (window as unknown as { keep?: number }).keep)).toBeUndefined();
      await page.goto(`${server.url}/`);
      await page.goto(`${server.url}${lesson}`);
      expect(await page.locator('#new-build').textContent()).toBe('This lesson was updated.');
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
      await server.close();
    }
  });
});
