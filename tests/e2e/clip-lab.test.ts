import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DIST, memory, openPage, ready, screenshotPath, seriousAxeViolations, sitePaths, trackLayoutShift } from './harness';
import { useSite } from './useSite';

const site = useSite();

const CLIP = '[data-widget="clip-lab"]';
/** The lesson page that embeds the CLIP lab (found in the build, so a renamed lesson does not break the test). */
const lesson = (): string => {
  const path = sitePaths().find((p) => p.startsWith('/lessons/') && readFileSync(join(DIST, p, 'index.html'), 'utf8').includes('data-widget="clip-lab"'));
  if (!path) throw new Error('no lesson page of the build embeds the CLIP lab');
  return path;
};

const caption = (page: Page) => page.locator(`${CLIP} .caption-label input`);
/** Type a caption and wait until the ranking shown is the ranking of that caption. */
async function setCaption(page: Page, text: string): Promise<void> {
  await caption(page).fill(text);
  await page.waitForSelector(`${CLIP}[data-ranked-for="${text}"]`, { timeout: 60_000 });
}
const topLabels = async (page: Page) => ((await page.locator(CLIP).getAttribute('data-top-labels')) ?? '').split(',').filter(Boolean).map(Number);
/** The probabilities of the caption list once every row has one. */
async function probabilities(page: Page, rows: number): Promise<number[]> {
  const read = () => page.locator(`${CLIP} .bars li`).evaluateAll((lis) => lis.map((li) => li.getAttribute('data-probability') ?? ''));
  await expect.poll(async () => (await read()).filter((p) => p !== '').length, { timeout: 60_000 }).toBe(rows);
  return (await read()).map(Number);
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('the CLIP lab', () => {
  it('reads a caption into tokens, flags unknown words, ranks held-out digits as you type and keeps the worker’s tensors flat', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(`${site.url}${lesson()}?backend=wasm`);
      // Server-rendered: the default caption's tokens are in the HTML before any script runs.
      const html = await (await page.request.get(`${site.url}${lesson()}`)).text();
      expect(html).toMatch(/data-widget="clip-lab"[\s\S]*?class="tok word[^"]*"[^>]*data-id="\d+"/);
      await ready(page, CLIP);
      await page.waitForSelector(`${CLIP}[data-ranked-for="a bold slanted right seven"]`, { timeout: 120_000 });

      await setCaption(page, 'the digit 1');
      const chips = page.locator(`${CLIP} .tokens .tok`);
      expect(await chips.count()).toBe(12);
      expect(await chips.evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')))).toEqual(['word', 'word', 'word', 'eos', ...new Array(8).fill('pad')]);
      expect(await chips.nth(2).innerText()).toMatch(/^1\s+14$/);
      expect(await chips.nth(3).innerText()).toContain('<eos>');
      const labels = await topLabels(page);
      expect(labels.length).toBe(24);
      expect(labels.slice(0, 8).filter((l) => l === 1).length).toBeGreaterThanOrEqual(6);
      // The labels are in the DOM on each ranked digit too, with the score it was ranked by (best first).
      const cells = await page.locator(`${CLIP} .grid button.cell`).evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-label')), Number(e.getAttribute('data-score'))]));
      expect(cells.map(([l]) => l)).toEqual(labels);
      for (let k = 1; k < cells.length; k++) expect(cells[k][1]).toBeLessThanOrEqual(cells[k - 1][1]);
      expect(new URL(page.url()).searchParams.get('clip.caption')).toBe('the digit 1');

      await caption(page).fill('a purple seven');
      await expect.poll(() => page.locator(`${CLIP} .unknown-note`).textContent()).toContain("unknown: 'purple' → <unk>");
      expect(await page.locator(`${CLIP} .tok.unk`).count()).toBe(1);

      // Typing fast: every keystroke asks for a ranking, the stale ones are cancelled and the last one shows.
      const before = await memory(page);
      await caption(page).fill('');
      await caption(page).pressSequentially('a thin wide zero', { delay: 15 });
      await page.waitForSelector(`${CLIP}[data-ranked-for="a thin wide zero"][data-pending="false"]`, { timeout: 60_000 });
      expect(new URL(page.url()).searchParams.get('clip.caption')).toBe('a thin wide zero');
      const after = await memory(page);
      expect(after.backend).toBe('wasm');
      expect(after.numTensors).toBe(before.numTensors);

      // Completions offered as you type: "bo" offers "bold", which completes the word.
      await caption(page).fill('a bo');
      await page.locator(CLIP).getByRole('button', { name: 'bold', exact: true }).first().click();
      expect(await caption(page).inputValue()).toBe('a bold ');

      // The map: 500 held-out digits, the ten prompts, the caption and the digit being described.
      await expect.poll(() => page.locator(`${CLIP} .emap circle.dot`).count(), { timeout: 60_000 }).toBe(500);
      expect(await page.locator(`${CLIP} .emap .prompt`).count()).toBe(10);
      expect(await page.locator(`${CLIP} .emap .caption-marker`).count()).toBe(1);
      expect(await page.locator(`${CLIP} .emap .image-marker`).count()).toBe(1);
      await page.locator(CLIP).screenshot({ path: screenshotPath('widget-clip-lab') });
      // The other plane: fitted on digits and prompts together, the caption moves.
      const star = () => page.locator(`${CLIP} .caption-marker path`).getAttribute('d');
      const starBefore = await star();
      await page.locator(CLIP).getByRole('button', { name: 'digits and captions' }).click();
      expect(new URL(page.url()).searchParams.get('clip.axes')).toBe('joint');
      await expect.poll(() => page.locator(`${CLIP} .map-note`).innerText()).toContain('weighing as much as the digits');
      expect(await star()).not.toBe(starBefore);
      await page.locator(`${CLIP} .map-panel`).screenshot({ path: screenshotPath('widget-clip-lab-joint-map') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('classifies a held-out, picked or drawn digit zero-shot: probabilities over the captions sum to 1', async () => {
    const { context, page, problems } = await openPage(site, { width: 390, height: 844 });
    try {
      await page.goto(`${site.url}${lesson()}?backend=wasm&clip.digit=3`);
      await ready(page, CLIP);
      const widget = page.locator(CLIP);
      let p = await probabilities(page, 10);
      expect(sum(p)).toBeCloseTo(1, 3);
      expect(await widget.locator('.style').innerText()).toMatch(/thin|regular|bold/);

      await widget.getByRole('button', { name: 'thickness', exact: true }).click();
      p = await probabilities(page, 3);
      expect(sum(p)).toBeCloseTo(1, 3);
      expect(await widget.locator('.bars li').first().getAttribute('data-caption')).toBe('a thin digit');
      expect(new URL(page.url()).searchParams.get('clip.prompts')).toBe('thickness');

      // Your own list: one caption a line, an unknown word flagged in its row.
      await widget.locator('textarea').fill('the digit 3\na purple three\nthe digit 8');
      p = await probabilities(page, 3);
      expect(sum(p)).toBeCloseTo(1, 3);
      await expect.poll(() => widget.locator('.bars li').nth(1).innerText()).toContain("'purple' → <unk>");

      // Pick a ranked digit: it becomes the digit described.
      await widget.getByRole('button', { name: 'digits 0–9' }).click();
      await widget.locator('.grid button.cell').first().click();
      await expect.poll(() => widget.locator('.style').innerText()).toMatch(/held-out digit #\d+/);
      p = await probabilities(page, 10);
      expect(sum(p)).toBeCloseTo(1, 3);

      // Draw a "1": a vertical stroke on the pad.
      await widget.getByRole('button', { name: 'Draw' }).click();
      const pad = widget.locator('canvas');
      await pad.scrollIntoViewIfNeeded();
      const box = (await pad.boundingBox())!;
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
      await page.mouse.down();
      for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width * (0.5 - i * 0.005), box.y + box.height * (0.2 + i * 0.06));
      await page.mouse.up();
      await expect.poll(() => widget.locator('.style').innerText(), { timeout: 60_000 }).toMatch(/your drawing[\s\S]*px/);
      await page.waitForSelector(`${CLIP}[data-pending="false"]`, { timeout: 60_000 });
      p = await probabilities(page, 10);
      expect(sum(p)).toBeCloseTo(1, 3);

      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await widget.screenshot({ path: screenshotPath('widget-clip-lab-390') });
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
      const q = `backend=wasm&clip.caption=${encodeURIComponent(long)}%E0%A4%A&clip.top=abc&clip.digit=99&clip.prompts=nonsense&clip.custom=%3Cscript%3E&clip.top=-1e9`;
      await page.goto(`${site.url}${lesson()}?${q}`);
      await ready(page, CLIP);
      const value = await caption(page).inputValue();
      expect(value.length).toBeLessThanOrEqual(120);
      expect(value.startsWith('seven seven')).toBe(true);
      await page.waitForSelector(`${CLIP}[data-ranked-for]:not([data-ranked-for=""])`, { timeout: 60_000 });
      expect(await page.locator(`${CLIP} .grid li`).count()).toBe(24);
      expect(await page.locator(`${CLIP} .tok.cut`).count()).toBeGreaterThan(0);
      expect(await page.locator(`${CLIP} .digits button[aria-pressed="true"]`).innerText()).toBe('9');
      // The digit shown is the URL's 9, not the default 7 the server rendered.
      const served = await (await page.request.get(`${site.url}${lesson()}`)).text();
      const seven = served.match(/<img src="([^"]+)" alt="The digit being described: the held-out 7"/)?.[1];
      expect(seven).toMatch(/^data:image\/png/);
      const shown = page.locator(`${CLIP} .subject-image img`);
      expect(await shown.getAttribute('alt')).toBe('The digit being described: the held-out 9');
      expect(await shown.getAttribute('src')).not.toBe(seven);
      expect(await probabilities(page, 10)).toHaveLength(10);
      await page.locator(CLIP).screenshot({ path: screenshotPath('widget-clip-lab-dark') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('hydrates and fills in its results without shifting the layout, with no serious axe violations, in both themes and widths', async () => {
    for (const [colorScheme, width] of [['light', 390], ['dark', 1280]] as const) {
      const { context, page, problems } = await openPage(site, { colorScheme, width, height: 844 });
      try {
        const cls = await trackLayoutShift(page);
        await page.goto(`${site.url}${lesson()}?backend=wasm`, { waitUntil: 'networkidle' });
        await page.locator(CLIP).scrollIntoViewIfNeeded();
        const before = await cls();
        await ready(page, CLIP);
        await page.waitForSelector(`${CLIP}[data-pending="false"][data-classified="10"]`, { timeout: 60_000 });
        await expect.poll(() => page.locator(`${CLIP} .emap circle.dot`).count()).toBe(500);
        expect(await cls() - before).toBeLessThan(0.01);
        expect(await seriousAxeViolations(page, CLIP)).toEqual([]);
        // … and while newer results are on their way (what dims keeps its contrast).
        await caption(page).fill('a thin seven');
        expect(await seriousAxeViolations(page, CLIP)).toEqual([]);
        expect(problems.pageErrors).toEqual([]);
        expect(problems.consoleErrors).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });

  it('names the missing model file inside the widget, and the rest of the page still works', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await context.route('**/models/clip-mnist/model.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
      await page.goto(`${site.url}${lesson()}?backend=wasm`);
      await page.locator(CLIP).scrollIntoViewIfNeeded();
      await page.waitForSelector(`${CLIP}[data-status="error"]`, { timeout: 120_000 });
      const error = await page.locator(`${CLIP} .error`).innerText();
      expect(error).toContain('models/clip-mnist/model.json');
      expect(error).toContain('The rest of the page still works');
      // The tokens still follow the caption: they need no model.
      await caption(page).fill('a purple seven');
      await expect.poll(() => page.locator(`${CLIP} .unknown-note`).textContent()).toContain("unknown: 'purple' → <unk>");
      expect(await page.locator('h1').count()).toBe(1);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
