import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { memory, openPage, ready, screenshotPath, seriousAxeViolations } from './harness';
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

/**
 * The input (first panel) and the result (third panel) as the page shows them, decoded from their PNGs: the largest
 * grey-level difference inside the half `keep` and outside it.
 */
function halfDifferences(page: Page, keep: string): Promise<{ kept: number; other: number }> {
  return page.evaluate(
    async ({ sel, keep }) => {
      const grey = async (img: HTMLImageElement) => {
        const copy = new Image();
        copy.src = img.getAttribute('src')!;
        await copy.decode();
        const canvas = document.createElement('canvas');
        canvas.width = copy.naturalWidth;
        canvas.height = copy.naturalHeight;
        const g = canvas.getContext('2d')!;
        g.drawImage(copy, 0, 0);
        return g.getImageData(0, 0, canvas.width, canvas.height).data;
      };
      const panels = document.querySelectorAll(`${sel} .panel`);
      const [a, b] = await Promise.all([grey(panels[0].querySelector('img')!), grey(panels[2].querySelector('img')!)]);
      const out = { kept: 0, other: 0 };
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          const inKept = keep === 'left' ? x < 14 : keep === 'right' ? x >= 14 : keep === 'top' ? y < 14 : y >= 14;
          const d = Math.abs(a[(y * 28 + x) * 4] - b[(y * 28 + x) * 4]);
          if (inKept) out.kept = Math.max(out.kept, d);
          else out.other = Math.max(out.other, d);
        }
      }
      return out;
    },
    { sel: I2I, keep },
  );
}

