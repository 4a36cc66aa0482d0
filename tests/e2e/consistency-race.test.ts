/**
 * The sampler race's consistency lane in a real Chromium: consistency-mnist from the same x_T as the other lanes, in
 * its own 1, 2 or 4 steps (`cmSteps`, kept in the URL, malformed values clamped or ignored), its NFE shown like the
 * others'; the `lanes` prop of the lesson's instance; and a missing model file named inside that lane alone while
 * the other lanes finish.
 */
import { describe, expect, it } from 'vitest';
import { openPage, ready, screenshotPath } from './harness';
import { useSite } from './useSite';

const site = useSite();

const RACE = '[data-widget="sampler-race"]';
const laneKeys = (page: import('playwright-core').Page) => page.locator(`${RACE} [data-lane]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-lane')));
const readouts = (page: import('playwright-core').Page, lane: string) => page.locator(`${RACE} [data-lane="${lane}"] dd`).allTextContents();

describe('the consistency lane of the sampler race', () => {
  it('races consistency-mnist in 2, then 4 of its own steps beside DDIM and DPM-Solver++ 2M from the same noise, with its evaluations and distance', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + '/widgets/?backend=wasm&race.count=1&race.nfe=10&race.ddpm=0&race.consistency=1&race.cmSteps=2');
      await ready(page, RACE);
      expect(await laneKeys(page)).toEqual(['ddim', 'dpmpp2m', 'consistency']);
      const cmSteps = page.locator(RACE).getByLabel('Consistency steps');
      expect(await cmSteps.inputValue()).toBe('2');
      expect(await page.locator(`${RACE} [data-lane="consistency"] h3`).textContent()).toContain('Consistency model');
      expect(await page.locator(`${RACE} [data-lane="consistency"] .detail`).textContent()).toContain('consistency-mnist, its own 2 steps = 2 evaluations');
      await page.locator(RACE).getByRole('button', { name: /start the race/i }).click();
      for (const lane of ['consistency', 'ddim', 'dpmpp2m']) {
        await page.waitForSelector(`${RACE} [data-lane="${lane}"][data-done="true"]`, { timeout: 120_000 });
        expect(await page.locator(`${RACE} [data-lane="${lane}"] img`).count(), lane).toBe(1);
      }
      expect((await readouts(page, 'consistency')).slice(0, 3)).toEqual(['2 / 2', '0', '2']); // 2 steps to x̂₀, 2 evaluations
      expect((await readouts(page, 'ddim')).slice(0, 3)).toEqual(['10 / 10', '0', '10']); // the shared budget is unchanged
      // Its distance is to the converged solution of its teacher's ODE (unet-mnist, the same x_T).
      const distance = async (lane: string) => Number(await page.locator(`${RACE} [data-lane="${lane}"] .dist dd`).textContent());
      for (const lane of ['consistency', 'ddim']) await expect.poll(() => distance(lane), { timeout: 120_000 }).toBeGreaterThan(0);
      await expect.poll(() => page.locator(RACE).getAttribute('data-running')).not.toBe('true');

      // Four steps: the select writes the URL, and the lane runs again with its new count.
      await cmSteps.selectOption('4');
      await expect.poll(() => page.url()).toContain('race.cmSteps=4');
      await page.locator(RACE).getByRole('button', { name: /race again/i }).click();
      await expect.poll(() => readouts(page, 'consistency').then((r) => r.slice(0, 3)), { timeout: 120_000 }).toEqual(['4 / 4', '0', '4']);
      await page.waitForSelector(`${RACE} [data-lane="consistency"][data-done="true"]`, { timeout: 120_000 });
      await expect.poll(() => page.locator(RACE).getAttribute('data-running'), { timeout: 120_000 }).not.toBe('true');
      expect(await page.locator(`${RACE} .error, ${RACE} .lane-error`).count()).toBe(0);
      await page.locator(RACE).screenshot({ path: screenshotPath('widget-race-consistency') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('is added by its button, and reads a malformed cmSteps as the nearest choice or the default', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + '/widgets/?backend=wasm&race.cmSteps=3');
      await ready(page, RACE);
      expect(await laneKeys(page)).toEqual(['ddpm', 'ddim', 'dpmpp2m']);
      expect(await page.locator(RACE).getByLabel('Consistency steps').count()).toBe(0); // shown with the lane
      await page.locator(RACE).getByRole('button', { name: 'Consistency model' }).click();
      await expect.poll(() => page.url()).toContain('race.consistency=1');
      expect(await laneKeys(page)).toEqual(['ddpm', 'ddim', 'dpmpp2m', 'consistency']);
      // 3 is no choice: the nearest below, 2, written back into the URL
      expect(await page.locator(RACE).getByLabel('Consistency steps').inputValue()).toBe('2');
      expect(new URL(page.url()).searchParams.get('race.cmSteps')).toBe('2');

      await page.goto(site.url + '/widgets/?backend=wasm&race.consistency=1&race.cmSteps=lots');
      await ready(page, RACE);
      expect(await page.locator(RACE).getByLabel('Consistency steps').inputValue()).toBe('1');
      await expect.poll(() => new URL(page.url()).searchParams.has('race.cmSteps')).toBe(false);
      expect(await page.locator(`${RACE} [data-lane="consistency"] .detail`).textContent()).toContain('its own 1 step = 1 evaluation');
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the lesson’s instance starts with its own lanes (the lanes prop), the URL overriding them, and races one consistency step', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + '/lessons/10-beyond/?backend=wasm&consistency-race.ddpm=1&consistency-race.consistency=0');
      await ready(page, RACE);
      expect(await laneKeys(page)).toEqual(['ddpm', 'ddim', 'dpmpp2m']);

      await page.goto(site.url + '/lessons/10-beyond/?backend=wasm&consistency-race.count=1&consistency-race.nfe=5');
      await ready(page, RACE);
      expect(await laneKeys(page)).toEqual(['ddim', 'dpmpp2m', 'consistency']);
      // its defaults stay out of the URL
      expect(new URL(page.url()).searchParams.has('consistency-race.consistency')).toBe(false);
      await page.locator(RACE).getByRole('button', { name: /start the race/i }).click();
      for (const lane of ['consistency', 'ddim', 'dpmpp2m']) await page.waitForSelector(`${RACE} [data-lane="${lane}"][data-done="true"]`, { timeout: 120_000 });
      expect((await readouts(page, 'consistency')).slice(0, 3)).toEqual(['1 / 1', '0', '1']);
      expect((await readouts(page, 'ddim')).slice(0, 3)).toEqual(['5 / 5', '0', '5']);
      await expect.poll(() => page.locator(RACE).getAttribute('data-running'), { timeout: 120_000 }).not.toBe('true');
      expect(await page.locator(`${RACE} .error, ${RACE} .lane-error`).count()).toBe(0);
      await page.locator(RACE).screenshot({ path: screenshotPath('lesson-consistency-race') });
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('names a missing consistency-mnist file inside its lane, while the other lanes finish', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await context.route('**/models/consistency-mnist/model.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
      await page.goto(site.url + '/widgets/?backend=wasm&race.count=1&race.nfe=5&race.ddpm=0&race.consistency=1');
      await ready(page, RACE);
      await page.locator(RACE).getByRole('button', { name: /start the race/i }).click();
      await page.waitForSelector(`${RACE} [data-lane="consistency"][data-failed="true"]`, { timeout: 120_000 });
      expect(await page.locator(`${RACE} [data-lane="consistency"] .lane-error`).textContent()).toMatch(/could not run: .*consistency-mnist\/model\.json: HTTP 404/);
      for (const lane of ['ddim', 'dpmpp2m']) {
        await page.waitForSelector(`${RACE} [data-lane="${lane}"][data-done="true"]`, { timeout: 120_000 });
        expect(await page.locator(`${RACE} [data-lane="${lane}"] img`).count(), lane).toBe(1);
      }
      expect(await page.locator(`${RACE} [data-lane="consistency"]`).getAttribute('data-done')).toBe('false');
      await expect.poll(() => page.locator(RACE).getAttribute('data-running'), { timeout: 120_000 }).not.toBe('true');
      // The widget itself carries on: no widget-wide error, and the race can start again.
      expect(await page.locator(`${RACE} .error`).count()).toBe(0);
      expect(await page.locator(RACE).getAttribute('data-status')).toBe('ready');
      await expect(page.locator(RACE).getByRole('button', { name: /race again/i }).isEnabled()).resolves.toBe(true);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
