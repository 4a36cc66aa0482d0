import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { memory, openPage, ready, screenshotPath, seriousAxeViolations, trackLayoutShift } from './harness';
import { useSite } from './useSite';

const site = useSite();

const P = '[data-widget="flow-playground"]';
const GALLERY = '/widgets/';
// These tests check the pipeline (training, paths, measures, reflow), never how good the samples are.

const attr = async (page: Page, name: string) => page.locator(P).getAttribute(`data-${name}`);
/** Wait until the widget is idle at `step` with samples, field and sweep drawn for it and nothing pending. */
async function settled(page: Page, step: number, timeout = 240_000): Promise<void> {
  await page.waitForSelector(`${P}[data-phase="idle"][data-step="${step}"][data-sampled-step="${step}"][data-sweep-step="${step}"][data-pending="false"]`, { timeout });
}
const sweepColumn = (page: Page, col: number) =>
  page.locator(`${P} table.sweep tbody tr`).evaluateAll((rows, c) => rows.map((r) => Number((r.children[c] as HTMLElement).innerText.replace('−', '-'))), col);

describe('the flow playground', () => {
  it('shows the target before any script runs, trains both models, draws particles, paths, arrows and measures, reflows, and keeps the worker’s tensors flat', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      const html = await (await page.request.get(`${site.url}${GALLERY}`)).text();
      // Server-rendered: both panels already hold the default preset's points.
      expect(html).toMatch(/data-widget="flow-playground"[\s\S]*?<path d="M[-\d.]+ [-\d.]+h0M[^"]*" class="target/);
      await page.goto(`${site.url}${GALLERY}?backend=wasm#flow-playground`);
      await ready(page, P);
      const widget = page.locator(P);
      await widget.getByRole('button', { name: 'Train', exact: true }).click();
      await expect.poll(() => attr(page, 'phase')).toBe('training');
      await settled(page, 1000);
      expect(Number(await attr(page, 'particles'))).toBe(300);
      for (const side of ['diffusion', 'flow']) {
        const d = await widget.locator(`[data-side="${side}"] path.particles`).getAttribute('d');
        expect((d ?? '').match(/h0/g)?.length).toBe(300);
        expect(await widget.locator(`[data-side="${side}"] path.trails`).getAttribute('d')).toMatch(/^M[-\d.]+ [-\d.]+L/);
        expect(await widget.locator(`[data-side="${side}"] path.arrows`).getAttribute('d')).toMatch(/^M/);
        expect(Number(await attr(page, `energy-${side}`))).toBeGreaterThan(0);
      }
      const measures = await widget.locator('table.measures').innerText();
      expect(measures).toMatch(/Extra length over straight\s+\d+\.\d %\s+\d+\.\d %/);
      const flowBefore = await sweepColumn(page, 2);
      expect(flowBefore).toHaveLength(7);
      for (const v of flowBefore) expect(v).toBeGreaterThan(0);
      expect(await widget.locator('.losses path.loss.flow').getAttribute('d')).toMatch(/^M/);
      expect(await seriousAxeViolations(page, P)).toEqual([]);

      // N and the sampler are URL state; a new N redraws the same models from the same noise.
      const before = await memory(page);
      await widget.locator('input[type="range"]').first().fill('5');
      await page.waitForSelector(`${P}[data-sampled-steps="5"][data-pending="false"]`, { timeout: 60_000 });
      expect(new URL(page.url()).searchParams.get('flow.steps')).toBe('5');
      await widget.getByLabel(/^Flow sampler/).selectOption('heun');
      await page.waitForSelector(`${P}[data-pending="false"]`);
      expect(new URL(page.url()).searchParams.get('flow.sampler')).toBe('heun');
      expect(await widget.locator('[data-side="flow"] .panel-note').innerText()).toContain('9 network evaluations (Heun)');
      const after = await memory(page);
      expect(after.backend).toBe('wasm');
      expect(after.numTensors).toBe(before.numTensors);

      // Reflow: pairs from the trained flow, 1000 more steps on them.
      await widget.getByRole('button', { name: 'Reflow' }).click();
      await settled(page, 2000);
      expect(await attr(page, 'reflows')).toBe('1');
      expect(await widget.locator('.progress-text').innerText()).toContain('1 reflow');
      const flowAfter = await sweepColumn(page, 2);
      // N = 1 is the last row: one step of the reflowed flow lands nearer the target than one step did before
      expect(flowAfter[6]).toBeLessThan(flowBefore[6]);
      await widget.screenshot({ path: screenshotPath('widget-flow-playground') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('trains on the reader’s own points', async () => {
    const { context, page, problems } = await openPage(site, { reducedMotion: 'reduce' });
    try {
      await page.goto(`${site.url}${GALLERY}?backend=wasm&flow.preset=custom&flow.steps=10#flow-playground`);
      await ready(page, P);
      const widget = page.locator(P);
      const train = widget.getByRole('button', { name: 'Train', exact: true });
      expect(await train.isDisabled()).toBe(true);
      const pad = widget.locator('svg.pad');
      const box = (await pad.boundingBox())!;
      for (const [fx, fy] of [[0.3, 0.3], [0.7, 0.3], [0.5, 0.7]]) await page.mouse.click(box.x + fx * box.width, box.y + fy * box.height);
      // the keyboard adds one more at the cross
      await pad.focus();
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('Enter');
      expect((await widget.locator('svg.pad path.drawn').getAttribute('d'))?.match(/h0/g)?.length).toBe(4);
      await train.click();
      await settled(page, 1000);
      expect(Number(await attr(page, 'energy-flow'))).toBeGreaterThan(0);
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('hydrates without shifting the layout, stacks its panels at 390 px, and has no serious axe violations in either theme', async () => {
    for (const [colorScheme, width] of [['dark', 390], ['light', 1280]] as const) {
      const { context, page, problems } = await openPage(site, { colorScheme, width, height: 844 });
      try {
        const cls = await trackLayoutShift(page);
        await page.goto(`${site.url}${GALLERY}?backend=wasm&flow.preset=gaussians`, { waitUntil: 'networkidle' });
        await page.locator(P).scrollIntoViewIfNeeded();
        const before = await cls();
        await ready(page, P);
        expect(await cls() - before).toBeLessThan(0.01);
        expect(await seriousAxeViolations(page, P)).toEqual([]);
        const [a, b] = await page.locator(`${P} .panel svg`).evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON()));
        if (width === 390) expect(b.top).toBeGreaterThanOrEqual(a.bottom);
        else expect(b.top).toBe(a.top);
        expect(a.width).toBeGreaterThan(width === 390 ? 250 : 300);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow).toBeLessThanOrEqual(0);
        await page.locator(P).screenshot({ path: screenshotPath(`widget-flow-playground-${width}-${colorScheme}`) });
        expect(problems.pageErrors).toEqual([]);
        expect(problems.consoleErrors).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });
});
