/**
 * Bench section `webgpu`: the built site in headless Chromium with `--enable-unsafe-webgpu`. When the browser offers a
 * real (hardware, non-fallback) WebGPU adapter, it times on WebGPU, and on wasm in the same browser for comparison:
 *   lab_ms_per_step  — the training lab's step (lab.create + lab.run, batch 32, the loss read every 5 steps);
 *   ddim50_grid_ms   — a DDIM-50 grid of 16 digits from unet-mnist (the race request): the first one (shaders compiled
 *                      inside it) and the median of the later ones.
 * With no adapter, or only a software/fallback one (SwiftShader here), the figures would time the CPU through a GPU
 * emulator, so the section reports the adapter it found and skips. Correctness of the WebGPU path is tested
 * elsewhere (tests/e2e/backends.test.ts runs every request on the software adapter with tiny shapes).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

/** What the page saw of navigator.gpu. */
export interface AdapterReport {
  /** navigator.gpu exists. */
  api: boolean;
  /** requestAdapter() gave an adapter. */
  adapter: boolean;
  fallback: boolean;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|\bwarp\b/i;

/** Whether the adapter is a real GPU worth timing; otherwise why not, in words. */
export function webgpuVerdict(r: AdapterReport): { real: true } | { real: false; reason: string } {
  if (!r.api) return { real: false, reason: 'this Chromium offers no WebGPU (navigator.gpu is missing)' };
  if (!r.adapter) return { real: false, reason: 'this Chromium has no WebGPU adapter on this machine (no GPU, or none it may use)' };
  const name = [r.vendor, r.architecture, r.device, r.description].filter((s) => s && s.trim()).join(', ') || 'unnamed';
  if (r.fallback) return { real: false, reason: `only a fallback (software) WebGPU adapter is present (${name}); timing it would measure the CPU through a GPU emulator` };
  if (SOFTWARE.test(name)) return { real: false, reason: `only a software WebGPU adapter is present (${name}); timing it would measure the CPU through a GPU emulator` };
  return { real: true };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

type Dl = { diffusionLab: { request(kind: string, params: unknown): Promise<Record<string, unknown>>; backend(): Promise<{ backend: string }> } };

/** Training-lab steps and DDIM grids on one backend, on a fresh page. */
async function timeBackend(page: Page, url: string, backend: 'webgpu' | 'wasm', steps: number, rounds: number) {
  const { ready } = await import('../../tests/e2e/harness');
  await page.goto(`${url}/widgets/?backend=${backend}#training-lab`);
  await ready(page, '[data-widget="training-lab"]', 180_000);
  return page.evaluate(
    async ([want, steps, rounds]) => {
      const dl = (window as unknown as Dl).diffusionLab;
      const got = (await dl.backend()).backend;
      if (got !== want) throw new Error(`the page's worker runs ${got}, not ${want}`);
      await dl.request('lab.create', { size: 'small', batchSize: 32, seed: 1 });
      await dl.request('lab.run', { maxSteps: 5, lossEvery: 5, sampleEvery: 0 }); // warm-up: shaders, Adam's moments
      const lab: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const t0 = performance.now();
        await dl.request('lab.run', { maxSteps: steps, lossEvery: 5, sampleEvery: 0 });
        lab.push((performance.now() - t0) / steps);
      }
      await dl.request('lab.reset', {});
      const grid = () => dl.request('race', { model: 'unet-mnist', sampler: 'ddim', steps: 50, eta: 0, count: 16, seed: 7 });
      const ddim: number[] = [];
      for (let r = 0; r <= rounds; r++) {
        const t0 = performance.now();
        await grid();
        ddim.push(performance.now() - t0);
      }
      return { backend: got, lab, ddim };
    },
    [backend, steps, rounds] as const,
  );
}

export async function benchWebGpu(root: string, opts: { steps: number; rounds: number }): Promise<Record<string, unknown>> {
  if (!existsSync(join(root, 'dist', 'widgets', 'index.html'))) throw new Error('bench webgpu needs the built site: run `npm run build` first');
  const { launchChromium, serveDist } = await import('../../tests/e2e/harness');
  const server = await serveDist();
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const report: AdapterReport = await page.evaluate(async () => {
      type Info = { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
      type Adapter = { info?: Info; isFallbackAdapter?: boolean };
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(o?: object): Promise<Adapter | null> } }).gpu;
      if (!gpu) return { api: false, adapter: false, fallback: false };
      const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) return { api: true, adapter: false, fallback: false };
      const info = adapter.info ?? {};
      return {
        api: true,
        adapter: true,
        fallback: info.isFallbackAdapter === true || adapter.isFallbackAdapter === true,
        vendor: info.vendor,
        architecture: info.architecture,
        device: info.device,
        description: info.description,
      };
    });
    await context.close();
    const verdict = webgpuVerdict(report);
    const browserVersion = browser.version();
    if (!verdict.real) {
      console.log(`WebGPU bench skipped: ${verdict.reason}.`);
      return { description: 'skipped', skipped: verdict.reason, adapter: report, browser: browserVersion };
    }
    const lanes: Record<string, Awaited<ReturnType<typeof timeBackend>>> = {};
    for (const backend of ['webgpu', 'wasm'] as const) {
      const ctx = await browser.newContext();
      try {
        lanes[backend] = await timeBackend(await ctx.newPage(), server.url, backend, opts.steps, opts.rounds);
      } finally {
        await ctx.close();
      }
    }
    const figures = Object.fromEntries(
      Object.entries(lanes).map(([name, l]) => [name, { lab_ms_per_step: median(l.lab), ddim50_grid_first_ms: l.ddim[0], ddim50_grid_ms: median(l.ddim.slice(1)) }]),
    );
    const g = figures.webgpu;
    const w = figures.wasm;
    console.log(`adapter: ${[report.vendor, report.architecture, report.device, report.description].filter(Boolean).join(', ')}`);
    console.log(`lab step (small, batch 32): WebGPU ${g.lab_ms_per_step.toFixed(1)} ms, wasm ${w.lab_ms_per_step.toFixed(1)} ms`);
    console.log(`DDIM-50 grid of 16: WebGPU ${g.ddim50_grid_ms.toFixed(0)} ms (first ${g.ddim50_grid_first_ms.toFixed(0)} ms), wasm ${w.ddim50_grid_ms.toFixed(0)} ms`);
    return {
      description: 'training-lab step and DDIM-50 grid on WebGPU (a hardware adapter) vs wasm, headless Chromium',
      adapter: report,
      browser: browserVersion,
      figures,
      ratios: { lab_step_wasm_over_webgpu: w.lab_ms_per_step / g.lab_ms_per_step, ddim50_grid_wasm_over_webgpu: w.ddim50_grid_ms / g.ddim50_grid_ms },
      samples: lanes,
      method: `one fresh page per backend (?backend=webgpu, then ?backend=wasm); lab: 5 warm-up steps, then ${opts.rounds} runs of ${opts.steps} steps (size small, batch 32, loss read every 5 steps), median ms per step; DDIM-50 grids of 16 from unet-mnist: the first (shader compilation inside) and the median of ${opts.rounds} more`,
    };
  } finally {
    await browser.close();
    await server.close();
  }
}
