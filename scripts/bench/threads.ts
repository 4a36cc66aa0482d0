/**
 * Bench section `threads`: the compute worker on wasm in headless Chromium, on one thread against every core.
 *
 * Two copies of dist/ are served by tests/e2e/staticServer.ts: one plain (a page that is not cross-origin isolated
 * runs the single-threaded SIMD binary, what every reader got before) and one with COOP/COEP/CORP (the threaded SIMD
 * binary on `--threads` threads, asked for by `?threads=`; by default a reader's page runs wasmThreadCount(cores)). Each page's worker is asked, in interleaved rounds so load on this shared machine hits both alike:
 *   - the training lab: `lab.run` of `--steps` steps (tiny U-Net, batch 32, the loss read every 5 steps) → steps/s;
 *   - a forward pass: `lab.predict` of 32 images through the lab's U-Net → ms;
 *   - a DDIM-50 grid of 16 from models/unet-mnist (`race`) → ms.
 * Medians over `--rounds`; ratios are one thread's time over the threaded time (> 1: threads help).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

export interface ThreadsBenchOptions {
  root: string;
  steps: number;
  rounds: number;
  batch: number;
  /** The isolated page's pool (`?threads=`). */
  threads: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

type Dl = { diffusionLab: { request(kind: string, params: unknown): Promise<any>; backend(): Promise<{ backend: string; threads?: number }> } };

interface Lane {
  label: string;
  isolated: boolean;
  threads: number;
  train(steps: number): Promise<number>;
  forward(): Promise<number>;
  ddim(): Promise<number>;
}

async function openLane(page: Page, url: string, label: string, batch: number, threads?: number): Promise<Lane> {
  await page.goto(`${url}/widgets/?backend=wasm${threads ? `&threads=${threads}` : ''}#training-lab`);
  await page.locator('[data-widget="training-lab"]').scrollIntoViewIfNeeded();
  await page.waitForSelector('[data-widget="training-lab"][data-status="ready"]', { timeout: 180_000 });
  const isolated = await page.evaluate(() => crossOriginIsolated);
  const info = await page.evaluate(() => (window as unknown as Dl).diffusionLab.backend());
  if (info.backend !== 'wasm') throw new Error(`${label}: the worker runs ${info.backend}, not wasm`);
  await page.evaluate((b) => (window as unknown as Dl).diffusionLab.request('lab.create', { size: 'tiny', batchSize: b, lr: 0.002, schedule: 'linear', seed: 1 }), batch);
  const lane: Lane = {
    label,
    isolated,
    threads: info.threads ?? 1,
    train: (steps) =>
      page.evaluate(async (n) => {
        const start = performance.now();
        await (window as unknown as Dl).diffusionLab.request('lab.run', { maxSteps: n, sampleEvery: 0, lossEvery: 5 });
        return performance.now() - start;
      }, steps),
    forward: () =>
      page.evaluate(async (b) => {
        const x = new Float32Array(784 * b).map((_, i) => Math.sin(i) * 0.9);
        const start = performance.now();
        await (window as unknown as Dl).diffusionLab.request('lab.predict', { x, t: 500 });
        return performance.now() - start;
      }, batch),
    ddim: () =>
      page.evaluate(async () => {
        const start = performance.now();
        await (window as unknown as Dl).diffusionLab.request('race', { model: 'unet-mnist', sampler: 'ddim', steps: 50, eta: 0, variance: 'betaTilde', seed: 3, count: 16 });
        return performance.now() - start;
      }),
  };
  // Warm-up: kernels compiled, Adam's moments created, the shipped model loaded.
  await lane.train(5);
  await lane.forward();
  await lane.ddim();
  return lane;
}

export async function benchThreads(opts: ThreadsBenchOptions): Promise<Record<string, unknown>> {
  if (!existsSync(join(opts.root, 'dist', 'widgets', 'index.html'))) throw new Error('bench threads needs the built site: run `npm run build` first');
  const { launchChromium } = await import('../../tests/e2e/harness');
  const { serveStatic } = await import('../../tests/e2e/staticServer');
  const plain = await serveStatic();
  const isolated = await serveStatic({ isolation: true });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const one = await openLane(await context.newPage(), plain.url, 'one thread (not isolated)', opts.batch);
    const many = await openLane(await context.newPage(), isolated.url, 'threads (isolated)', opts.batch, opts.threads);
    if (many.threads !== opts.threads) throw new Error(`the isolated page runs ${many.threads} threads, not ${opts.threads}`);
    if (one.isolated || !many.isolated) throw new Error('the plain page must not be cross-origin isolated and the other must be');
    const samples = { train_ms: [[], []] as number[][], forward_ms: [[], []] as number[][], ddim_ms: [[], []] as number[][] };
    const lanes = [one, many];
    for (let r = 0; r < opts.rounds; r++) {
      // Alternate which lane goes first, so a load spike does not always land on the same one.
      const order = r % 2 ? [1, 0] : [0, 1];
      for (const i of order) samples.train_ms[i].push(await lanes[i].train(opts.steps));
      for (const i of order) samples.forward_ms[i].push(await lanes[i].forward());
      for (const i of order) samples.ddim_ms[i].push(await lanes[i].ddim());
    }
    const [train1, trainN] = samples.train_ms.map(median);
    const [fwd1, fwdN] = samples.forward_ms.map(median);
    const [ddim1, ddimN] = samples.ddim_ms.map(median);
    const stepsPerS = (ms: number) => opts.steps / (ms / 1000);
    return {
      threads: many.threads,
      batch: opts.batch,
      steps_per_round: opts.steps,
      rounds: opts.rounds,
      steps_per_s_1_thread: stepsPerS(train1),
      [`steps_per_s_${many.threads}_threads`]: stepsPerS(trainN),
      steps_per_s_2_threads: many.threads === 2 ? stepsPerS(trainN) : null,
      train_ratio: train1 / trainN,
      forward_ms: { one_thread: fwd1, threads: fwdN },
      forward_ratio: fwd1 / fwdN,
      ddim50_grid16_ms: { one_thread: ddim1, threads: ddimN },
      ddim_ratio: ddim1 / ddimN,
      samples_ms: samples,
      targets: { train_ratio_min: 1.6 },
      method:
        'one Chromium, two pages of the same build: plain (SIMD binary, 1 thread) and served with COOP/COEP/CORP (threaded SIMD binary); ' +
        'interleaved rounds, medians; lab.run without sample grids (loss every 5 steps), lab.predict of the batch at t = 500, race DDIM-50 of 16 on unet-mnist',
    };
  } finally {
    await browser.close();
    await plain.close();
    await isolated.close();
  }
}
