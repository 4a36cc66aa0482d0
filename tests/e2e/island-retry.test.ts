import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openPage, ready, screenshotPath, seriousAxeViolations, type PageProblems } from './harness';
import { useSite } from './useSite';

// src/lib/islandRetry.ts: a widget whose script (its island's component chunk) failed to load says so inside its
// frame, and hydrates once the chunk loads again, on Try again or when the browser is back online.

const site = useSite();

const SCHEDULES = '/lessons/03-noise-schedules/';
const FORWARD = '/lessons/02-forward-process/';
const lab = '[data-widget="schedule-lab"]';
const scrubber = '[data-widget="forward-scrubber"]';
const islandOf = (widget: string) => `astro-island:has(${widget})`;
const chunk = (name: string) => (url: URL) => url.pathname.startsWith(`/_astro/${name}.`) && url.pathname.endsWith('.js');

/** The island has not hydrated yet and is below the fold, so its script has not been asked for. */
async function belowTheFold(page: Page, widget: string): Promise<void> {
  const box = (await page.locator(widget).boundingBox())!;
  expect(box.y).toBeGreaterThan(page.viewportSize()!.height);
  expect(await page.locator(`${islandOf(widget)}[ssr]`).count()).toBe(1);
}

/** Failed requests and console errors other than the failed loads of the chunks `names` (the test caused those). */
function otherProblems(problems: PageProblems, ...names: string[]) {
  const chunks = new RegExp(`/_astro/(${names.join('|')})\\.[\\w-]+\\.js(\\?retry=\\d+)? \\(net::ERR_(FAILED|INTERNET_DISCONNECTED)\\)$`);
  return {
    pageErrors: problems.pageErrors,
    // Chromium reports a blocked or offline fetch as "Failed to load resource: net::…" without its URL; those are
    // counted against the failed requests of the chunk below.
    consoleErrors: problems.consoleErrors.filter((e) => !/^Failed to load resource: net::ERR_(FAILED|INTERNET_DISCONNECTED)$/.test(e)),
    failedRequests: problems.failedRequests.filter((r) => !chunks.test(r)),
    foreignRequests: problems.foreignRequests,
  };
}
const NONE = { pageErrors: [], consoleErrors: [], failedRequests: [], foreignRequests: [] };

