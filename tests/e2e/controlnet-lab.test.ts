import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { memory, openPage, ready, screenshotPath, seriousAxeViolations, trackLayoutShift } from './harness';
import { useSite } from './useSite';

const site = useSite();

const P = '[data-widget="controlnet-lab"]';
const GALLERY = '/widgets/';
// The shipped ControlNet may be a short run: these tests check the widget and the pipeline, never the digits' quality.

/** Wait until the grid shown was sampled for the hint the widget shows now (and nothing newer is pending). */
async function sampledForCurrentHint(page: Page, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    (sel) => {
      const el = document.querySelector<HTMLElement>(sel);
      return !!el && el.dataset.pending === 'false' && el.dataset.hint !== '' && el.dataset.resultHint === el.dataset.hint;
    },
    P,
    { timeout },
  );
}
const attr = async (page: Page, name: string) => (await page.locator(P).getAttribute(`data-${name}`)) ?? '';
const gridSources = (page: Page) => page.locator(`${P} .grid img`).evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src')).join('|'));
const hintSource = (page: Page) => page.locator(`${P} .hint-image img`).getAttribute('src');

/** A stroke with the mouse across the pad, from (x0, y0) to (x1, y1) in fractions of its size. */
async function drawStroke(page: Page, [x0, y0]: [number, number], [x1, y1]: [number, number]): Promise<void> {
  const box = (await page.locator(`${P} .grid-lines`).boundingBox())!;
  await page.mouse.move(box.x + x0 * box.width, box.y + y0 * box.height);
  await page.mouse.down();
  await page.mouse.move(box.x + x1 * box.width, box.y + y1 * box.height, { steps: 12 });
  await page.mouse.up();
}

