import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { memory, openPage, ready, screenshotPath, seriousAxeViolations, trackLayoutShift } from './harness';
import { useSite } from './useSite';

const site = useSite();

const P = '[data-widget="prompt-lab"]';
const GALLERY = '/widgets/';
// The shipped model may be a short smoke run: these tests check the pipeline, never the quality of the digits.

const promptBox = (page: Page) => page.locator(P).getByLabel(/^Prompt/);
const negativeBox = (page: Page) => page.locator(P).getByLabel(/^Negative prompt/);
/** Wait until the grid shown was sampled for these values (and nothing newer is pending). */
async function sampledFor(page: Page, attrs: Record<string, string | number>, timeout = 120_000): Promise<void> {
  const sel = Object.entries(attrs).map(([k, v]) => `[data-result-${k}="${v}"]`).join('');
  await page.waitForSelector(`${P}${sel}[data-pending="false"]`, { timeout });
}
const gridSources = (page: Page) => page.locator(`${P} .samples .grid img`).evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src')).join('|'));
const attr = async (page: Page, name: string) => Number(await page.locator(P).getAttribute(`data-${name}`));

describe('the prompt lab', () => {
  it('samples a grid for the default prompt, flags unknown words, re-samples for a negative prompt and w, and keeps the worker’s tensors flat', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(`${site.url}${GALLERY}?backend=wasm#prompt-lab`);
      // Server-rendered: the default prompt's tokens are in the HTML before any script runs.
      const html = await (await page.request.get(`${site.url}${GALLERY}`)).text();
      expect(html).toMatch(/data-widget="prompt-lab"[\s\S]*?class="tok word[^"]*"[^>]*data-id="\d+"/);
      await ready(page, P);
      await sampledFor(page, { prompt: 'a bold seven', negative: '', w: 3 });
      expect(await page.locator(`${P} .samples .grid img`).count()).toBe(16);
      expect(await attr(page, 'count')).toBe(16);
      const predicted = ((await page.locator(P).getAttribute('data-predicted')) ?? '').split(',');
      expect(predicted).toHaveLength(16);
      predicted.forEach((d) => expect(d).toMatch(/^[0-9]$/));
      // Per-sample readouts: the first sample's, with its style words and CLIP score.
      const readouts = await page.locator(`${P} .sample-readouts`).innerText();
      expect(readouts).toMatch(/thickness\s+(thin|regular|bold)/);
      expect(readouts).toMatch(/CLIP score\s+−?\d\.\d{3}/);
      expect(await page.locator(`${P} .progress-text`).innerText()).toMatch(/25 network evaluations of a doubled batch/);
      const before = await memory(page);

      // An unknown word is flagged in the prompt's tokens, and reaches the attention chips as <unk>.
      await promptBox(page).fill('a purple seven');
      await expect.poll(() => page.locator(`${P} .prompts .caption-area`).first().locator('.unknown-note').textContent()).toContain("unknown: 'purple' → <unk>");
      expect(await page.locator(`${P} .prompts .caption-area`).first().locator('.tok.unk').count()).toBe(1);
      await sampledFor(page, { prompt: 'a purple seven' });
      expect(await page.locator(`${P} .tokens-pick .chip.unk`).innerText()).toContain('purple');
      expect(new URL(page.url()).searchParams.get('prompt.prompt')).toBe('a purple seven');

      // A negative prompt replaces the empty one: a new grid.
      const plain = await gridSources(page);
      await negativeBox(page).fill('a thin digit');
      await sampledFor(page, { prompt: 'a purple seven', negative: 'a thin digit' });
      expect(await gridSources(page)).not.toBe(plain);
      expect(new URL(page.url()).searchParams.get('prompt.negative')).toBe('a thin digit');

      // w: another grid; w = 0 is one pass a step.
      const guided = await gridSources(page);
      await page.locator(P).locator('input[type="range"]').fill('0');
      await sampledFor(page, { w: 0, negative: 'a thin digit' });
      expect(await gridSources(page)).not.toBe(guided);
      expect(await page.locator(`${P} .guidance-note`).innerText()).toContain('negative prompt is not used');
      expect(await page.locator(`${P} .progress-text`).innerText()).toMatch(/^25 network evaluations in/);
      expect(new URL(page.url()).searchParams.get('prompt.w')).toBe('0');

      // Typing fast: every keystroke asks for a grid, the stale runs are cancelled and the last one shows.
      await promptBox(page).fill('');
      await promptBox(page).pressSequentially('a wide zero', { delay: 20 });
      await sampledFor(page, { prompt: 'a wide zero' });
      const after = await memory(page);
      expect(after.backend).toBe('wasm');
      expect(after.numTensors).toBe(before.numTensors);
      await page.locator(P).screenshot({ path: screenshotPath('widget-prompt-lab') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows each sample’s cross-attention to a chosen token, whose weights sum to 1 over the real tokens, and the pipeline strip', async () => {
    const { context, page, problems } = await openPage(site, { width: 390, height: 844 });
    try {
      await page.goto(`${site.url}${GALLERY}?backend=wasm&prompt.count=9&prompt.steps=10#prompt-lab`);
      await ready(page, P);
      await sampledFor(page, { prompt: 'a bold seven' });
      const widget = page.locator(P);
      const chips = widget.locator('.tokens-pick .chip');
      expect(await chips.allInnerTexts()).toEqual(['a', 'bold', 'seven', '<eos>']);
      await chips.nth(2).click();
      expect(await chips.nth(2).getAttribute('aria-pressed')).toBe('true');
      expect(new URL(page.url()).searchParams.get('prompt.token')).toBe('2');
      const sums = async () => ({ token: await attr(page, 'attention-token'), min: await attr(page, 'attention-sum-min'), max: await attr(page, 'attention-sum-max'), pad: await attr(page, 'attention-pad-max') });
      for (const [step, layer] of [['mean of every step', 'mean of the 3 layers'], [1, 'middle (mid.xattn)'], [4, 'up (up0.xattn0)']] as const) {
        await widget.getByLabel(/^Step\b/).selectOption(typeof step === 'number' ? { index: step } : { label: step });
        await widget.getByLabel(/^Layer/).selectOption({ label: layer });
        const s = await sums();
        expect(s.token).toBe(2);
        expect(s.min).toBeCloseTo(1, 4);
        expect(s.max).toBeCloseTo(1, 4);
        expect(s.pad).toBeLessThan(1e-6);
        const overlays = widget.locator('.attention-grid img.overlay');
        expect(await overlays.count()).toBe(9);
        for (const m of await overlays.evaluateAll((imgs) => imgs.map((i) => Number(i.getAttribute('data-mean-weight'))))) {
          expect(m).toBeGreaterThan(0);
          expect(m).toBeLessThan(1);
        }
      }
      expect(await widget.getByLabel(/^Step\b/).locator('option').count()).toBe(6);
      // The pipeline strip: tokens, text states, z_T, five kept steps (4 channels and x̂_0 each), the image.
      const strip = widget.locator('.strip');
      expect(await strip.locator('.stage').count()).toBe(9);
      expect(await strip.locator('img').count()).toBe(1 + 4 + 5 * 5 + 1);
      expect(await strip.getAttribute('tabindex')).toBe('0');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await widget.screenshot({ path: screenshotPath('widget-prompt-lab-390') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('loads malformed URL state without an error: values clamped, cut or ignored', async () => {
    const { context, page, problems } = await openPage(site, { colorScheme: 'dark' });
    try {
      const long = 'seven '.repeat(40);
      const q = `backend=wasm&prompt.prompt=${encodeURIComponent(long)}%E0%A4%A&prompt.w=99&prompt.steps=abc&prompt.count=7&prompt.sampler=nonsense&prompt.seed=-5&prompt.token=1e9&prompt.step=-9&prompt.layer=NaN`;
      await page.goto(`${site.url}${GALLERY}?${q}#prompt-lab`);
      await ready(page, P);
      const widget = page.locator(P);
      const value = await promptBox(page).inputValue();
      expect(value.length).toBeLessThanOrEqual(120);
      expect(value.startsWith('seven seven')).toBe(true);
      expect(await widget.locator('input[type="range"]').inputValue()).toBe('10');
      expect(await widget.getByLabel(/^Steps/).inputValue()).toBe('25');
      expect(await widget.getByLabel(/^Samples/).inputValue()).toBe('9');
      expect(await widget.getByLabel(/^Sampler/).inputValue()).toBe('ddim');
      expect(await widget.getByLabel(/^Seed/).inputValue()).toBe('0');
      await sampledFor(page, { w: 10, seed: 0 });
      expect(await attr(page, 'count')).toBe(9);
      expect(await widget.locator('.prompts .caption-area').first().locator('.tok.cut').count()).toBeGreaterThan(0);
      // token 11 of a prompt with 11 words + <eos>: the <eos> chip.
      expect(await widget.locator('.tokens-pick .chip[aria-pressed="true"]').innerText()).toBe('<eos>');
      await widget.screenshot({ path: screenshotPath('widget-prompt-lab-dark') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('hydrates and fills in its grid without shifting the layout, with no serious axe violations, in both themes and widths', async () => {
    for (const [colorScheme, width] of [['light', 390], ['dark', 1280]] as const) {
      const { context, page, problems } = await openPage(site, { colorScheme, width, height: 844 });
      try {
        const cls = await trackLayoutShift(page);
        await page.goto(`${site.url}${GALLERY}?backend=wasm&prompt.steps=10`, { waitUntil: 'networkidle' });
        await page.locator(P).scrollIntoViewIfNeeded();
        const before = await cls();
        await ready(page, P);
        await sampledFor(page, { prompt: 'a bold seven' });
        expect(await cls() - before).toBeLessThan(0.01);
        expect(await seriousAxeViolations(page, P)).toEqual([]);
        // … and while a newer grid is on its way (what dims keeps its contrast).
        await promptBox(page).fill('a thin seven');
        expect(await seriousAxeViolations(page, P)).toEqual([]);
        await sampledFor(page, { prompt: 'a thin seven' });
        expect(problems.pageErrors).toEqual([]);
        expect(problems.consoleErrors).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });

  it('names the missing model file inside the widget, and the tokens still follow the prompt', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await context.route('**/models/text2img-mnist/model.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
      await page.goto(`${site.url}${GALLERY}?backend=wasm#prompt-lab`);
      await page.locator(P).scrollIntoViewIfNeeded();
      await page.waitForSelector(`${P}[data-status="error"]`, { timeout: 120_000 });
      const error = await page.locator(`${P} .error`).innerText();
      expect(error).toContain('models/text2img-mnist/model.json');
      expect(error).toContain('The rest of the page still works');
      await promptBox(page).fill('a purple seven');
      await expect.poll(() => page.locator(`${P} .prompts .caption-area`).first().locator('.unknown-note').textContent()).toContain("unknown: 'purple' → <unk>");
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
