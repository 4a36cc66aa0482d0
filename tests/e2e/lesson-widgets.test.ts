import { describe, expect, it } from 'vitest';
import { openPage, ready, screenshotPath } from './harness';
import { useSite } from './useSite';

const site = useSite();

const AE = '[data-widget="autoencoder-lab"]';
const I2I = '[data-widget="img2img-lab"]';

describe('the autoencoder lab (lesson 10)', () => {
  it('encodes a digit into 4 latent channels, decodes it, and degrades as latent noise grows', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + '/widgets/?backend=wasm#autoencoder-lab');
      await ready(page, AE);
      await page.waitForSelector(`${AE}[data-pending="false"]`, { timeout: 60_000 });
      const clean = Number(await page.locator(AE).getAttribute('data-mse'));
      expect(clean).toBeGreaterThan(0);
      expect(clean).toBeLessThan(0.1);
      expect(await page.locator(`${AE} .channel img`).count()).toBe(4);
      expect(await page.locator(AE).innerText()).toMatch(/784 values[\s\S]*196 values/);
      const slider = page.locator(`${AE} input[type="range"]`);
      await slider.focus();
      await page.keyboard.press('End');
      await expect.poll(async () => Number(await page.locator(AE).getAttribute('data-mse')), { timeout: 60_000 }).toBeGreaterThan(clean * 2);
      await page.locator(AE).screenshot({ path: screenshotPath('widget-autoencoder') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('the image-to-image and inpainting lab (lesson 11)', () => {
  it('turns a digit into a result at the chosen strength, then inpaints half of it, with the shipped model', async () => {
    const { context, page, problems } = await openPage(site, { width: 390, height: 844 });
    try {
      await page.goto(site.url + '/widgets/?backend=wasm&img2img.steps=10#img2img-lab');
      await ready(page, I2I);
      const result = () => page.locator(`${I2I} .panel`).nth(2).locator('img').getAttribute('src');
      await expect.poll(result, { timeout: 120_000 }).toMatch(/^data:image\/png/);
      expect(await page.locator(`${I2I} .steps`).innerText()).toMatch(/^(\d+) \/ \1 steps$/);
      const first = await result();
      await page.locator(I2I).getByRole('button', { name: 'inpainting' }).click();
      await page.waitForSelector(`${I2I}[data-mode="inpaint"][data-status="ready"][data-running="false"]`, { timeout: 180_000 });
      await expect.poll(result, { timeout: 120_000 }).not.toBe(first);
      expect(new URL(page.url()).searchParams.get('img2img.mode')).toBe('inpaint');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.locator(I2I).screenshot({ path: screenshotPath('widget-img2img-390') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
