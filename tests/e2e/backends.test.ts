/**
 * The backends a reader actually gets, in headless Chromium on this machine (no hardware GPU: WebGL runs on
 * SwiftShader; WebGPU, with --enable-unsafe-webgpu, is a SwiftShader fallback adapter, and without that flag there
 * is no adapter at all).
 *
 * 1. The default path (no ?backend): the ladder ranks software GPUs below wasm, the badge's menu says why, the
 *    console stays quiet, and a backend chosen in the menu is remembered across page loads (the URL still wins).
 * 2. Every GPU path: the race (2 lanes), img2img, inpainting, the guidance grid and one lab step run on cpu, WebGL
 *    and WebGPU through `diffusionLab.request`, with tiny shapes, and every progress and result array arrives intact
 *    (GPU backends hand out their cached `data()` array; transferring it detached it: "ArrayBuffer is detached").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { CHROMIUM_ARGS, backendInfo, openPage, openSite, ready, type Site } from './harness';

const SCRUBBER = '[data-widget="forward-scrubber"]';
const KEY = 'diffusion-lab:backend';
/** A reader's Chromium: no --enable-unsafe-webgpu, so WebGPU offers no adapter. */
const PLAIN_ARGS = CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu');

let plain: Site | undefined;
let gpu: Site | undefined;
beforeAll(async () => {
  [plain, gpu] = await Promise.all([openSite({ args: PLAIN_ARGS }), openSite()]);
});
afterAll(async () => {
  await Promise.all([plain?.close(), gpu?.close()]);
});

/** Console warnings about backends (tfjs logs "Initialization of backend webgpu failed" when it tries one that is not there). */
function backendWarnings(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (msg) => {
    if (['warning', 'error'].includes(msg.type()) && /webgpu|webgl|backend/i.test(msg.text())) seen.push(msg.text());
  });
  return seen;
}

const badge = (page: Page) => page.locator(`${SCRUBBER} .badge`);

async function openMenu(page: Page) {
  await badge(page).click();
  await page.locator(`${SCRUBBER} .backend-panel`).waitFor();
}