describe('a widget whose script failed to load', () => {
  it('says so in its frame, keeps saying so while the script still fails, and hydrates when the reader presses Try again', async () => {
    const { context, page, problems } = await openPage(site, { width: 390, height: 844 });
    try {
      const asked: string[] = [];
      const block = chunk('ScheduleLab');
      await page.route(block, (route) => {
        asked.push(route.request().url());
        return route.abort();
      });
      await page.goto(site.url + SCHEDULES);
      await belowTheFold(page, lab);
      expect(asked).toEqual([]);

      await page.locator(lab).scrollIntoViewIfNeeded();
      const notice = page.locator(`${lab} .island-retry`);
      await notice.waitFor({ timeout: 30_000 });
      expect(asked.length).toBeGreaterThan(0);
      const alert = page.locator(`${lab} .island-retry [role="alert"]`);
      expect(await alert.textContent()).toBe('This figure’s script could not be loaded, so it shows a still preview.');
      expect(await page.locator(`${islandOf(lab)}[ssr][data-script-failed]`).count()).toBe(1);
      // Readable at 390 px: the notice and its button lie inside the frame and the viewport.
      const frame = (await page.locator(lab).boundingBox())!;
      const button = page.getByRole('button', { name: 'Try again' });
      for (const box of [(await notice.boundingBox())!, (await button.boundingBox())!]) {
        expect(box.x).toBeGreaterThanOrEqual(frame.x);
        expect(box.x + box.width).toBeLessThanOrEqual(Math.min(frame.x + frame.width, 390));
      }
      expect(await button.getAttribute('aria-describedby')).toBe(await alert.getAttribute('id'));
      expect(await seriousAxeViolations(page, lab)).toEqual([]);
      await page.evaluate((w) => document.querySelector(w)!.scrollIntoView(), lab);
      await page.screenshot({ path: screenshotPath('island-retry-light-390') });
      await page.evaluate(() => (document.documentElement.dataset.theme = 'dark'));
      expect(await seriousAxeViolations(page, lab)).toEqual([]);
      await page.screenshot({ path: screenshotPath('island-retry-dark-390') });

      // Still failing (the plain URL and the cache-busting one): the notice says so and stays.
      const before = asked.length;
      await button.click();
      await expect.poll(() => alert.textContent(), { timeout: 30_000 }).toMatch(/^This figure’s script still could not be loaded\. Check your connection/);
      expect(asked.length).toBe(before + 2);
      expect(asked.slice(-1)[0]).toMatch(/\?retry=\d+$/);
      expect(await button.getAttribute('aria-disabled')).toBeNull();
      expect(await page.locator(`${islandOf(lab)}[ssr]`).count()).toBe(1);

      await page.unroute(block);
      await button.click();
      await page.waitForSelector(`astro-island:not([ssr]) ${lab}`, { timeout: 60_000 });
      expect(await page.locator('.island-retry').count()).toBe(0);
      expect(await page.locator('[data-script-failed]').count()).toBe(0);
      // The plain URL loaded again; focus moved from the vanished button to the figure's frame.
      expect(await page.locator(islandOf(lab)).getAttribute('component-url')).not.toContain('retry=');
      expect(await page.evaluate((w) => !!document.activeElement?.matches(w), lab)).toBe(true);
      await ready(page, lab, 120_000);
      await page.locator(lab).getByRole('button', { name: 'log SNR' }).click();
      expect(new URL(page.url()).searchParams.get('sched.show')).toBe('logSnr');
      expect(otherProblems(problems, 'ScheduleLab')).toEqual(NONE);
      expect(problems.failedRequests).toHaveLength(asked.length);
    } finally {
      await context.close();
    }
  });

  it('hydrates by itself when the browser is back online', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + FORWARD);
      await belowTheFold(page, scrubber);
      await context.setOffline(true);
      await page.locator(scrubber).scrollIntoViewIfNeeded();
      await page.locator(`${scrubber} .island-retry`).waitFor({ timeout: 30_000 });
      expect(await page.getByRole('alert').filter({ hasText: 'script could not be loaded' }).count()).toBe(1);

      await context.setOffline(false); // fires `online`: no button pressed
      await page.waitForSelector(`astro-island:not([ssr]) ${scrubber}`, { timeout: 60_000 });
      expect(await page.locator('.island-retry').count()).toBe(0);
      await ready(page, scrubber, 120_000);
      const caption = page.locator(`${scrubber} .main-image .caption`);
      const slider = page.locator(`${scrubber} input[type="range"]`);
      await slider.focus();
      await page.keyboard.press('ArrowRight');
      const t = await slider.inputValue();
      await expect.poll(() => caption.textContent()).toContain(t);
      // Offline, the island's renderer (shared by every Svelte island) failed to load as well.
      expect(otherProblems(problems, 'ForwardScrubber', 'client\\.svelte')).toEqual(NONE);
    } finally {
      await context.close();
    }
  });

  it('works for notebook cells: every failed cell says so, and one Try again brings them all back with their code', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      const block = chunk('Cell');
      await page.route(block, (route) => route.abort());
      await page.goto(site.url + '/notebook/');
      const first = '[data-cell="noise-digit"]';
      await page.locator(first).scrollIntoViewIfNeeded();
      await page.locator(`${first} .island-retry`).waitFor({ timeout: 30_000 });
      // Every cell that came into view failed; each says so (the first two share the viewport).
      await page.locator('[data-cell="alpha-bar"]').scrollIntoViewIfNeeded();
      await expect.poll(() => page.locator('[data-cell] .island-retry').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
      const failed = await page.locator('astro-island[data-script-failed]').count();
      expect(await page.locator('[data-cell] .island-retry [role="alert"]').allTextContents()).toEqual(
        Array(failed).fill('This code cell’s script could not be loaded, so it shows a still preview.'),
      );
      // The build-time highlighted code is still there to read.
      expect(await page.locator('[data-cell="alpha-bar"] .static').innerText()).toContain("makeSchedule('linear', 1000)");

      await page.unroute(block);
      await page.locator('[data-cell="alpha-bar"]').getByRole('button', { name: 'Try again' }).click();
      await page.locator('[data-cell="alpha-bar"][data-hydrated="true"]').waitFor({ timeout: 60_000 });
      await expect.poll(() => page.locator('.island-retry').count(), { timeout: 30_000 }).toBe(0);
      expect(await page.locator('astro-island[data-script-failed]').count()).toBe(0);
      await page.locator(first).scrollIntoViewIfNeeded();
      await page.locator(`${first}[data-hydrated="true"]`).waitFor({ timeout: 60_000 });
      // Hydrated with its slot: the highlighted code came through, and Run is live.
      expect(await page.locator('[data-cell="alpha-bar"] .static').innerText()).toContain("makeSchedule('linear', 1000)");
      expect(await page.locator('[data-cell="alpha-bar"] button.run').isEnabled()).toBe(true);
      expect(otherProblems(problems, 'Cell')).toEqual(NONE);
    } finally {
      await context.close();
    }
  });

  it('loads the script from a fresh URL when the browser keeps refusing the one that failed, and the widget works', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      // A browser that remembers a failed module fetch answers every later import of that URL with the failure.
      const block = (url: URL) => chunk('ScheduleLab')(url) && !url.search;
      await page.route(block, (route) => route.abort());
      await page.goto(site.url + SCHEDULES);
      await page.locator(lab).scrollIntoViewIfNeeded();
      await page.locator(`${lab} .island-retry`).waitFor({ timeout: 30_000 });
      await page.getByRole('button', { name: 'Try again' }).click();
      await page.waitForSelector(`astro-island:not([ssr]) ${lab}`, { timeout: 60_000 });
      expect(await page.locator('.island-retry').count()).toBe(0);
      expect(await page.locator(islandOf(lab)).getAttribute('component-url')).toMatch(/\/_astro\/ScheduleLab\.[\w-]+\.js\?retry=\d+$/);
      await ready(page, lab, 120_000);
      await page.locator(lab).getByRole('button', { name: 'log SNR' }).click();
      expect(new URL(page.url()).searchParams.get('sched.show')).toBe('logSnr');
      await expect.poll(() => page.locator(`${lab} .now img`).count()).toBeGreaterThan(0);
      expect(otherProblems(problems, 'ScheduleLab')).toEqual(NONE);
    } finally {
      await context.close();
    }
  });
});
