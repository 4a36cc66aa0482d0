import { describe, expect, it } from 'vitest';
import { brokenWidgets, hydrateAll, openPage, screenshotPath, seriousAxeViolations, sitePaths, trackLayoutShift } from './harness';
import { useSite } from './useSite';
import { KERNEL_FRAME_PATH } from '../../src/lib/kernelFramePolicy';

const site = useSite();

// The notebook kernel's frame (/kernel-frame/) is no page for readers: it runs only inside the notebook's iframe.
const paths = sitePaths().filter((p) => p !== KERNEL_FRAME_PATH);

describe('every page of the site', () => {
  it('includes the home page and at least one lesson', () => {
    expect(paths[0]).toBe('/');
    expect(paths.filter((p) => p.startsWith('/lessons/')).length).toBeGreaterThan(0);
  });

  for (const path of paths) {
    for (const theme of ['light', 'dark'] as const) {
      it(`renders ${path} in the ${theme} theme with no errors, no foreign requests and no serious axe violations`, async () => {
        for (const width of [360, 1280]) {
          const { context, page, problems } = await openPage(site, { colorScheme: theme, width, height: 800 });
          try {
            // wasm: headless Chromium's WebGL is SwiftShader, far too slow for the model widgets; the backend
            // ladder itself is tested in widgets.test.ts.
            await page.goto(`${site.url}${path}?backend=wasm`, { waitUntil: 'networkidle' });
            await hydrateAll(page);
            expect(await brokenWidgets(page)).toEqual([]);
            expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(theme);
            // The page itself never scrolls sideways, even on a 360 px phone.
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
            expect(overflow, `horizontal overflow at ${width}px`).toBeLessThanOrEqual(0);
            if (width === 1280) expect(await seriousAxeViolations(page)).toEqual([]);
            await page.screenshot({ path: screenshotPath(`${path}-${theme}-${width}`), fullPage: true });
            expect(problems).toEqual({ consoleErrors: [], pageErrors: [], failedRequests: [], foreignRequests: [] });
          } finally {
            await context.close();
          }
        }
      });
    }
  }
});

