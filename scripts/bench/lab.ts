/**
 * Bench section `lab`: the training lab's loop in headless Chromium on wasm (the page's compute worker, the
 * real lab.run request) against the bare training step in Node for the same model, batch and data.
 * in_tab_overhead = (in-tab ms per step) / (bare ms per step) − 1. Also the longest main-thread task while
 * the lab trains (the page must never be blocked for more than 50 ms).
 *
 * Runs are interleaved (bare, tab, bare, tab, …) so load on this shared machine hits both alike.
 *
 * Quality over time (`quality`): for each preset, a fresh lab session with the preset's defaults trains in the tab
 * (lab.run in chunks of about `probeSeconds` of training) and after each chunk draws the lab's own sample grid
 * (lab.samples: 16 samples from its fixed x_T with its sampler and steps), which classifier-mnist reads here in Node.
 * seconds_to_digits / steps_to_digits: training time (sampling excluded) and steps until ≥ 12 of the 16 are read with
 * confidence ≥ 0.9. The same curve for the bare loop in Node (the lab's TrainingSession without the page), whose
 * steps_to_digits is deterministic given the seeds: that figure goes to src/widgets/lib/labDigits.json, which the lab's
 * live estimate reads.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs-core';
import { countUNetParams as countParams } from '../../src/core/unet';
import { confidentCount, firstDigits, heldOutShapes, neededDigits, PROBE, referenceDigits, type CurvePoint } from './labQuality';

type Tf = typeof TF;

export interface LabBenchOptions {
  root: string;
  batch: number;
  steps: number;
  rounds: number;
  size: 'tiny' | 'small';
  /** Presets whose quality curve to measure (none: skip the curves). */
  quality: ('tiny' | 'small')[];
  /** Training seconds between probes. */
  probeSeconds: number;
  /** Give up on a curve after this many training seconds. */
  maxSeconds: number;
  /** Write the bare loop's steps_to_digits to src/widgets/lib/labDigits.json (the lab's estimate reads it). */
  writeDigits: boolean;
}

