import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ROOT, hydrateAll, openPage, sitePaths } from './harness';
import { useSite } from './useSite';
import { KERNEL_FRAME_PATH } from '../../src/lib/kernelFramePolicy';

const site = useSite();

/** A text box the reader sees: where it is, its rendered font size in CSS px, and its widget (if any). */
interface TextBox { text: string; where: string; widget: string | null; svg?: boolean; size: number; mayOverlap: boolean; rects: { x: number; y: number; w: number; h: number }[] }

/**
 * Every visible run of text on the page: HTML text nodes (one rect per line, from a Range) and SVG <text> elements
 * (their box, and a font size scaled by the SVG's screen transform, so a 11-unit tick in a shrunken viewBox counts
 * at the size it is drawn).
 */
function textBoxes(page: Page): Promise<TextBox[]> {
  return page.evaluate(() => {
    const out: TextBox[] = [];
    const hidden = (el: Element): boolean => {
      // (closed <details>, display: none, visibility and opacity, all the way up)
      if (!el.checkVisibility({ contentVisibilityAuto: true, opacityProperty: true, visibilityProperty: true })) return true;
      for (let e: Element | null = el; e; e = e.parentElement) {
        const cs = getComputedStyle(e);
        if (cs.display === 'none' || cs.visibility === 'hidden' || cs.opacity === '0') return true;
        if (e.getAttribute('aria-hidden') === 'true' && e.classList.contains('katex-mathml')) return true;
        if (e.classList.contains('katex-mathml') || e.classList.contains('visually-hidden') || e.classList.contains('sr-only')) return true;
        if (cs.position === 'absolute' && cs.clip !== 'auto' && cs.clip !== '') return true;
        if (e.tagName === 'TEMPLATE' || e.tagName === 'SCRIPT' || e.tagName === 'STYLE' || e.tagName === 'NOSCRIPT') return true;
      }
      return false;
    };
    const describe = (el: Element) => {
      const parts: string[] = [];
      for (let e: Element | null = el; e && parts.length < 4; e = e.parentElement) parts.unshift(e.tagName.toLowerCase() + (e.classList.length ? '.' + [...e.classList].filter((c) => !c.startsWith('svelte-')).join('.') : ''));
      return parts.join(' > ');
    };
    const widgetOf = (el: Element) => el.closest('[data-widget]')?.getAttribute('data-widget') ?? null;
    // Typeset maths places accents and scripts over and under their bases on purpose; plotted marks (a digit on a
    // point of a scatter plot) sit where the data puts them. Both are still checked for size.
    const designedOverlap = (el: Element) => !!el.closest('.katex, [data-mark]');
    // SVG text
    for (const t of document.querySelectorAll('svg text')) {
      const text = t.textContent?.trim() ?? '';
      if (!text || hidden(t)) continue;
      const r = t.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const ctm = (t as SVGGraphicsElement).getScreenCTM();
      const scale = ctm ? Math.hypot(ctm.a, ctm.b) : 1;
      out.push({ text, where: describe(t), widget: widgetOf(t), svg: true, mayOverlap: designedOverlap(t), size: parseFloat(getComputedStyle(t).fontSize) * scale, rects: [{ x: r.x, y: r.y, w: r.width, h: r.height }] });
    }
    // HTML text nodes
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent?.trim() ?? '';
      const el = n.parentElement;
      if (!text || !el || el.closest('svg') || hidden(el)) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      const rects = [...range.getClientRects()].filter((r) => r.width > 0.5 && r.height > 0.5).map((r) => ({ x: r.x, y: r.y, w: r.width, h: r.height }));
      if (!rects.length) continue;
      out.push({ text: text.slice(0, 40), where: describe(el), widget: widgetOf(el), mayOverlap: designedOverlap(el), size: parseFloat(getComputedStyle(el).fontSize), rects });
    }
    return out;
  });
}

/** Text drawn below 10 CSS px. */
function tooSmall(boxes: TextBox[]): string[] {
  return boxes.filter((b) => b.size < 9.95).map((b) => `${b.size.toFixed(1)} px "${b.text}" (${b.where})`);
}