describe('the image-to-image and inpainting lab (lesson 12)', () => {
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

  // The shipped text model may be a short smoke run: this checks the pipeline, never the quality of the digits.
  it('edits with a prompt on the latent text model: image-to-image, then inpainting whose kept half is the input’s exactly', async () => {
    const { context, page, problems } = await openPage(site, { width: 390, height: 844 });
    try {
      await page.goto(site.url + '/widgets/?backend=wasm&img2img.steps=10#img2img-lab');
      await ready(page, I2I);
      const widget = page.locator(I2I);
      const result = () => widget.locator('.panel').nth(2).locator('img').getAttribute('src');
      await page.waitForSelector(`${I2I}[data-running="false"][data-result-mode="img2img"]`, { timeout: 120_000 });
      expect(await widget.locator('.model-line').innerText()).toMatch(/pixel U-Net \(models\/unet-mnist\)/);
      const pixelResult = await result();

      // Condition on a prompt: the prompt boxes and w replace the class buttons, and the text model runs.
      await widget.getByRole('button', { name: /^a digit class/ }).focus();
      await page.keyboard.press('Tab');
      await page.keyboard.press('Space');
      expect(await widget.getByRole('button', { name: /^a prompt/ }).getAttribute('aria-pressed')).toBe('true');
      expect(await widget.getByRole('group', { name: 'Target class c' }).count()).toBe(0);
      const box = widget.getByLabel(/^Prompt/);
      await box.fill('');
      await box.pressSequentially('a bold eight', { delay: 20 });
      await page.waitForSelector(`${I2I}[data-condition="prompt"][data-result-prompt="a bold eight"][data-result-mode="img2img"][data-running="false"]`, { timeout: 180_000 });
      expect(await result()).toMatch(/^data:image\/png/);
      expect(await result()).not.toBe(pixelResult);
      expect(await widget.locator('.model-line').innerText()).toMatch(/latent text model \(models\/text2img-mnist\)[\s\S]*decoded/);
      // The start is the input's latent noised to t0: four 7×7 channels.
      expect(await widget.locator('.panel').nth(1).locator('.channels img').count()).toBe(4);
      expect(await widget.locator('.steps').innerText()).toBe('10 / 10 steps');
      expect(await widget.locator('.readouts').innerText()).toMatch(/network calls\s+10 \(doubled batch\)/);
      expect(await widget.locator('.readouts').innerText()).toContain('“a bold eight”, w = 3.0');
      const url = new URL(page.url()).searchParams;
      expect(url.get('img2img.condition')).toBe('prompt');
      expect(url.get('img2img.prompt')).toBe('a bold eight');
      // The autoencoder lab just above loads its own model when it scrolls into view (as selecting "Keep" may do): have
      // it loaded before the worker's tensors are counted. The text model, its autoencoder and CLIP are loaded by now.
      await ready(page, AE);
      await page.waitForSelector(`${AE}[data-pending="false"]`, { timeout: 60_000 });
      await widget.scrollIntoViewIfNeeded();
      const before = await memory(page);

      // Negative prompt and w: a new run each.
      await widget.getByLabel(/^Negative prompt/).fill('a thin digit');
      await widget.locator('input[type="range"]').nth(1).fill('1.5');
      expect(await widget.locator('.sliders').innerText()).toContain('w = 1.5 · s = 1 + w = 2.5');
      await page.waitForSelector(`${I2I}[data-result-mode="img2img"][data-running="false"]`, { timeout: 120_000 });
      expect(new URL(page.url()).searchParams.get('img2img.w')).toBe('1.5');
      expect(new URL(page.url()).searchParams.get('img2img.negative')).toBe('a thin digit');

      // Inpainting: the latent is regenerated outside the kept half and decoded; the kept pixels are the input's.
      await widget.getByRole('button', { name: 'inpainting' }).click();
      await page.waitForSelector(`${I2I}[data-result-mode="inpaint"][data-result-keep="left"][data-running="false"]`, { timeout: 120_000 });
      expect((await halfDifferences(page, 'left')).kept).toBe(0);
      await widget.getByLabel(/^Keep/).selectOption('top');
      await page.waitForSelector(`${I2I}[data-result-mode="inpaint"][data-result-keep="top"][data-running="false"]`, { timeout: 120_000 });
      expect((await halfDifferences(page, 'top')).kept).toBe(0);
      expect(await widget.locator('figcaption').innerText()).toContain('4 of its 7 rows');
      const after = await memory(page);
      expect(after.backend).toBe('wasm');
      expect(after.numTensors).toBe(before.numTensors);

      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await widget.screenshot({ path: screenshotPath('widget-img2img-prompt-390') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('reads prompt mode from the URL, clamping or dropping malformed values, and passes axe in the dark theme', async () => {
    const { context, page, problems } = await openPage(site, { colorScheme: 'dark' });
    try {
      const long = 'a bold eight '.repeat(20);
      await page.goto(`${site.url}/widgets/?backend=wasm&img2img.condition=prompt&img2img.mode=sideways&img2img.w=99&img2img.strength=abc&img2img.steps=10&img2img.prompt=${encodeURIComponent(long)}#img2img-lab`);
      await ready(page, I2I);
      const widget = page.locator(I2I);
      expect(await widget.getAttribute('data-condition')).toBe('prompt');
      expect(await widget.getAttribute('data-mode')).toBe('img2img');
      const sliders = widget.locator('input[type="range"]');
      expect(await sliders.nth(0).inputValue()).toBe('0.6');
      expect(await sliders.nth(1).inputValue()).toBe('10');
      expect(await widget.locator('.sliders').innerText()).toContain('w = 10.0 · s = 1 + w = 11.0');
      expect(await widget.getByLabel(/^Prompt/).inputValue()).toBe(long.slice(0, 120));
      const url = new URL(page.url()).searchParams;
      expect(url.get('img2img.w')).toBe('10');
      expect(url.get('img2img.mode')).toBeNull();
      expect(url.get('img2img.strength')).toBeNull();
      await page.waitForSelector(`${I2I}[data-result-mode="img2img"][data-running="false"]`, { timeout: 180_000 });
      expect(await seriousAxeViolations(page, I2I)).toEqual([]);
      await widget.screenshot({ path: screenshotPath('widget-img2img-prompt-dark') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
