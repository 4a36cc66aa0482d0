/**
 * Faults a reader can meet, and how the widgets come back from them (src/widgets/lib/supervisor.ts, failures.ts,
 * compute.svelte.ts, ui/Widget.svelte):
 *
 * 1. The compute worker dies (an uncaught error) or hangs (no answer to pings for 20 s while a request is
 *    pending): the page replaces it once, the badge says so, a pending widget shows the error with "Try again",
 *    and the widget computes again on the new worker; a second death says to reload the page.
 * 2. A wasm trap in a run moves the backend ladder one rung down instead of leaving a poisoned backend.
 * 3. The network drops while the wasm binary or a model file loads: the widget names the file, offers "Try again",
 *    and recovers without a reload — by the button, or by itself when the browser comes back online.
 *
 * Faults are injected through `diffusionLab.fault`, which exists only with `?test-faults` in the page URL (the
 * worker honours it only when the page named it with that flag).
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openPage, ready } from './harness';
import { useSite } from './useSite';

const site = useSite();
const GALLERY = '/widgets/';
const SCRUBBER = '[data-widget="forward-scrubber"]';
const INSPECTOR = '[data-widget="one-step-inspector"]';

type FaultWindow = { diffusionLab: { fault(mode: string, ms?: number): void; workers(): number } };
const fault = (page: Page, mode: string, ms?: number) => page.evaluate(([m, t]) => (window as unknown as FaultWindow).diffusionLab.fault(m as string, t as number | undefined), [mode, ms] as const);
const workers = (page: Page) => page.evaluate(() => (window as unknown as FaultWindow).diffusionLab.workers());
const caption = (page: Page) => page.locator(`${SCRUBBER} .main-image .caption`).textContent();
const errorText = (page: Page, widget: string) => page.locator(`${widget} .error`).textContent();

/** Move the scrubber one page up (t += 100) and return the new t. */
async function scrub(page: Page): Promise<string> {
  const slider = page.locator(`${SCRUBBER} input[type="range"]`);
  await slider.focus();
  await page.keyboard.press('PageUp');
  return slider.inputValue();
}