/** Pairs of text boxes in one widget that overlap by more than a sliver (a third of the smaller box's height). */
function overlaps(boxes: TextBox[]): string[] {
  const found: string[] = [];
  const inWidgets = boxes.filter((b) => b.widget && !b.mayOverlap);
  for (let i = 0; i < inWidgets.length; i++) {
    for (let j = i + 1; j < inWidgets.length; j++) {
      const a = inWidgets[i], b = inWidgets[j];
      if (a.widget !== b.widget) continue;
      const hit = a.rects.some((p) => b.rects.some((q) => {
        const w = Math.min(p.x + p.w, q.x + q.w) - Math.max(p.x, q.x);
        const h = Math.min(p.y + p.h, q.y + q.h) - Math.max(p.y, q.y);
        return w > 1 && h > Math.min(p.h, q.h) / 3;
      }));
      if (hit) found.push(`${a.widget}: "${a.text}" (${a.where}) overlaps "${b.text}" (${b.where})`);
    }
  }
  return found;
}

describe('widget text on a 390 px phone, after hydration', () => {
  // The notebook kernel's frame (/kernel-frame/) is no page for readers: it runs only inside the notebook's iframe.
  for (const path of sitePaths().filter((p) => p !== KERNEL_FRAME_PATH)) {
    it(`${path}: no widget or figure text below 10 CSS px and no overlapping text in a widget`, async () => {
      const { context, page } = await openPage(site, { width: 390, height: 844 });
      try {
        await page.goto(`${site.url}${path}?backend=wasm`, { waitUntil: 'networkidle' });
        await hydrateAll(page);
        const boxes = await textBoxes(page);
        expect(boxes.length).toBeGreaterThan(0);
        // Widgets' text (charts, readouts, labels) and every drawn figure (SVG text, the lessons' own figures too);
        // typeset maths in the prose is reported below.
        const findings = { small: tooSmall(boxes.filter((b) => b.widget || b.svg)), overlapping: overlaps(boxes) };
        if (process.env.POLISH_REPORT) {
          mkdirSync(join(ROOT, 'test-results'), { recursive: true });
          const elsewhere = tooSmall(boxes.filter((b) => !b.widget && !b.svg));
          writeFileSync(join(ROOT, 'test-results', `phone-text${path.replace(/\W+/g, '_')}.json`), JSON.stringify({ ...findings, elsewhere }, null, 1));
        }
        expect(findings).toEqual({ small: [], overlapping: [] });
      } finally {
        await context.close();
      }
    }, 240_000);
  }
});

const GALLERY = '/widgets/';
const scrubber = '[data-widget="forward-scrubber"]';
const schedLab = '[data-widget="schedule-lab"]';
const inspector = '[data-widget="one-step-inspector"]';

describe('before any script runs (the server-rendered preview)', () => {
  it('shows noise, not clean digits, at t > 0, no network guess in the inspector, and chart axes', async () => {
    const context = await site.browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(`${site.url}${GALLERY}`);
      const srcs = (sel: string) => page.locator(sel).evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).src));
      // The scrubber's strip: t = 0 … 1000, each its own picture (the clean digit only at t = 0).
      const strip = await srcs(`${scrubber} .strip img`);
      expect(strip.length).toBe(8);
      expect(new Set(strip).size).toBe(strip.length);
      // The schedule lab's strips likewise, per schedule.
      const linear = await srcs(`${schedLab} .panel.linear .strip img`);
      expect(linear.length).toBeGreaterThan(2);
      expect(new Set(linear).size).toBe(linear.length);
      // The inspector shows no panel before the step is computed: all six blank alike, none the clean digit.
      const panels = await srcs(`${inspector} .panels img`);
      expect(panels).toHaveLength(6);
      expect(new Set(panels).size).toBe(1);
      expect(await page.locator(`${inspector} .panels img`).nth(3).getAttribute('alt')).toMatch(/not computed yet/);
      // The schedule plot has its tick labels in the HTML.
      const ticks = await page.locator(`${schedLab} svg.plot g.axis text`).allTextContents();
      expect(ticks).toEqual(expect.arrayContaining(['0', '1000', '0.4', '1']));
    } finally {
      await context.close();
    }
  });
});