describe('the ControlNet lab', () => {
  it('samples for the default preset, follows a drawn stroke, undoes it, takes a preset from the keyboard, and keeps the worker’s tensors flat', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      // Server-rendered: the preset drawing and its skeleton are pictures in the HTML before any script runs.
      const html = await (await page.request.get(`${site.url}${GALLERY}`)).text();
      expect(html).toMatch(/data-widget="controlnet-lab"[\s\S]*?class="hint-image[^"]*"[^>]*>\s*<img[^>]+src="data:image\/png;base64,/);
      await page.goto(`${site.url}${GALLERY}?backend=wasm#controlnet-lab`);
      await ready(page, P);
      await sampledForCurrentHint(page);
      const preset = await attr(page, 'hint');
      expect(preset).toMatch(/^[A-Za-z0-9_-]{131}$/);
      expect(await page.locator(`${P} .grid img`).count()).toBe(8);
      expect(await attr(page, 'count')).toBe('8');
      expect(await page.locator(`${P} .maps img.heat`).count()).toBe(3);
      expect(Number(await attr(page, 'max-hint'))).toBeGreaterThan(0);
      expect(Number(await attr(page, 'max-skip'))).toBeGreaterThan(0);
      expect(await page.locator(`${P} .progress-text`).innerText()).toMatch(/20 DDIM steps in/);
      expect(await page.locator(`${P} .presets button[aria-pressed="true"]`).innerText()).toBe('3');
      const before = await memory(page);

      // A stroke: the hint and the grid follow it once the pointer lifts; the drawing goes into the URL.
      const grid = await gridSources(page);
      const hintPicture = await hintSource(page);
      await drawStroke(page, [0.15, 0.85], [0.85, 0.85]);
      expect(await attr(page, 'strokes')).toBe('1');
      const drawn = await attr(page, 'hint');
      expect(drawn).not.toBe(preset);
      expect(await hintSource(page)).not.toBe(hintPicture);
      await sampledForCurrentHint(page);
      expect(await gridSources(page)).not.toBe(grid);
      expect(new URL(page.url()).searchParams.get('controlnet.ink')).toMatch(/^[A-Za-z0-9_-]{131}$/);
      expect(await page.locator(`${P} .presets button[aria-pressed="true"]`).count()).toBe(0);

      // Undo: back to the preset, and its grid.
      await page.locator(P).getByRole('button', { name: 'Undo' }).click();
      expect(await attr(page, 'strokes')).toBe('0');
      expect(await attr(page, 'hint')).toBe(preset);
      await sampledForCurrentHint(page);
      expect(await gridSources(page)).toBe(grid);

      // A preset from the keyboard: Tab onto the button of the held-out 5 and press Enter.
      const five = page.locator(P).getByRole('button', { name: 'Use the skeleton of a held-out 5' });
      await page.locator(P).getByRole('button', { name: 'Use the skeleton of a held-out 4' }).focus();
      await page.keyboard.press('Tab');
      expect(await five.evaluate((el) => el === document.activeElement)).toBe(true);
      await page.keyboard.press('Enter');
      expect(await five.getAttribute('aria-pressed')).toBe('true');
      expect(await attr(page, 'hint')).not.toBe(preset);
      await sampledForCurrentHint(page);

      // Clear: an empty hint is still a request the model answers.
      await page.locator(P).getByRole('button', { name: 'Clear' }).click();
      expect(await attr(page, 'hint')).toBe('A'.repeat(131));
      await sampledForCurrentHint(page);
      expect(await page.locator(`${P} .hint-col .small`).innerText()).toBe('skeleton: 0 pixels');

      // Drawing fast: several strokes, each asking for a grid; the stale runs are cancelled and the last one shows.
      for (let k = 0; k < 3; k++) await drawStroke(page, [0.3 + 0.2 * k, 0.15], [0.3 + 0.2 * k, 0.85]);
      expect(await attr(page, 'strokes')).toBe('3');
      await sampledForCurrentHint(page);
      const after = await memory(page);
      expect(after.backend).toBe('wasm');
      expect(after.numTensors).toBe(before.numTensors);
      await page.locator(P).screenshot({ path: screenshotPath('widget-controlnet-lab') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('keeps digit, scale, guidance, seed and the drawing in the URL, and a link brings back the same hint and grid', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(`${site.url}${GALLERY}?backend=wasm#controlnet-lab`);
      await ready(page, P);
      const widget = page.locator(P);
      await widget.getByRole('group', { name: 'Requested digit c' }).getByRole('button', { name: '8' }).click();
      await widget.locator('input[type="range"]').nth(0).fill('1.5');
      await widget.locator('input[type="range"]').nth(1).fill('2');
      await widget.getByLabel(/^Seed/).fill('77');
      await drawStroke(page, [0.2, 0.2], [0.8, 0.8]);
      await sampledForCurrentHint(page);
      expect(await attr(page, 'result-digit')).toBe('8');
      expect(await attr(page, 'result-scale')).toBe('1.5');
      expect(await attr(page, 'result-w')).toBe('2');
      expect(await attr(page, 'result-seed')).toBe('77');
      const url = new URL(page.url());
      expect(url.searchParams.get('controlnet.digit')).toBe('8');
      expect(url.searchParams.get('controlnet.scale')).toBe('1.5');
      expect(url.searchParams.get('controlnet.w')).toBe('2');
      expect(url.searchParams.get('controlnet.seed')).toBe('77');
      const hint = await attr(page, 'hint');
      const grid = await gridSources(page);

      const second = await context.newPage();
      second.on('pageerror', (err) => problems.pageErrors.push(String(err)));
      await second.goto(url.href);
      await ready(second, P);
      await sampledForCurrentHint(second);
      expect(await second.locator(P).getAttribute('data-hint')).toBe(hint);
      expect(await second.locator(P).locator('input[type="range"]').nth(0).inputValue()).toBe('1.5');
      expect(await second.locator(P).getByLabel(/^Seed/).inputValue()).toBe('77');
      expect(await second.locator(`${P} .grid img`).evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src')).join('|'))).toBe(grid);
      await second.close();
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('ignores a malformed drawing in the URL (the default preset instead), clamps the numbers, and at λ = 0 the copy adds nothing', async () => {
    const { context, page, problems } = await openPage(site, { colorScheme: 'dark' });
    try {
      // The default preset's hint, for comparison.
      await page.goto(`${site.url}${GALLERY}?backend=wasm#controlnet-lab`);
      await page.locator(P).scrollIntoViewIfNeeded();
      const preset = await attr(page, 'hint');
      await page.goto(`${site.url}${GALLERY}?backend=wasm&controlnet.ink=not-a-mask%21&controlnet.scale=0&controlnet.w=99&controlnet.digit=abc#controlnet-lab`);
      await ready(page, P);
      await sampledForCurrentHint(page);
      expect(await attr(page, 'hint')).toBe(preset);
      expect(new URL(page.url()).searchParams.get('controlnet.ink')).toBeNull();
      expect(await page.locator(P).locator('input[type="range"]').nth(1).inputValue()).toBe('10');
      expect(await attr(page, 'result-digit')).toBe('3');
      expect(await attr(page, 'result-scale')).toBe('0');
      expect(Number(await attr(page, 'max-skip'))).toBe(0);
      expect(Number(await attr(page, 'max-mid'))).toBe(0);
      expect(Number(await attr(page, 'max-hint'))).toBeGreaterThan(0);
      expect(await page.locator(`${P} .maps-note`).innerText()).toContain('At λ = 0 the copy adds nothing');
      await page.locator(P).screenshot({ path: screenshotPath('widget-controlnet-lab-dark') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('hydrates and fills in its grid without shifting the layout, with no serious axe violations, at 390 and 1280 px in both themes', async () => {
    for (const [colorScheme, width] of [['light', 390], ['dark', 1280]] as const) {
      const { context, page, problems } = await openPage(site, { colorScheme, width, height: 844 });
      try {
        const cls = await trackLayoutShift(page);
        await page.goto(`${site.url}${GALLERY}?backend=wasm`, { waitUntil: 'networkidle' });
        await page.locator(P).scrollIntoViewIfNeeded();
        const before = await cls();
        await ready(page, P);
        await sampledForCurrentHint(page);
        expect((await cls()) - before).toBeLessThan(0.01);
        expect(await seriousAxeViolations(page, P)).toEqual([]);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow).toBeLessThanOrEqual(0);
        // The pad keeps a square at about 224 px where there is room, and fits the widget where there is not.
        const pad = (await page.locator(`${P} .grid-lines`).boundingBox())!;
        expect(Math.abs(pad.width - pad.height)).toBeLessThan(1);
        if (width >= 1280) expect(pad.width).toBeGreaterThan(200);
        expect(await page.locator(`${P} .grid-lines`).evaluate((el) => getComputedStyle(el).touchAction)).toBe('none');
        // … and while a newer grid is on its way (what dims keeps its contrast).
        await page.locator(P).getByRole('button', { name: 'Use the skeleton of a held-out 0' }).click();
        expect(await seriousAxeViolations(page, P)).toEqual([]);
        await sampledForCurrentHint(page);
        await page.locator(P).screenshot({ path: screenshotPath(`widget-controlnet-lab-${width}`) });
        expect(problems.pageErrors).toEqual([]);
        expect(problems.consoleErrors).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });

  it('names the missing model file inside the widget, and the drawing still shows its hint', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await context.route('**/models/controlnet-mnist/model.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
      await page.goto(`${site.url}${GALLERY}?backend=wasm#controlnet-lab`);
      await page.locator(P).scrollIntoViewIfNeeded();
      await page.waitForSelector(`${P}[data-status="error"]`, { timeout: 120_000 });
      const error = await page.locator(`${P} .error`).innerText();
      expect(error).toContain('models/controlnet-mnist/model.json');
      expect(error).toContain('The rest of the page still works');
      const hint = await attr(page, 'hint');
      await drawStroke(page, [0.1, 0.5], [0.9, 0.5]);
      expect(await attr(page, 'hint')).not.toBe(hint);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
