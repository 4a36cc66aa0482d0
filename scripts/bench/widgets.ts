/**
 * Bench section `widgets`: time to the first picture of the model widgets in headless Chromium on wasm, each on
 * a fresh page, so the model is downloaded and built inside the timing:
 *   first_ddim50_grid_ms    — a DDIM-50 grid of 16 digits from unet-mnist, requested as soon as the worker is up;
 *   first_dpmpp20_grid_ms   — a DPM-Solver++ 2M grid of 16 digits in 20 steps, requested the same way;
 *   first_ddim50_in_race_ms — the DDIM-50 grid in the sampler race, where the DDPM and 2M lanes run at the same time;
 *   first_guidance_grid_ms  — the guidance lab's first grid of 16 decoded digits (its own measurement, from its
 *                             first request, which also waits for the worker's backend to start);
 *   first_prompt_grid_ms    — the prompt lab's first grid of 16 for its default prompt at 25 DDIM steps with guidance
 *                             (two U-Net passes a step) and its cross-attention maps, decoded, classified and
 *                             CLIP-scored, from page load (navigation start) until the grid is there: the page, the
 *                             worker and its backend, four model files (U-Net, autoencoder, CLIP, classifier) included;
 *   first_controlnet_grid_ms — the ControlNet lab's first grid of 8 after a change of its hint: once its default grid
 *                             is there (models loaded), a preset button is clicked and the time runs until the grid
 *                             sampled for the new hint (20 DDIM steps with class guidance, decoded) is shown.
 * Medians over `rounds` fresh pages.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

type Dl = { diffusionLab: { request(kind: string, params: unknown): Promise<unknown> } };

export async function benchWidgets(root: string, rounds: number): Promise<Record<string, unknown>> {
  if (!existsSync(join(root, 'dist', 'widgets', 'index.html'))) throw new Error('bench widgets needs the built site: run `npm run build` first');
  const { launchChromium, ready, serveDist } = await import('../../tests/e2e/harness');
  const widgetReady = (page: Page, selector: string) => ready(page, selector, 120_000);
  const server = await serveDist();
  const browser = await launchChromium();
  const fresh = async <T>(path: string, f: (page: Page) => Promise<T>): Promise<T> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      await page.goto(server.url + path);
      return await f(page);
    } finally {
      await context.close();
    }
  };
  try {
    const direct: number[] = [];
    const dpm: number[] = [];
    /** The first grid of `sampler` in `steps` steps, on a fresh page, requested as soon as the worker is up. */
    const firstGrid = (sampler: string, steps: number, seed: number) =>
      fresh('/widgets/?backend=wasm#sampler-race', async (page) => {
        await widgetReady(page, '[data-widget="sampler-race"]');
        return page.evaluate(
          async ([sampler, steps, seed]) => {
            const start = performance.now();
            await (window as unknown as Dl).diffusionLab.request('race', { model: 'unet-mnist', sampler, steps, eta: 0, variance: 'betaTilde', seed, count: 16 });
            return performance.now() - start;
          },
          [sampler, steps, seed] as const,
        );
      });
    const inRace: number[] = [];
    const guide: number[] = [];
    const prompt: number[] = [];
    const controlnet: number[] = [];
    for (let r = 0; r < rounds; r++) {
      direct.push(await firstGrid('ddim', 50, 7 + r));
      dpm.push(await firstGrid('dpmpp2m', 20, 7 + r));
      inRace.push(
        await fresh(`/widgets/?backend=wasm&race.count=16&race.nfe=50&race.seed=${7 + r}#sampler-race`, async (page) => {
          const race = '[data-widget="sampler-race"]';
          await widgetReady(page, race);
          const start = Date.now();
          await page.locator(race).getByRole('button', { name: /start the race/i }).click();
          await page.waitForSelector(`${race} [data-lane="ddim"][data-done="true"]`, { timeout: 300_000 });
          const ms = Date.now() - start;
          await page.locator(race).getByRole('button', { name: /cancel/i }).click();
          return ms;
        }),
      );
      guide.push(
        await fresh(`/widgets/?backend=wasm&guide.seed=${11 + r}#guidance-lab`, async (page) => {
          const lab = '[data-widget="guidance-lab"]';
          await widgetReady(page, lab);
          return Number(await page.locator(lab).getAttribute('data-first-ms'));
        }),
      );
      prompt.push(
        await fresh(`/widgets/?backend=wasm&prompt.seed=${42 + r}#prompt-lab`, async (page) => {
          const lab = '[data-widget="prompt-lab"]';
          await widgetReady(page, lab);
          await page.waitForSelector(`${lab}:not([data-first-at=""])[data-count="16"]`, { timeout: 120_000 });
          return Number(await page.locator(lab).getAttribute('data-first-at'));
        }),
      );
      controlnet.push(
        await fresh(`/widgets/?backend=wasm&controlnet.seed=${13 + r}#controlnet-lab`, async (page) => {
          const lab = '[data-widget="controlnet-lab"]';
          await widgetReady(page, lab);
          await page.waitForSelector(`${lab}[data-pending="false"]:not([data-result-hint=""])`, { timeout: 120_000 });
          // (no named functions inside: the page has no __name helper that tsx's transform would call)
          return page.evaluate(
            (sel) =>
              new Promise<number>((resolve) => {
                const el = document.querySelector(sel) as HTMLElement;
                const before = el.dataset.hint;
                const start = performance.now();
                new MutationObserver((_, observer) => {
                  if (el.dataset.hint !== before && el.dataset.pending === 'false' && el.dataset.resultHint === el.dataset.hint) {
                    observer.disconnect();
                    resolve(performance.now() - start);
                  }
                }).observe(el, { attributes: true });
                (el.querySelector('button[aria-label="Use the skeleton of a held-out 5"]') as HTMLButtonElement).click();
              }),
            lab,
          );
        }),
      );
    }
    return {
      first_ddim50_grid_ms: median(direct),
      first_dpmpp20_grid_ms: median(dpm),
      first_ddim50_in_race_ms: median(inRace),
      first_guidance_grid_ms: median(guide),
      first_prompt_grid_ms: median(prompt),
      first_controlnet_grid_ms: median(controlnet),
      samples_ms: { ddim50: direct, dpmpp20: dpm, ddim50_in_race: inRace, guidance: guide, prompt, controlnet },
      targets: { first_ddim50_grid_ms_max: 5000, first_dpmpp20_grid_ms_max: 1500, first_guidance_grid_ms_max: 5000 },
      method: 'fresh browser context per measurement, wasm backend, 16 digits; medians of rounds (see the file header for what each timing covers)',
    };
  } finally {
    await browser.close();
    await server.close();
  }
}