describe('charts and labels', () => {
  it('draws β_t on a labelled log axis that reaches the cosine schedule\'s 0.999', async () => {
    const { context, page } = await openPage(site);
    try {
      await page.goto(`${site.url}${GALLERY}?backend=wasm&sched.show=beta`);
      await page.locator(schedLab).scrollIntoViewIfNeeded();
      // (the server renders the default ᾱ_t; the island reads sched.show from the URL once hydrated)
      await expect.poll(() => page.locator(`${schedLab} button[aria-pressed="true"]`).first().textContent(), { timeout: 60_000 }).toBe('β_t');
      await expect.poll(() => page.locator(`${schedLab} svg.plot g.axis text`).allTextContents(), { timeout: 10_000 }).toContain('0.01');
      const ticks = await page.locator(`${schedLab} svg.plot g.axis text`).allTextContents();
      expect(ticks).toEqual(expect.arrayContaining(['0.001', '0.01', '0.1', '1']));
      expect(await page.locator(`${schedLab} svg.plot`).textContent()).toContain('log scale');
      // The cosine curve's last point (β_T = 0.999) is drawn at the height of 0.999, not clipped at the old 0.05.
      const top = await page.locator(`${schedLab} svg.plot path.curve.cosine`).evaluate((p) => {
        const path = p as SVGPathElement;
        return path.getPointAtLength(path.getTotalLength()).y;
      });
      const yOf = async (label: string) => Number(await page.locator(`${schedLab} svg.plot g.axis text`, { hasText: new RegExp(`^${label.replace('.', '\\.')}$`) }).first().getAttribute('y'));
      expect(Math.abs(top - (await yOf('1')))).toBeLessThan(3);
    } finally {
      await context.close();
    }
  });

  it('labels the inspector\'s panels with real subscripts, and the theme toggle with its state', async () => {
    const { context, page } = await openPage(site);
    try {
      await page.goto(`${site.url}${GALLERY}?backend=wasm`);
      const titles = await page.locator(`${inspector} .panels .title`).evaluateAll((ts) => ts.map((t) => t.innerHTML.replace(/<!--.*?-->/g, '')));
      expect(titles).toEqual(['x<sub>t</sub>', 'ε', 'ε̂', 'x̂<sub>0</sub>', 'μ̃<sub>t</sub>', 'x<sub>t−1</sub>']);
      // The three equations are typeset one by one, so a narrow screen can wrap them.
      expect(await page.locator(`${inspector} .formula .equation`).count()).toBe(3);

      const toggle = page.locator('#theme-toggle');
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
      expect(await toggle.getAttribute('aria-pressed')).toBe('false');
      expect((await toggle.innerText()).trim()).toBe('☀ Dark theme: off');
      expect(await toggle.getAttribute('title')).toBe('Switch to the dark theme');
      await toggle.click();
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
      expect(await toggle.getAttribute('aria-pressed')).toBe('true');
      expect((await toggle.innerText()).trim()).toBe('☾ Dark theme: on');
      expect(await toggle.getAttribute('title')).toBe('Switch to the light theme');
    } finally {
      await context.close();
    }
  });

  it('formats notebook plot ticks with the site\'s formatter (0.8, not 800m)', async () => {
    const { context, page } = await openPage(site);
    try {
      await page.goto(`${site.url}/notebook/?backend=wasm`);
      const cell = '[data-cell="scratch"]';
      await page.locator(cell).scrollIntoViewIfNeeded();
      await page.locator(`${cell}[data-hydrated="true"]`).waitFor({ timeout: 60_000 });
      // Values below 1 only: d3's SI format gave every tick the prefix m ("200m" … "800m").
      await page.locator(`${cell} .static`).click();
      const content = page.locator(`${cell} .cm-content`);
      await content.waitFor({ timeout: 60_000 });
      await content.click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.insertText('show([0.12, 0.3, 0.55, 0.83])');
      await page.locator(`${cell} button.run`).click();
      await page.locator(`${cell} [data-testid="done"]`).waitFor({ timeout: 120_000 });
      const ticks = await page.locator(`${cell} .nb-plot .axis text`).allTextContents();
      expect(ticks).toEqual(expect.arrayContaining(['0.2', '0.4', '0.6', '0.8']));
      expect(ticks.filter((t) => /\d[munkM]$/.test(t))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('honest readouts', () => {
  const lab = '[data-widget="guidance-lab"]';
  const readouts = async (page: Page, query: string) => {
    await page.goto(`${site.url}${GALLERY}?backend=wasm&${query}`);
    await page.locator(lab).scrollIntoViewIfNeeded();
    await page.waitForSelector(`${lab}[data-status="ready"][data-pending="false"] .honest`, { timeout: 180_000 });
    return {
      like: Number(await page.locator(`${lab} [data-digit-like]`).getAttribute('data-digit-like')),
      odd: Number(await page.locator(`${lab} .honest`).getAttribute('data-odd')),
      accuracy: Number(await page.locator(lab).getAttribute('data-accuracy')),
      text: await page.locator(`${lab} .honest`).innerText(),
      dashed: await page.locator(`${lab} .cell.odd`).count(),
    };
  };

  it('the guidance lab flags shapes the classifier names confidently but no held-out digit has', async () => {
    const { context, page } = await openPage(site);
    try {
      // Moderate guidance: every sample is shaped like a real digit.
      const fine = await readouts(page, 'guide.w=3&guide.digit=3');
      expect(fine.like).toBe(16);
      expect(fine.odd).toBe(0);
      expect(fine.text).toMatch(/confidence is its own/);
      // Strong guidance away from a negative digit: the classifier still calls most of them 3s, but most are broken.
      const broken = await readouts(page, 'guide.w=10&guide.negative=5&guide.digit=3');
      expect(broken.accuracy).toBeGreaterThan(0.5);
      expect(broken.like).toBeLessThan(8);
      expect(broken.odd).toBeGreaterThan(4);
      expect(broken.dashed).toBe(16 - broken.like);
      expect(broken.text).toContain(`${broken.odd} of the`);
      expect(broken.text).toMatch(/have a shape no real digit has/);
    } finally {
      await context.close();
    }
  });

  it('the training lab keeps counting its time across a restore and shows its measured pace', async () => {
    const LAB = '[data-widget="training-lab"]';
    const secs = async () => {
      const [m, s] = (await page.locator(`${LAB} .stats div`, { hasText: 'elapsed' }).locator('dd').innerText()).split(':').map(Number);
      return m * 60 + s;
    };
    const step = async () => Number(await page.locator(LAB).getAttribute('data-step'));
    const { context, page } = await openPage(site);
    try {
      await page.goto(`${site.url}${GALLERY}?backend=wasm&lab.batch=8#training-lab`);
      await page.locator(LAB).scrollIntoViewIfNeeded();
      await page.waitForSelector(`${LAB}[data-status="ready"]`, { timeout: 120_000 });
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect.poll(secs, { timeout: 120_000, interval: 250 }).toBeGreaterThanOrEqual(2);
      // The pace line: measured steps a second (examples a second over the batch of 8).
      const pace = Number(await page.locator(`${LAB} .pace[data-steps-per-second]`).getAttribute('data-steps-per-second'));
      expect(pace).toBeGreaterThan(0);
      expect(await page.locator(`${LAB} .pace[data-steps-per-second]`).innerText()).toMatch(/steps a second on this device: 1,000 more steps take about \d+:\d\d/);
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.waitForSelector(`${LAB}[data-phase="paused"]`);
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await expect.poll(() => page.locator(`${LAB} .notice`).textContent()).toMatch(/Saved the model at step/);
      const before = await secs();
      await page.getByRole('button', { name: /^Restore/ }).click();
      await expect.poll(() => page.locator(`${LAB} .notice`).textContent(), { timeout: 60_000 }).toMatch(/^Restored/);
      await page.waitForSelector(`${LAB}[data-phase="paused"]`);
      const restoredAt = await step();
      await page.getByRole('button', { name: 'Resume' }).click();
      await expect.poll(step, { timeout: 120_000, interval: 200 }).toBeGreaterThanOrEqual(restoredAt + 10);
      // The restored session's own clock starts at 0; the lab's time goes on from where it was.
      expect(await secs()).toBeGreaterThanOrEqual(before);
      await page.getByRole('button', { name: 'Pause' }).click();
    } finally {
      await context.close();
    }
  });
});

describe('lesson tables and display maths on a phone', () => {
  it('scroll sideways with a visible shadow cue at the edge that has more', async () => {
    const { context, page } = await openPage(site, { width: 390, height: 844 });
    try {
      await page.goto(`${site.url}/lessons/07-sampling-ddpm-ddim/?backend=wasm`);
      // The table of the DDIM paper's FIDs is wider than the phone: it scrolls, and its background carries the
      // shadows (radial gradients fixed to the box) and their covers (linear gradients that scroll with it).
      const table = page.locator('.prose table').first();
      const box = await table.evaluate((t) => ({ scroll: t.scrollWidth, client: t.clientWidth, bg: getComputedStyle(t).backgroundImage, attach: getComputedStyle(t).backgroundAttachment }));
      expect(box.scroll).toBeGreaterThan(box.client);
      expect(box.bg).toContain('radial-gradient');
      expect(box.attach.split(',').map((s) => s.trim())).toEqual(['local', 'local', 'scroll', 'scroll']);
      const maths = await page.locator('.prose .katex-display').first().evaluate((m) => getComputedStyle(m).backgroundImage);
      expect(maths).toContain('radial-gradient');
      // A table inside a widget keeps its own look.
      await page.goto(`${site.url}/lessons/09b-flow-matching/?backend=wasm`);
      const inWidget = page.locator('[data-widget] table').first();
      if (await inWidget.count()) expect(await inWidget.evaluate((t) => getComputedStyle(t).backgroundImage)).toBe('none');
    } finally {
      await context.close();
    }
  });
});