describe('the default backend', () => {
  it('skips an absent WebGPU quietly, ranks SwiftShader WebGL below wasm, and the badge menu says why', async () => {
    const { context, page, problems } = await openPage(plain!);
    const warnings = backendWarnings(page);
    try {
      await page.goto(plain!.url + '/widgets/');
      await ready(page, SCRUBBER, 120_000);
      expect(await badge(page).textContent()).toBe('wasm');
      const info = (await backendInfo(page)) as unknown as { backend: string; reason: string; ranked: boolean; order: string[]; attempts: { name: string; ok: boolean; skipped?: boolean }[] };
      console.log(`default path, plain Chromium: ${info.backend} — ${info.reason}`);
      expect(info.ranked).toBe(true);
      expect(info.order).toEqual(['wasm', 'webgl', 'cpu']);
      expect(info.attempts.map((a) => `${a.name}:${a.ok}:${a.skipped ?? false}`)).toEqual(['webgpu:false:true', 'wasm:true:false']);
      expect(info.reason).toMatch(/WebGL runs on a software renderer \(SwiftShader\), slower than WebAssembly here/);

      await openMenu(page);
      const panel = page.locator(`${SCRUBBER} .backend-panel`);
      await expect.poll(() => panel.textContent()).toMatch(/Computing on WebAssembly/);
      expect(await panel.textContent()).toMatch(/SwiftShader\), slower than WebAssembly here/);
      expect(await panel.textContent()).toMatch(/Chosen automatically/);
      await page.keyboard.press('Escape');
      await expect.poll(() => page.locator(`${SCRUBBER} details.backend-menu`).getAttribute('open')).toBeNull();

      expect(warnings).toEqual([]);
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('ranks a WebGPU fallback adapter below wasm too', async () => {
    const { context, page, problems } = await openPage(gpu!);
    const warnings = backendWarnings(page);
    try {
      await page.goto(gpu!.url + '/widgets/');
      await ready(page, SCRUBBER, 120_000);
      expect(await badge(page).textContent()).toBe('wasm');
      const info = (await backendInfo(page)) as unknown as { reason: string; order: string[]; probes: { name: string; available: boolean; software: boolean }[] };
      console.log(`default path, --enable-unsafe-webgpu: wasm — ${info.reason}`);
      expect(info.order).toEqual(['wasm', 'webgpu', 'webgl', 'cpu']);
      expect(info.probes.map((p) => `${p.name}:${p.available}:${p.software}`)).toEqual(['webgpu:true:true', 'webgl:true:true']);
      expect(info.reason).toMatch(/WebGPU runs on a software renderer/);
      expect(warnings).toEqual([]);
      expect(problems.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('switches to cpu from the menu, remembers it on the next page load, lets ?backend= win, and goes back to automatic', async () => {
    const { context, page, problems } = await openPage(plain!);
    try {
      await page.goto(plain!.url + '/widgets/');
      await ready(page, SCRUBBER, 120_000);
      await openMenu(page);
      await Promise.all([page.waitForEvent('load'), page.locator(`${SCRUBBER} .backend-panel button[data-choice="cpu"]`).click()]);
      await ready(page, SCRUBBER, 120_000);
      await expect.poll(() => badge(page).textContent(), { timeout: 30_000 }).toBe('cpu');
      expect(await page.evaluate((k) => localStorage.getItem(k), KEY)).toBe('cpu');

      // A later page load stays on cpu, and the menu says it was the reader's choice.
      await page.goto(plain!.url + '/widgets/');
      await ready(page, SCRUBBER, 120_000);
      await expect.poll(() => badge(page).textContent(), { timeout: 30_000 }).toBe('cpu');
      expect((await backendInfo(page)).attempts.map((a) => `${a.name}:${a.ok}`)).toEqual(['cpu:true']);
      await openMenu(page);
      expect(await page.locator(`${SCRUBBER} .backend-panel`).textContent()).toMatch(/You chose it in this menu/);
      expect(await page.locator(`${SCRUBBER} .backend-panel button[data-choice="cpu"]`).getAttribute('aria-pressed')).toBe('true');

      // The URL wins over the remembered choice.
      await page.goto(plain!.url + '/widgets/?backend=wasm');
      await ready(page, SCRUBBER, 120_000);
      await expect.poll(() => badge(page).textContent(), { timeout: 30_000 }).toBe('wasm');

      // Back to automatic: the choice is forgotten and the ranking picks wasm again.
      await openMenu(page);
      await Promise.all([page.waitForEvent('load'), page.locator(`${SCRUBBER} .backend-panel button:not([data-choice])`).click()]);
      await ready(page, SCRUBBER, 120_000);
      await expect.poll(() => badge(page).textContent(), { timeout: 30_000 }).toBe('wasm');
      expect(new URL(page.url()).searchParams.has('backend')).toBe(false);
      expect(await page.evaluate((k) => localStorage.getItem(k), KEY)).toBeNull();
      expect(problems.pageErrors).toEqual([]);
      expect(problems.consoleErrors).toEqual([]);
    } finally {
      await page.evaluate((k) => localStorage.removeItem(k), KEY).catch(() => {});
      await context.close();
    }
  });
});

/** What `runEverything` reports from the page. */
interface GpuRun {
  backend: string;
  problems: string[];
  progress: Record<string, number>;
  ms: Record<string, number>;
}

/**
 * In the page: every request kind that returns or reports arrays, with tiny shapes; checks each progress and result
 * array when it arrives (a Float32Array of the right length, finite, not detached) and once more at the end.
 */
function runEverything(page: Page): Promise<GpuRun> {
  return page.evaluate(async () => {
    type Dl = { request(kind: string, params: unknown, onProgress?: (p: Record<string, unknown>) => void): Promise<Record<string, unknown>>; backend(): Promise<{ backend: string }> };
    const dl = (window as unknown as { diffusionLab: Dl }).diffusionLab;
    const N = 784;
    const problems: string[] = [];
    const kept: [string, Float32Array | Int32Array, number][] = [];
    const progress: Record<string, number> = {};
    const ms: Record<string, number> = {};
    const check = (what: string, arr: unknown, length: number) => {
      if (!(arr instanceof Float32Array) && !(arr instanceof Int32Array)) return problems.push(`${what}: not a typed array (${Object.prototype.toString.call(arr)})`);
      if (arr.length !== length || arr.byteLength !== length * 4) return problems.push(`${what}: ${arr.length} values, ${arr.byteLength} bytes, expected ${length}`);
      if (!arr.every(Number.isFinite)) return problems.push(`${what}: values that are not finite`);
      kept.push([what, arr, length]);
    };
    const onProgress = (name: string, keys: string[]) => (p: Record<string, unknown>) => {
      progress[name] = (progress[name] ?? 0) + 1;
      for (const k of keys) check(`${name} progress ${k} #${progress[name]}`, p[k], N);
    };
    const timed = async <T,>(name: string, f: () => Promise<T>): Promise<T | undefined> => {
      const start = performance.now();
      try {
        return await f();
      } catch (e) {
        problems.push(`${name}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        return undefined;
      } finally {
        ms[name] = Math.round(performance.now() - start);
      }
    };
    // A digit-like input: a ring.
    const x0 = new Float32Array(N).fill(-1);
    for (let i = 0; i < N; i++) if (Math.abs(Math.hypot((i % 28) - 13.5, Math.floor(i / 28) - 13.5) - 8) < 2) x0[i] = 1;

    await timed('race (ddim + dpmpp2m)', () =>
      Promise.all(
        ['ddim', 'dpmpp2m'].map(async (sampler) => {
          const r = await dl.request('race', { sampler, steps: 3, count: 1, seed: 7, reportMs: 16 }, onProgress(`race.${sampler}`, ['x', 'x0Pred']));
          check(`race.${sampler} x0`, r.x0, N);
        }),
      ),
    );
    for (const mode of ['img2img', 'inpaint']) {
      await timed(mode, async () => {
        const r = await dl.request('img2img', { mode, x0: x0.slice(), steps: 5, strength: 0.5, keep: 'left', reportMs: 16 }, onProgress(mode, ['x', 'x0Pred']));
        check(`${mode} image`, r.image, N);
        if (mode === 'img2img') check('img2img start', r.start, N);
        else check('inpaint mask', r.mask, N);
      });
    }
    await timed('guide', async () => {
      const r = await dl.request('guide', { count: 1, steps: 5 });
      check('guide images', r.images, N);
      const [h, w, c] = r.latentShape as number[];
      check('guide latents', r.latents, h * w * c);
      check('guide predicted', r.predicted, 1);
    });
    await timed('lab step', async () => {
      await dl.request('lab.create', { batchSize: 8, size: 'tiny', seed: 1 });
      const info = await dl.request('lab.run', { maxSteps: 1, lossEvery: 1, sampleEvery: 0 }, (p) => {
        progress['lab.run'] = (progress['lab.run'] ?? 0) + 1;
        if (!Number.isFinite(p.loss)) problems.push(`lab.run progress loss ${String(p.loss)}`);
      });
      if (info.step !== 1) problems.push(`lab.run ended at step ${String(info.step)}`);
      const s = await dl.request('lab.samples', { count: 1, steps: 2 });
      check('lab.samples images', s.images, N);
      await dl.request('lab.reset', {});
    });
    // Nothing received earlier was detached by a later transfer.
    for (const [what, arr, length] of kept) if (arr.length !== length) problems.push(`${what}: detached afterwards (${arr.length} values)`);
    return { backend: (await dl.backend()).backend, problems, progress, ms };
  });
}

describe('every GPU path finishes with intact arrays', () => {
  for (const backend of ['cpu', 'webgl', 'webgpu'] as const) {
    it(`on ${backend}: race, img2img, inpainting, the guidance grid and a lab step`, async (ctx) => {
      const { context, page, problems } = await openPage(gpu!);
      try {
        await page.goto(`${gpu!.url}/widgets/?backend=${backend}`);
        await ready(page, SCRUBBER, 180_000);
        const info = (await backendInfo(page)) as unknown as { backend: string; attempts: { name: string; ok: boolean; error?: string }[] };
        if (info.backend !== backend) {
          const why = info.attempts.find((a) => a.name === backend)?.error ?? `the worker started ${info.backend}`;
          console.warn(`SKIPPED: ${backend} cannot start in this headless Chromium: ${why}`);
          ctx.skip(`${backend} cannot start in this headless Chromium: ${why}`);
        }
        const run = await runEverything(page);
        console.log(`${backend}: ${JSON.stringify(run.ms)} progress reports ${JSON.stringify(run.progress)}`);
        expect(run.backend).toBe(backend);
        expect(run.problems).toEqual([]);
        for (const name of ['race.ddim', 'race.dpmpp2m', 'img2img', 'inpaint', 'lab.run']) expect(run.progress[name] ?? 0, name).toBeGreaterThan(0);
        expect(problems.pageErrors).toEqual([]);
        expect(problems.consoleErrors.filter((e) => /detached|DataCloneError|postMessage/i.test(e))).toEqual([]);
      } finally {
        await context.close();
      }
    }, 240_000);
  }
});
