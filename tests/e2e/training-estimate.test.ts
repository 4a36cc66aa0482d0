import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openPage, ready } from './harness';
import { useSite } from './useSite';
import LAB_DIGITS from '../../src/widgets/lib/labDigits.json';

const site = useSite();
const LAB = '[data-widget="training-lab"]';
const step = async (page: Page) => Number(await page.locator(LAB).getAttribute('data-step'));

describe('the training lab’s estimate of when digits appear', () => {
  it('shows, once the speed is measured, the benchmark’s step for the preset and the seconds it takes at that speed; other settings get a plain note instead', async () => {
    const measured = LAB_DIGITS.tiny as { steps_to_digits: number | null; batch: number; lr: number };
    expect(measured.steps_to_digits, 'npm run bench -- lab writes the figure the lab shows').not.toBeNull();
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(`${site.url}/widgets/?backend=wasm&lab.size=tiny&lab.batch=${measured.batch}&lab.lr=${measured.lr}#training-lab`);
      await ready(page, LAB, 120_000);
      await page.locator(LAB).getByRole('button', { name: 'Start training' }).click();
      const estimate = page.locator(`${LAB} [data-digits-step]`);
      await estimate.waitFor({ timeout: 120_000 });
      expect(Number(await estimate.getAttribute('data-digits-step'))).toBe(measured.steps_to_digits);
      const perSecond = Number(await page.locator(`${LAB} [data-steps-per-second]`).getAttribute('data-steps-per-second'));
      const seconds = Number(await estimate.getAttribute('data-digits-seconds'));
      expect(seconds).toBeGreaterThan(0);
      // the estimate is the figure over the speed shown beside it (both read in the same frame may differ by an update)
      expect(Math.abs(seconds * perSecond - measured.steps_to_digits!) / measured.steps_to_digits!).toBeLessThan(0.5);
      expect(await estimate.textContent()).toMatch(new RegExp(`digits usually appear after about .+ of training \\(step ${measured.steps_to_digits!.toLocaleString('en')}\\)`));
      expect(await step(page)).toBeGreaterThan(0);
      await page.locator(LAB).getByRole('button', { name: 'Pause' }).click();
      await page.waitForSelector(`${LAB}[data-phase="paused"]`);
      await page.locator(LAB).getByRole('button', { name: 'Reset' }).click();
      await page.waitForSelector(`${LAB}[data-phase="idle"]`);

      // A batch size the figure was not measured with: no estimate, a note saying what it was measured with.
      const other = [8, 16, 32, 64].find((b) => b !== measured.batch)!;
      await page.locator(`${LAB} select`).nth(1).selectOption(String(other));
      await page.locator(LAB).getByRole('button', { name: 'Start training' }).click();
      await expect.poll(() => step(page), { timeout: 120_000, interval: 300 }).toBeGreaterThan(0);
      await page.locator(`${LAB} .pace`).nth(1).waitFor();
      expect(await page.locator(`${LAB} [data-digits-step]`).count()).toBe(0);
      expect(await page.locator(`${LAB} .pace`).nth(1).textContent()).toContain(`measured with batch size ${measured.batch}`);
      await page.locator(LAB).getByRole('button', { name: 'Pause' }).click();
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
