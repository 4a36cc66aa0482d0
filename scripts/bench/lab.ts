/**
 * Bench section `lab`: the training lab's loop in headless Chromium on wasm (the page's compute worker, the
 * real lab.run request) against the bare training step in Node for the same model, batch and data.
 * in_tab_overhead = (in-tab ms per step) / (bare ms per step) − 1. Also the longest main-thread task while
 * the lab trains (the page must never be blocked for more than 50 ms).
 *
 * Runs are interleaved (bare, tab, bare, tab, …) so load on this shared machine hits both alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs-core';

type Tf = typeof TF;

export interface LabBenchOptions {
  root: string;
  batch: number;
  steps: number;
  rounds: number;
  size: 'tiny' | 'small';
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The bare loop: gather a batch on the device, one Adam step, read the loss every 5 steps; no yields, no UI. */
async function bareRunner(tf: Tf, root: string, size: 'tiny' | 'small', batch: number) {
  const { initBackend } = await import('../../src/core/backends');
  const { decodeMnistFile, range, toFloatBatch } = await import('../../src/core/data');
  const { createUNet } = await import('../../src/core/unet');
  const { createTrainer } = await import('../../src/core/train');
  const { makeRng } = await import('../../src/core/noise');
  const { makeSchedule } = await import('../../src/core/schedules');
  const { LAB_PRESETS } = await import('../../src/workers/trainingSession');
  await initBackend({ order: ['wasm'] });
  const { train } = await decodeMnistFile(new Uint8Array(readFileSync(join(root, 'public/data/mnist.bin.gz'))));
  const data = tf.tensor4d(toFloatBatch(train, range(train.count)), [train.count, 28, 28, 1]);
  const unet = createUNet(LAB_PRESETS[size], 1);
  const rng = makeRng(9);
  const trainer = createTrainer(unet, { schedule: makeSchedule('linear', 1000), rng, lr: 2e-3 });
  return {
    paramCount: unet.paramCount(),
    async run(steps: number): Promise<number> {
      const start = performance.now();
      let pending: TF.Scalar[] = [];
      for (let s = 0; s < steps; s++) {
        const idx = Int32Array.from({ length: batch }, () => rng.uniformInt(train.count));
        const x0 = tf.tidy(() => tf.gather(data, tf.tensor1d(idx, 'int32')) as TF.Tensor4D);
        pending.push(trainer.step(x0));
        x0.dispose();
        if (pending.length === 5 || s === steps - 1) {
          const sum = tf.addN(pending);
          await sum.data();
          sum.dispose();
          tf.dispose(pending);
          pending = [];
        }
      }
      return (performance.now() - start) / steps;
    },
    dispose() {
      trainer.dispose();
      unet.dispose();
      data.dispose();
    },
  };
}

export async function benchLab(tf: Tf, opts: LabBenchOptions): Promise<Record<string, unknown>> {
  if (!existsSync(join(opts.root, 'dist', 'widgets', 'index.html'))) {
    throw new Error('bench lab needs the built site: run `npm run build` first');
  }
  const { launchChromium, serveDist } = await import('../../tests/e2e/harness');
  const server = await serveDist();
  const browser = await launchChromium();
  const bare = await bareRunner(tf, opts.root, opts.size, opts.batch);
  try {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      const w = window as unknown as { __longTasks: number[] };
      w.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longTasks.push(e.duration);
      }).observe({ type: 'longtask', buffered: true });
    });
    await page.goto(`${server.url}/widgets/?backend=wasm#training-lab`);
    await page.locator('[data-widget="training-lab"]').scrollIntoViewIfNeeded();
    await page.waitForSelector('[data-widget="training-lab"][data-status="ready"]', { timeout: 120_000 });
    type Dl = { diffusionLab: { request(kind: string, params: unknown): Promise<{ step: number; backend: string }> } };
    const settings = { size: opts.size, batchSize: opts.batch, lr: 0.002, schedule: 'linear', seed: 1 };
    await page.evaluate((s) => (window as unknown as Dl).diffusionLab.request('lab.create', { settings: s }), settings);
    const tabRun = (steps: number) =>
      page.evaluate(async (n) => {
        const w = window as unknown as Dl & { __longTasks: number[] };
        w.__longTasks = [];
        const start = performance.now();
        const info = await w.diffusionLab.request('lab.run', { maxSteps: n, sampleEvery: 0, lossEvery: 5 });
        return { msPerStep: (performance.now() - start) / n, backend: info.backend, longest: Math.max(0, ...w.__longTasks), longTasks: w.__longTasks.length };
      }, steps);

    await bare.run(5); // warm-up: kernels compiled, Adam's moments created
    await tabRun(5);
    const bareMs: number[] = [];
    const tabMs: number[] = [];
    let longest = 0;
    let longTasks = 0;
    let backend = '';
    for (let r = 0; r < opts.rounds; r++) {
      bareMs.push(await bare.run(opts.steps));
      const t = await tabRun(opts.steps);
      tabMs.push(t.msPerStep);
      longest = Math.max(longest, t.longest);
      longTasks += t.longTasks;
      backend = t.backend;
    }
    const bareMedian = median(bareMs);
    const tabMedian = median(tabMs);
    return {
      model: opts.size,
      paramCount: bare.paramCount,
      batch: opts.batch,
      steps_per_round: opts.steps,
      rounds: opts.rounds,
      in_tab_backend: backend,
      bare_ms_per_step: bareMedian,
      in_tab_ms_per_step: tabMedian,
      in_tab_overhead: tabMedian / bareMedian - 1,
      main_thread_longest_task_ms: longest,
      main_thread_long_tasks: longTasks,
      samples_ms: { bare: bareMs, in_tab: tabMs },
      targets: { in_tab_overhead_max: 0.2, main_thread_longest_task_ms_max: 50 },
      method: 'interleaved rounds (bare Node step loop, then the lab.run request in headless Chromium), medians of ms per step; the loss is read every 5 steps in both, no sample grids',
    };
  } finally {
    bare.dispose();
    await browser.close();
    await server.close();
  }
}