describe('lesson pages', () => {
  // A lesson with display maths as well as inline maths.
  const lesson = paths.find((p) => p.includes('forward-process'))!;

  it('typeset maths at build time and ship no maths JavaScript', async () => {
    const { context, page } = await openPage(site);
    try {
      const response = await page.goto(site.url + lesson);
      const html = (await response!.text()) ?? '';
      expect(html).toContain('class="katex"');
      expect(html).toContain('class="katex-display"');
      expect(await page.locator('.katex-display').count()).toBeGreaterThan(0);
      const scripts = await page.evaluate(() => [...document.scripts].map((s) => s.src).filter(Boolean));
      expect(scripts.some((s) => /katex|mathjax/i.test(s))).toBe(false);
      // KaTeX fonts come from this site: the main maths font has loaded.
      await page.evaluate(() => document.fonts.ready);
      expect(await page.evaluate(() => document.fonts.check('16px KaTeX_Main'))).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('link to the previous and next lessons in curriculum order', async () => {
    const lessons = paths.filter((p) => p.startsWith('/lessons/'));
    const { context, page } = await openPage(site);
    try {
      for (let i = 0; i < lessons.length; i++) {
        await page.goto(site.url + lessons[i]);
        const hrefs = (rel: string) =>
          page.locator(`a[rel="${rel}"]`).evaluateAll((links) => links.map((a) => a.getAttribute('href')));
        expect(await hrefs('next')).toEqual(i + 1 < lessons.length ? [lessons[i + 1]] : []);
        expect(await hrefs('prev')).toEqual(i > 0 ? [lessons[i - 1]] : []);
      }
    } finally {
      await context.close();
    }
  });
});

describe('course furniture', () => {
  it('links every reference to arXiv or its DOI in a new tab, and fetches nothing from those sites', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + '/references/', { waitUntil: 'networkidle' });
      const entries = await page.locator('ol.refs > li').count();
      const links = await page.locator('ol.refs > li a[target="_blank"]').evaluateAll((as) =>
        as.map((a) => ({ href: a.getAttribute('href') ?? '', rel: a.getAttribute('rel') ?? '' })),
      );
      expect(entries).toBeGreaterThan(40);
      // one outside link per entry, to arxiv.org/abs/<id> or doi.org/<doi>, without the opener
      expect(links.length).toBe(entries);
      for (const l of links) {
        expect(l.href).toMatch(/^https:\/\/(arxiv\.org\/abs\/\d{4}\.\d{4,5}|doi\.org\/10\.\d{4,}\/\S+)$/);
        expect(l.rel).toContain('noopener');
      }
      expect(problems.foreignRequests).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('gives a long lesson an "On this page" list whose links reach its sections', async () => {
    const { context, page } = await openPage(site);
    try {
      await page.goto(site.url + paths.find((p) => p.includes('reverse-process'))!);
      const toc = page.locator('nav.toc[aria-label="On this page"]');
      await toc.locator('summary').click();
      const targets = await toc.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
      const h2 = await page.locator('article h2[id]').evaluateAll((hs) => hs.map((h) => `#${h.id}`));
      expect(targets.length).toBeGreaterThanOrEqual(4);
      expect(targets).toEqual(h2);
      await toc.locator('a').nth(2).click();
      expect(await page.evaluate(() => location.hash)).toBe(targets[2]);
      expect(await page.locator(`article h2${targets[2].replace(/([^\w#-])/g, '\\$1')}`).isVisible()).toBe(true);
    } finally {
      await context.close();
    }
  });

  for (const path of ['/', '/lessons/01-what-are-diffusion-models/']) {
    it(`dissolves a real digit under the pointer, by touch and by the keyboard on ${path}`, async () => {
      const { context, page, problems } = await openPage(site, { width: 390, height: 800 });
      try {
        await page.goto(site.url + path);
        const fig = page.locator('figure.dissolve');
        await fig.scrollIntoViewIfNeeded();
        const img = fig.locator('img');
        const clean = await img.getAttribute('src');
        expect(await fig.getAttribute('data-t')).toBe('0');
        const box = (await fig.locator('.picture').boundingBox())!;
        // the island hydrates on view: move until the picture follows the pointer
        await expect
          .poll(async () => {
            await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2);
            return fig.getAttribute('data-t');
          }, { timeout: 30_000 })
          .toBe('750');
        const noisy = await img.getAttribute('src');
        expect(noisy).not.toBe(clean);
        expect(await fig.locator('output').first().textContent()).toBe('750');
        await page.mouse.move(box.x + 1, box.y + box.height / 2);
        await expect.poll(() => fig.getAttribute('data-t')).toBe(String(Math.round((1 / box.width) * 1000)));
        // a touch: a pointerdown from a finger at a quarter of the width
        await fig.locator('.picture').dispatchEvent('pointerdown', { pointerType: 'touch', clientX: box.x + box.width / 4, clientY: box.y + box.height / 2, isPrimary: true });
        await expect.poll(() => fig.getAttribute('data-t')).toBe('250');
        // the slider: keyboard
        await fig.locator('input[type="range"]').focus();
        await page.keyboard.press('End');
        expect(await fig.getAttribute('data-t')).toBe('1000');
        await page.keyboard.press('Home');
        expect(await fig.getAttribute('data-t')).toBe('0');
        expect(await img.getAttribute('src')).toBe(clean);
        // the state is in the URL: a link opens at its t; a malformed one is ignored, an overflowing one clamped
        await page.keyboard.press('PageUp');
        const shared = await fig.getAttribute('data-t');
        expect(Number(shared)).toBeGreaterThan(0);
        expect(page.url()).toContain(`dissolve.t=${shared}`);
        for (const [query, t] of [[`dissolve.t=${shared}`, shared], ['dissolve.t=banana', '0'], ['dissolve.t=99999', '1000']] as const) {
          await page.goto(`${site.url}${path}?${query}`);
          await fig.scrollIntoViewIfNeeded();
          await expect.poll(() => fig.getAttribute('data-t'), { timeout: 30_000 }).toBe(t);
        }
        expect(problems.pageErrors).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});

describe('the theme toggle', () => {
  it('switches theme, persists across a reload, and overrides the system setting', async () => {
    const { context, page, problems } = await openPage(site, { colorScheme: 'light' });
    try {
      await page.goto(site.url + '/');
      const toggle = page.getByRole('button', { name: /dark/i });
      expect(await toggle.getAttribute('aria-pressed')).toBe('false');
      await toggle.click();
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
      expect(await toggle.getAttribute('aria-pressed')).toBe('true');
      const bgDark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await page.reload();
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(bgDark);
      await page.keyboard.press('Tab'); // skip link
      await page.getByRole('button', { name: /dark/i }).focus();
      await page.keyboard.press('Enter');
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe(bgDark);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('islands', () => {
  it('hydrate without shifting the layout and respond to the keyboard', async () => {
    const lesson = paths.find((p) => p.includes('forward-process'))!;
    expect(lesson, 'a lesson with the forward-noising scrubber').toBeTruthy();
    const { context, page, problems } = await openPage(site, { width: 390, height: 844 });
    try {
      const cls = await trackLayoutShift(page);
      await page.goto(site.url + lesson, { waitUntil: 'networkidle' });
      const widget = page.locator('[data-widget="forward-scrubber"]').first();
      await widget.scrollIntoViewIfNeeded();
      await page.waitForSelector('[data-widget="forward-scrubber"][data-status="ready"]', { timeout: 120_000 });
      const slider = widget.getByRole('slider').first();
      const before = Number(await slider.inputValue());
      const image = widget.locator('.main-image img');
      const pixelsBefore = await image.getAttribute('src');
      await slider.focus();
      for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
      expect(Number(await slider.inputValue())).toBe(before + 10);
      await expect.poll(() => image.getAttribute('src')).not.toBe(pixelsBefore);
      expect(await cls()).toBeLessThan(0.01);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('the JavaScript budget', () => {
  it('keeps every page without widgets under 30 KB of compressed JavaScript before activation', async () => {
    const { reportJs, BUDGET_BYTES } = await import('../../scripts/report-js.mjs');
    const rows = reportJs() as { page: string; initialJs: number; islands: unknown[] }[];
    expect(rows.length).toBeGreaterThanOrEqual(paths.length);
    for (const row of rows) {
      if (row.islands.length === 0) expect(row.initialJs, row.page).toBeLessThanOrEqual(BUDGET_BYTES);
      // Even with widgets, a page loads only the tiny theme script up front: islands load when they activate.
      expect(row.initialJs, row.page).toBeLessThanOrEqual(BUDGET_BYTES);
    }
  });
});