const SEED = 1;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The bare loop: gather a batch on the device, one Adam step, read the loss every 5 steps; no yields, no UI. */
async function bareRunner(tf: Tf, root: string, size: 'tiny' | 'small', batch: number) {
  const { initBackend } = await import('../../src/core/backends');
  const { decodeMnistFile, range, toFloatBatch } = await import('../../src/core/data');
  const { createUNet } = await import('../../src/core/unet');
  const { createTrainer } = await import('../../src/core/train');
  const { makeRng } = await import('../../src/core/noise');
  const { makeSchedule } = await import('../../src/core/schedules');
  const { LAB_PRESETS, LAB_RECIPES } = await import('../../src/workers/trainingSession');
  await initBackend({ order: ['wasm'] });
  const { train } = await decodeMnistFile(new Uint8Array(readFileSync(join(root, 'public/data/mnist.bin.gz'))));
  const data = tf.tensor4d(toFloatBatch(train, range(train.count)), [train.count, 28, 28, 1]);
  const unet = createUNet(LAB_PRESETS[size], 1);
  const rng = makeRng(9);
  const trainer = createTrainer(unet, { schedule: makeSchedule('linear', 1000), rng, lr: 2e-3, emaDecay: LAB_RECIPES[size].emaDecay, warmupSteps: LAB_RECIPES[size].warmupSteps, minSnrGamma: LAB_RECIPES[size].minSnrGamma });
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
    const quality = await qualityCurves(tf, opts, page);
    const digits: Record<string, Record<string, unknown>> = {};
    for (const [size, q] of Object.entries(quality) as [string, QualityResult][]) {
      digits[size] = {
        steps_to_digits: q.bare.steps_to_digits,
        probe_every_steps: BARE_PROBE_STEPS,
        seed: SEED,
        batch: q.settings.batchSize,
        lr: q.settings.lr,
        sample_steps: q.recipe.sampleSteps,
        ema_decay: q.recipe.emaDecay ?? null,
      };
    }
    if (opts.writeDigits && Object.keys(digits).length > 0) {
      const file = join(opts.root, 'src', 'widgets', 'lib', 'labDigits.json');
      const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
      writeFileSync(file, `${JSON.stringify({ ...previous, ...digits }, null, 2)}\n`);
      console.log(`wrote ${file}`);
    }
    return {
      quality,
      quality_method: `each preset with the lab's default settings (seed ${SEED}); in the tab: lab.run in chunks of about ${opts.probeSeconds} s of training, then lab.samples (16 samples from the lab's fixed x_T, its sampler and steps) read by classifier-mnist in Node; digits = at least digits_needed of ${PROBE.count} (${PROBE.needed}, or fewer when the shipped unet-mnist sampled unconditionally the same way from the same x_T draws fewer: reference_digits) read with confidence ≥ ${PROBE.confidence} and shaped like a real digit (ink share and stroke count within the range of 99 % of the held-out digits; the classifier alone reads pure noise as a confident 8); seconds are training time (sampling excluded); the bare loop is the lab's TrainingSession in Node, probed every ${BARE_PROBE_STEPS} steps; curves stop at the first hit or after ${opts.maxSeconds} s`,
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

export interface QualityCurve {
  /** Training seconds (sampling excluded), steps and confident samples at each probe. */
  curve: CurvePoint[];
  seconds_to_digits: number | null;
  steps_to_digits: number | null;
  steps_per_second: number;
}

/**
 * Train in chunks and probe after each: `train(n)` takes n more steps and returns the ms they took; `samples()`
 * draws the lab's grid; `chunk(rate)` says how many steps the next chunk has at the measured rate (steps/s).
 */
async function qualityCurve(
  train: (steps: number) => Promise<number>,
  samples: () => Promise<Float32Array>,
  read: (images: Float32Array) => Promise<{ confident: number; digits: number }>,
  chunk: (rate: number) => number,
  maxSeconds: number,
  needed: number,
): Promise<QualityCurve> {
  const curve: CurvePoint[] = [];
  let ms = 0;
  let steps = 0;
  while (ms / 1000 < maxSeconds) {
    const n = chunk(steps > 0 ? (steps * 1000) / ms : 0);
    ms += await train(n);
    steps += n;
    const point = { seconds: ms / 1000, steps, ...(await read(await samples())) };
    curve.push(point);
    console.log(`  ${point.seconds.toFixed(1)} s, step ${steps}: ${point.confident}/16 read with confidence ≥ ${PROBE.confidence}, ${point.digits} of them shaped like a digit`);
    if (point.digits >= needed) break;
  }
  const hit = firstDigits(curve, needed);
  return { curve, seconds_to_digits: hit?.seconds ?? null, steps_to_digits: hit?.steps ?? null, steps_per_second: (steps * 1000) / ms };
}

interface QualityResult {
  settings: { batchSize: number; lr: number };
  recipe: { sampleSteps: number; emaDecay?: number };
  bare: QualityCurve;
}

/** Steps between probes of the bare loop: fixed, so its steps_to_digits is the same on every machine. */
export const BARE_PROBE_STEPS = 50;

async function qualityCurves(tf: Tf, opts: LabBenchOptions, page: import('playwright-core').Page): Promise<Record<string, unknown>> {
  const { loadClassifierFromDir } = await import('../eval/common');
  const { decodeMnistFile } = await import('../../src/core/data');
  const { LAB_RECIPES, TrainingSession } = await import('../../src/workers/trainingSession');
  const { REQUESTS } = await import('../../src/workers/api');
  const LAB_DEFAULTS = REQUESTS['lab.create'];
  const clf = loadClassifierFromDir(join(opts.root, 'models', 'classifier-mnist'));
  const { train: split, test } = await decodeMnistFile(new Uint8Array(readFileSync(join(opts.root, 'public/data/mnist.bin.gz'))));
  const shapes = heldOutShapes(test);
  const read = async (images: Float32Array) => {
    const { confident, digits } = await confidentCount(tf, clf, images, PROBE.count, shapes);
    return { confident, digits };
  };
  type Dl = { diffusionLab: { request(kind: string, params: unknown): Promise<unknown> } };
  const out: Record<string, unknown> = {};
  try {
    for (const size of opts.quality) {
      const settings = { size, batchSize: LAB_DEFAULTS.batchSize.default, lr: LAB_DEFAULTS.lr.default, schedule: LAB_DEFAULTS.schedule.default as 'linear', seed: SEED };
      const reference = await referenceDigits(tf, opts.root, clf, shapes, SEED, LAB_RECIPES[size].sampleSteps, LAB_RECIPES[size].sampler);
      const needed = neededDigits(reference);
      console.log(`quality ${size}: the shipped unet-mnist draws ${reference} digits from the lab's noise; digits appear at ${needed} of ${PROBE.count}`);
      console.log(`quality ${size}: the bare loop in Node`);
      const session = new TrainingSession(settings, split);
      const signal = new AbortController().signal;
      const bare = await qualityCurve(
        async (n) => {
          const start = performance.now();
          await session.run({ signal, onProgress: () => {}, maxSteps: n, sampleEvery: 0, lossEvery: 5 });
          return performance.now() - start;
        },
        () => session.samples(PROBE.count),
        read,
        () => BARE_PROBE_STEPS,
        opts.maxSeconds,
        needed,
      );
      session.dispose();
      console.log(`quality ${size}: in the tab`);
      await page.evaluate((s) => (window as unknown as Dl).diffusionLab.request('lab.create', { settings: s }), settings);
      const tab = await qualityCurve(
        (n) =>
          page.evaluate(async (k) => {
            const start = performance.now();
            await (window as unknown as Dl).diffusionLab.request('lab.run', { maxSteps: k, sampleEvery: 0, lossEvery: 5 });
            return performance.now() - start;
          }, n),
        async () => {
          const r = (await page.evaluate(async () => {
            const { images } = (await (window as unknown as Dl).diffusionLab.request('lab.samples', { count: 16 })) as { images: Float32Array };
            return Array.from(images);
          })) as number[];
          return Float32Array.from(r);
        },
        read,
        (rate) => (rate > 0 ? Math.max(1, Math.round(rate * opts.probeSeconds)) : 10),
        opts.maxSeconds,
        needed,
      );
      const recipe = LAB_RECIPES[size];
      out[size] = { settings, recipe, paramCount: countParams(recipe.config), reference_digits: reference, digits_needed: needed, in_tab: tab, bare };
    }
  } finally {
    clf.dispose();
  }
  return out;
}
