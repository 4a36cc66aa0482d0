import { describe, expect, it } from 'vitest';
import { openPage, ready, screenshotPath } from './harness';
import { useSite } from './useSite';

const site = useSite();

const INSPECTOR = '[data-widget="one-step-inspector"]';
const RACE = '[data-widget="sampler-race"]';
const GUIDE = '[data-widget="guidance-lab"]';
const SCRUB = '[data-widget="forward-scrubber"]';

describe('the one-step inspector', () => {
  it('shows x_t, ε, ε̂, x̂0, μ̃ and x_{t−1} from the shipped model, and links pictures to formula terms', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + '/widgets/?backend=wasm&inspect.t=600');
      await ready(page, INSPECTOR);
      const srcs = () => page.locator(`${INSPECTOR} .panels img`).evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).src));
      const first = await srcs();
      expect(first).toHaveLength(6);
      expect(new Set(first).size).toBe(6);
      // ε̂ should resemble ε: the inspector reports their mean squared difference, well below 1 (the variance of ε).
      const mse = Number(await page.locator(`${INSPECTOR} .readouts dd`).first().textContent());
      expect(mse).toBeGreaterThan(0);
      expect(mse).toBeLessThan(0.5);
      const slider = page.locator(`${INSPECTOR} input[type="range"]`);
      await slider.focus();
      await page.keyboard.press('PageDown');
      await expect.poll(srcs).not.toEqual(first);
      await page.locator(`${INSPECTOR} .panel`).nth(2).hover();
      expect(await page.locator(`${INSPECTOR} .formula .term-epshat.hl`).count()).toBeGreaterThan(0);
      await page.locator(INSPECTOR).screenshot({ path: screenshotPath('widget-inspector') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('the sampler race', () => {
  it('races DDPM-1000 against three ODE solvers with 20 evaluations each from the same noise, then measures their distance to the converged solution', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + '/widgets/?backend=wasm&race.count=1&race.nfe=20&race.heun=1');
      await ready(page, RACE);
      await page.locator(RACE).getByRole('button', { name: /start the race/i }).click();
      await page.waitForSelector(`${RACE}[data-winner]:not([data-winner=""]):not([data-winner="ddpm"])`, { timeout: 120_000 });
      await page.waitForSelector(`${RACE} [data-lane="ddpm"][data-done="true"]`, { timeout: 300_000 });
      for (const lane of ['ddpm', 'ddim', 'dpmpp2m', 'heun']) {
        expect(await page.locator(`${RACE} [data-lane="${lane}"] img`).count(), lane).toBe(1);
      }
      const text = await page.locator(`${RACE} [data-lane] dd`).allTextContents();
      expect(text).toContain('1000 / 1000');
      expect(text.filter((t) => t === '20 / 20')).toHaveLength(2); // DDIM and DPM-Solver++ 2M: 20 steps
      expect(text).toContain('10 / 10'); // Heun: 10 steps …
      expect(text).toContain('19'); // … cost 19 evaluations (one on the last step)
      // Once the converged solution is in, every lane shows its distance to it; 2M, of second order, is closer than DDIM.
      const distance = async (lane: string) => Number(await page.locator(`${RACE} [data-lane="${lane}"] .dist dd`).textContent());
      await expect.poll(() => distance('dpmpp2m'), { timeout: 60_000 }).toBeGreaterThan(0);
      expect(await distance('dpmpp2m')).toBeLessThan(await distance('ddim'));
      await page.locator(RACE).getByRole('button', { name: /measure the curve/i }).click();
      await expect.poll(() => page.locator(`${RACE} .charts > div:first-child path.line`).count(), { timeout: 120_000 }).toBe(3);
      await page.locator(RACE).screenshot({ path: screenshotPath('widget-race') });
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('lets the reader scrub t back and forth through every lane\'s stored run after the race', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + '/widgets/?backend=wasm&race.count=1&race.nfe=10&race.ddpm=0');
      await ready(page, RACE);
      expect(await page.locator(`${RACE} .scrub`).count()).toBe(0);
      await page.locator(RACE).getByRole('button', { name: /start the race/i }).click();
      await page.waitForSelector(`${RACE} [data-lane="dpmpp2m"][data-done="true"]`, { timeout: 120_000 });
      await page.waitForSelector(`${RACE} [data-lane="ddim"][data-done="true"]`, { timeout: 120_000 });
      const scrub = page.locator(`${RACE} .scrub input[type="range"]`);
      await expect.poll(() => scrub.count(), { timeout: 60_000 }).toBe(1);
      const lane = page.locator(`${RACE} [data-lane="ddim"]`);
      const tOf = async () => (await lane.locator('dt', { hasText: /^t$/ }).locator('xpath=following-sibling::dd').textContent())?.trim();
      const final = await lane.locator('img').getAttribute('src');
      expect(await tOf()).toBe('0');
      // back to the start: DDIM-10's first stored step, near t = 1000; the picture is noisier
      await scrub.focus();
      await page.keyboard.press('Home');
      await expect.poll(tOf).not.toBe('0');
      expect(Number(await tOf())).toBeGreaterThan(800);
      const start = await lane.locator('img').getAttribute('src');
      expect(start).not.toBe(final);
      expect(page.url()).toContain('race.at=0');
      // halfway, then forth again to the end: the final digits come back
      await scrub.fill('500');
      await expect.poll(async () => Math.abs(Number(await tOf()) - 500)).toBeLessThanOrEqual(100);
      await page.keyboard.press('End');
      await expect.poll(tOf).toBe('0');
      expect(await lane.locator('img').getAttribute('src')).toBe(final);
      // the x̂₀ view scrubs too
      await page.keyboard.press('Home');
      await page.locator(`${RACE} button`, { hasText: /^x̂/ }).click();
      expect(await lane.locator('img').getAttribute('src')).not.toBe(start);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('races the flow-matching model (Euler and Heun on its velocity field) from the same noise beside two diffusion solvers', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      // A flow lane from the URL, another added by its button (which writes it back into the URL).
      await page.goto(site.url + '/widgets/?backend=wasm&race.count=1&race.nfe=10&race.ddpm=0&race.flow-heun=1');
      await ready(page, RACE);
      await page.locator(RACE).getByRole('button', { name: 'Flow matching · Euler' }).click();
      await expect.poll(() => page.url()).toContain('race.flow-euler=1');
      expect(await page.locator(`${RACE} [data-lane]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-lane')))).toEqual(['ddim', 'dpmpp2m', 'flow-euler', 'flow-heun']);
      await page.locator(RACE).getByRole('button', { name: /start the race/i }).click();
      for (const lane of ['flow-euler', 'flow-heun', 'ddim', 'dpmpp2m']) {
        await page.waitForSelector(`${RACE} [data-lane="${lane}"][data-done="true"]`, { timeout: 120_000 });
        expect(await page.locator(`${RACE} [data-lane="${lane}"] img`).count(), lane).toBe(1);
      }
      const readouts = async (lane: string) => page.locator(`${RACE} [data-lane="${lane}"] dd`).allTextContents();
      const euler = await readouts('flow-euler');
      expect(euler.slice(0, 3)).toEqual(['10 / 10', '0.00', '10']); // 10 steps to s = 0, 10 evaluations
      const heun = await readouts('flow-heun');
      expect(heun.slice(0, 3)).toEqual(['5 / 5', '0.00', '9']); // 5 steps, 2·5 − 1 evaluations
      expect(await page.locator(`${RACE} [data-lane="flow-heun"] h3`).textContent()).toContain('Flow matching · Heun');
      expect(await page.locator(`${RACE} [data-lane="flow-euler"] .detail`).textContent()).toContain('flow-mnist');
      // Each lane is measured against the converged solution of its own model's ODE.
      const distance = async (lane: string) => Number(await page.locator(`${RACE} [data-lane="${lane}"] .dist dd`).textContent());
      for (const lane of ['flow-euler', 'flow-heun', 'ddim']) await expect.poll(() => distance(lane), { timeout: 120_000 }).toBeGreaterThan(0);
      await expect.poll(() => page.locator(RACE).getAttribute('data-running')).not.toBe('true');
      expect(await page.locator(`${RACE} .error`).count()).toBe(0);
      await page.locator(RACE).screenshot({ path: screenshotPath('widget-race-flow') });
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('the guidance lab', () => {
  it('lets the reader scrub a run back and forth through its kept steps, as x_t or x̂₀, and forgets it when a parameter changes', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      await page.goto(site.url + '/widgets/?backend=wasm&guide.digit=4&guide.w=3&guide.seed=11&guide.steps=10');
      await ready(page, GUIDE);
      await page.waitForSelector(`${GUIDE}[data-pending="false"]`);
      const first = page.locator(`${GUIDE} .grid img`).first();
      const grid = await first.getAttribute('src');
      await page.locator(GUIDE).getByRole('button', { name: 'Scrub this run' }).click();
      const slider = page.locator(`${GUIDE} .scrub input[type="range"]`);
      await expect.poll(() => slider.count(), { timeout: 60_000 }).toBe(1);
      const scrubT = async () => Number(await page.locator(`${GUIDE} .scrub`).getAttribute('data-scrub-t'));
      // it opens at the start of the run: the first kept step, still noisy
      expect(await scrubT()).toBeGreaterThan(800);
      const start = await first.getAttribute('src');
      expect(start).not.toBe(grid);
      await page.locator(GUIDE).getByRole('button', { name: /show x̂/ }).click();
      expect(await first.getAttribute('src')).not.toBe(start);
      await page.locator(GUIDE).getByRole('button', { name: /show x̂/ }).click();
      await slider.fill('500');
      await expect.poll(async () => Math.abs((await scrubT()) - 500)).toBeLessThanOrEqual(100);
      // forth to the end: the grid itself
      await slider.focus();
      await page.keyboard.press('End');
      await expect.poll(() => first.getAttribute('src')).toBe(grid);
      // another w is another run: the stored one is no longer offered
      await page.locator(`${GUIDE} input[type="range"]`).first().fill('4');
      await expect.poll(() => page.locator(GUIDE).getByRole('button', { name: 'Scrub this run' }).count()).toBe(1);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('changes the grid as the slider moves, and guidance makes the classifier agree with the requested digit', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      const accuracyAt = async (w: number) => {
        await page.goto(site.url + `/widgets/?backend=wasm&guide.digit=4&guide.w=${w}&guide.seed=11`);
        await ready(page, GUIDE);
        await page.waitForSelector(`${GUIDE}[data-pending="false"]`);
        return Number(await page.locator(GUIDE).getAttribute('data-accuracy'));
      };
      const plain = await accuracyAt(0);
      const guided = await accuracyAt(5);
      // At w = 5 the classifier agrees with the requested digit on ≥ 90 % of this seeded grid (digit 4, seed 11).
      // Across all digits the shipped model's share at w = 5 is 98.2 % (its card; digit 5 is the weakest class at
      // 84 %). Guidance must also be a real gain over w = 0: the shipped model gets 12 of these 16 right unguided
      // (60.6 % over all digits), so the gain is asserted as at least 2 more digits of 16, not 30 points.
      expect(guided).toBeGreaterThanOrEqual(0.9);
      expect(guided).toBeGreaterThanOrEqual(plain + 2 / 16);

      const grid = () => page.locator(`${GUIDE} .grid img`).evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).src));
      const before = await grid();
      expect(before).toHaveLength(16);
      const slider = page.locator(`${GUIDE} input[type="range"]`);
      await slider.focus();
      for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowLeft'); // w 5 → 2, stale runs cancelled
      await expect.poll(() => page.locator(`${GUIDE} output`).textContent()).toContain('w = 2.0');
      await expect.poll(grid, { timeout: 60_000 }).not.toEqual(before);
      expect(new URL(page.url()).searchParams.get('guide.w')).toBe('2');
      await page.locator(GUIDE).screenshot({ path: screenshotPath('widget-guidance') });
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('a missing or corrupted model file', () => {
  it('shows a clear message inside the widget while the rest of the page keeps working', async () => {
    const { context, page, problems } = await openPage(site);
    try {
      // Truncate the shipped U-Net's weights and make the latent model's file disappear.
      await context.route('**/models/unet-mnist/weights.bin', async (route) => {
        const response = await route.fetch();
        const body = await response.body();
        await route.fulfill({ response, body: body.subarray(0, Math.floor(body.length / 3)) });
      });
      await context.route('**/models/latent-mnist/denoiser/model.json', (route) => route.fulfill({ status: 404, body: 'gone' }));
      await page.goto(site.url + '/widgets/?backend=wasm');
      await page.locator(INSPECTOR).scrollIntoViewIfNeeded();
      await page.waitForSelector(`${INSPECTOR}[data-status="error"]`, { timeout: 120_000 });
      expect(await page.locator(`${INSPECTOR} .error`).textContent()).toMatch(/weights\.bin.*truncated/);
      await page.locator(GUIDE).scrollIntoViewIfNeeded();
      await page.waitForSelector(`${GUIDE}[data-status="error"]`, { timeout: 120_000 });
      expect(await page.locator(`${GUIDE} .error`).textContent()).toMatch(/denoiser\/model\.json: HTTP 404/);
      // The scrubber, which needs no model, still works.
      await ready(page, SCRUB);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