describe('a compute worker that dies or hangs', () => {
  it('is replaced once after an uncaught error: the badge says so and the scrubber computes again; a second death says to reload', async () => {
    const { context, page } = await openPage(site);
    try {
      await page.goto(site.url + GALLERY + '?test-faults&backend=wasm');
      await ready(page, SCRUBBER, 120_000);
      expect(await workers(page)).toBe(1);

      await fault(page, 'throw');
      await expect.poll(() => page.locator(`${SCRUBBER} .badge-notice`).textContent(), { timeout: 30_000 }).toMatch(
        /^The compute worker stopped \(an error in the worker: .*a fault injected by the test\) and a new one took over; models load again on the next run\.$/,
      );
      expect(await workers(page)).toBe(2);
      const t = await scrub(page);
      await expect.poll(() => caption(page), { timeout: 60_000 }).toContain(t);
      expect(await page.locator(SCRUBBER).getAttribute('data-status')).toBe('ready');

      // The second death in the page's life: no third worker, and the widget says what to do.
      await fault(page, 'throw');
      await expect.poll(() => page.locator(`${SCRUBBER} .badge-notice`).textContent(), { timeout: 30_000 }).toMatch(/stopped again .*; reload the page to compute here\.$/);
      await scrub(page);
      await expect.poll(() => errorText(page, SCRUBBER), { timeout: 30_000 }).toMatch(
        /^Could not compute the noisy images: The compute worker stopped again \(.*\); reload the page to compute here$/,
      );
      expect(await page.locator(`${SCRUBBER} .error button`).count()).toBe(0);
      expect(await workers(page)).toBe(2);
    } finally {
      await context.close();
    }
  });

  it('is replaced when it stops answering for 20 s while a request waits; the widget offers Try again, which computes on the new worker', async () => {
    const { context, page } = await openPage(site);
    try {
      await page.goto(site.url + GALLERY + '?test-faults&backend=wasm');
      await ready(page, SCRUBBER, 120_000);
      await fault(page, 'hang', 120_000);
      const t = await scrub(page);
      await expect.poll(() => errorText(page, SCRUBBER), { timeout: 60_000, interval: 1_000 }).toBe(
        'Could not compute the noisy images: The compute worker stopped (it did not answer for 20 s); a new one has started, so try again Try again',
      );
      expect(await workers(page)).toBe(2);
      await page.locator(`${SCRUBBER} .error button`, { hasText: 'Try again' }).click();
      await ready(page, SCRUBBER, 60_000);
      await expect.poll(() => caption(page), { timeout: 30_000 }).toContain(t);
      expect(await page.locator(`${SCRUBBER} .error`).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('moves one rung down the ladder after a wasm trap, and the widget carries on there', async () => {
    const { context, page } = await openPage(site);
    try {
      await page.goto(site.url + GALLERY + '?test-faults&backend=wasm,cpu');
      await ready(page, SCRUBBER, 120_000);
      expect(await page.locator(`${SCRUBBER} .badge`).textContent()).toBe('wasm');
      await fault(page, 'trap');
      const t = await scrub(page);
      await expect.poll(() => caption(page), { timeout: 60_000 }).toContain(t);
      expect(await page.locator(`${SCRUBBER} .badge`).textContent()).toBe('cpu');
      expect(await page.locator(`${SCRUBBER} .badge-notice`).textContent()).toBe('wasm failed (memory access out of bounds); now running on cpu.');
      expect(await workers(page)).toBe(1);
    } finally {
      await context.close();
    }
  });
});

describe('a connection that drops while files load', () => {
  it('names the wasm binary that did not arrive, offers Try again, and recovers by itself when the browser is back online', async () => {
    const { context, page } = await openPage(site);
    try {
      let refused = 0;
      const refuse = (route: { abort(code: string): Promise<void> }) => {
        refused++;
        return route.abort('internetdisconnected');
      };
      await page.route('**/*.wasm', refuse);
      await page.goto(site.url + GALLERY + '?backend=wasm');
      await page.locator(SCRUBBER).scrollIntoViewIfNeeded();
      await page.waitForSelector(`${SCRUBBER}[data-status="error"]`, { timeout: 120_000 });
      expect(refused).toBeGreaterThan(0);
      expect(await errorText(page, SCRUBBER)).toMatch(
        /^Could not compute the noisy images: Could not load the file _astro\/tfjs-backend-wasm[\w.-]*\.wasm: the connection may have dropped; try again once you are back online, or reload the page Try again$/,
      );

      await page.unroute('**/*.wasm', refuse);
      await context.setOffline(true);
      await context.setOffline(false); // the page sees `online`
      await ready(page, SCRUBBER, 120_000);
      expect(await page.locator(`${SCRUBBER} .badge`).textContent()).toBe('wasm');
      expect(await page.locator(`${SCRUBBER} .error`).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it("names a model file that did not arrive; Try again loads it once it can", async () => {
    const { context, page } = await openPage(site);
    try {
      const refuse = (route: { abort(code: string): Promise<void> }) => route.abort('internetdisconnected');
      await page.route('**/models/unet-mnist/**', refuse);
      await page.goto(site.url + GALLERY + '?backend=wasm');
      await page.locator(INSPECTOR).scrollIntoViewIfNeeded();
      await page.waitForSelector(`${INSPECTOR}[data-status="error"]`, { timeout: 120_000 });
      expect(await errorText(page, INSPECTOR)).toMatch(/Could not load the file models\/unet-mnist\/model\.json: the connection may have dropped; try again once you are back online, or reload the page.*Try again$/);

      await page.unroute('**/models/unet-mnist/**', refuse);
      await page.locator(`${INSPECTOR} .error button`, { hasText: 'Try again' }).click();
      await ready(page, INSPECTOR, 120_000);
      expect(await page.locator(`${INSPECTOR} .error`).count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
