import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { CHROMIUM_ARGS, backendInfo, launchChromium, memory, openPage, ready, screenshotPath } from './harness';
import { useSite } from './useSite';
import { WIDGET_STATE } from '../../src/workers/api';

const site = useSite();

const GALLERY = '/widgets/';
const scrubber = '[data-widget="forward-scrubber"]';
const lab = '[data-widget="schedule-lab"]';

const mainImage = (page: Page) => page.locator(`${scrubber} .main-image img`).getAttribute('src');

describe('the forward-noising scrubber', () => {
  it('shows the clean digit before compute is ready, then x_t from the worker', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + GALLERY + '?scrub.t=0');
      // Server-rendered: a real digit image is in the HTML before hydration.
      const html = await (await page.request.get(site.url + GALLERY)).text();
      expect(html).toMatch(/data-widget="forward-scrubber"[\s\S]*?<img[^>]+src="data:image\/png;base64,/);
      await ready(page, scrubber, 120_000);
      expect(await page.locator(`${scrubber} .badge`).textContent()).toMatch(/webgpu|webgl|wasm|cpu/);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows the digit the URL chooses once live, not the server-rendered default', async () => {
    const { context, page } = await openPage(site);
    try {
      // No worker: only hydration can change the picture (a computed x_t would replace it anyway).
      await page.route('**/*.worker*', (route) => route.abort());
      const hydrated = `astro-island:not([ssr]) ${scrubber}`;
      await page.goto(site.url + GALLERY + `?scrub.t=0&scrub.digit=${WIDGET_STATE.scrub.digit.default}`);
      await page.waitForSelector(hydrated, { timeout: 60_000 });
      const fallback = await mainImage(page);
      await page.goto(site.url + GALLERY + '?scrub.t=0&scrub.digit=8');
      await page.waitForSelector(hydrated, { timeout: 60_000 });
      // Hydration keeps an img's server-rendered src (the default digit); the picture must still follow the URL.
      await expect.poll(() => mainImage(page), { timeout: 10_000 }).not.toBe(fallback);
    } finally {
      await context.close();
    }
  });

  it('changes the picture as the slider moves, by keyboard and by pointer', async () => {
    const { context, page, problems } = await openPage(site, { width: 390, height: 844 });
    try {
      await page.goto(site.url + GALLERY);
      await ready(page, scrubber, 120_000);
      const slider = page.locator(`${scrubber} input[type="range"]`);
      await expect.poll(() => mainImage(page)).toMatch(/^data:image\/png/);
      const before = await mainImage(page);
      await slider.focus();
      await page.keyboard.press('PageUp');
      await page.keyboard.press('ArrowRight');
      expect(await slider.inputValue()).toBe('351');
      await expect.poll(() => page.locator(`${scrubber} .main-image .caption`).textContent()).toContain('351');
      expect(await mainImage(page)).not.toBe(before);
      expect(new URL(page.url()).searchParams.get('scrub.t')).toBe('351');

      const box = (await slider.boundingBox())!;
      await page.mouse.click(box.x + box.width * 0.95, box.y + box.height / 2);
      const t = Number(await slider.inputValue());
      expect(t).toBeGreaterThan(850);
      await expect.poll(() => page.locator(`${scrubber} .main-image .caption`).textContent()).toContain(String(t));
      await page.screenshot({ path: screenshotPath('widget-scrubber-phone'), fullPage: false });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('keeps the worker tensor count flat over 200 scrubs', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + GALLERY + '?backend=wasm');
      await ready(page, scrubber, 120_000);
      const slider = page.locator(`${scrubber} input[type="range"]`);
      await slider.focus();
      for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight'); // warm up
      await expect.poll(() => page.locator(`${scrubber} .main-image .caption`).textContent()).toContain('255');
      const before = await memory(page);
      for (let i = 0; i < 200; i++) await page.keyboard.press(i % 2 ? 'ArrowLeft' : 'ArrowUp');
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => page.locator(`${scrubber} .main-image .caption`).textContent()).toContain('256');
      const after = await memory(page);
      expect(after.backend).toBe('wasm');
      expect(after.numTensors).toBe(before.numTensors);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('plays an animation that sweeps t to the end', async () => {
    const { context, page } = await openPage(site);
    try {
      await page.goto(site.url + GALLERY + '?scrub.t=900');
      await ready(page, scrubber, 120_000);
      await page.getByRole('button', { name: /play/i }).first().click();
      await expect.poll(() => page.locator(`${scrubber} input[type="range"]`).inputValue(), { timeout: 15_000 }).toBe('1000');
    } finally {
      await context.close();
    }
  });
});

describe('the schedule lab', () => {
  it('moves its cursor with the pointer and updates both schedules', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + GALLERY);
      await ready(page, lab, 120_000);
      const plot = page.locator(`${lab} svg.plot`);
      const box = (await plot.boundingBox())!;
      const images = () => page.locator(`${lab} .now img`).evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).src));
      const before = await images();
      await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
      const t = Number(await page.locator(`${lab} input[type="range"]`).inputValue());
      expect(t).toBeGreaterThan(50);
      expect(t).toBeLessThan(300);
      await expect.poll(images).not.toEqual(before);
      const after = await images();
      expect(after[0]).not.toBe(after[1]); // linear and cosine differ at the same t
      await page.getByRole('button', { name: 'log SNR' }).click();
      expect(new URL(page.url()).searchParams.get('sched.show')).toBe('logSnr');
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('backend fallback', () => {
  it('runs on wasm when WebGPU and WebGL are unavailable', async () => {
    // No WebGPU adapter, and no GL at all (--disable-3d-apis alone leaves WebGL on in workers' OffscreenCanvas).
    const browser = await launchChromium([...CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'), '--use-gl=disabled', '--disable-3d-apis']);
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(site.url + GALLERY);
      await ready(page, scrubber, 120_000);
      expect(await page.locator(`${scrubber} .badge`).textContent()).toBe('wasm');
      const info = await backendInfo(page);
      expect(info.attempts.map((a) => `${a.name}:${a.ok}`).slice(-1)).toEqual(['wasm:true']);
      expect(info.attempts.filter((a) => a.ok)).toHaveLength(1);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe('URL state', () => {
  // The parsing itself is fuzzed over every declared value in tests/workers/params.test.ts; here real page loads
  // carry the worst cases for every widget's keys at once.
  it('loads malformed and out-of-range states for every widget without an error, controls inside their bounds', async () => {
    const junk = ['', 'NaN', '-1', '1e9', '-1e9', '99999999999999999999', 'abc', '%E0%A4%A', '0x1F', '3.7', ' 5', '<script>', 'null', 'Infinity', '-0', '١٢'];
    const queries = junk.map((value, i) => {
      const parts = Object.entries(WIDGET_STATE).flatMap(([widget, specs]) => Object.keys(specs).map((key, k) => `${widget}.${key}=${junk[(i + k) % junk.length] || value}`));
      return [...parts, i % 3 === 0 ? '&&==&' : '', `backend=${['cpu', 'cpu,nonsense', 'CPU,cpu'][i % 3]}`].filter(Boolean).join('&');
    });
    const tabs = await Promise.all([openPage(site), openPage(site)]);
    try {
      await Promise.all(
        tabs.map(async ({ page }, tab) => {
          for (let i = tab; i < queries.length; i += tabs.length) {
            const q = queries[i];
            await page.goto(`${site.url}${GALLERY}?${q}`, { waitUntil: 'load' });
            await page.waitForSelector(`${scrubber}[data-status="ready"]`, { timeout: 60_000 });
            const outside = await page.evaluate(() =>
              [...document.querySelectorAll('input[type="range"], input[type="number"]')]
                .map((el) => el as HTMLInputElement)
                .filter((el) => el.value !== '' && (Number(el.value) < Number(el.min) || Number(el.value) > Number(el.max) || !Number.isFinite(Number(el.value))))
                .map((el) => `${el.closest('[data-widget]')?.getAttribute('data-widget')}: ${el.value}`),
            );
            expect(outside, q).toEqual([]);
          }
        }),
      );
      for (const { problems } of tabs) {
        expect(problems.pageErrors).toEqual([]);
        expect(problems.consoleErrors).toEqual([]);
      }
    } finally {
      await Promise.all(tabs.map(({ context }) => context.close()));
    }
  });
});
