/**
 * Benchmarks, one section each; results go to bench/results/<section>.json and a table to stdout.
 *
 *   npm run bench                      all sections
 *   npm run bench -- core              only the `core` section
 *   npm run bench -- lab               the training lab in the browser vs bare Node (needs `npm run build`)
 *   npm run bench -- widgets           first DDIM-50, guidance and prompt-lab grids in the browser (needs `npm run build`)
 *   npm run bench -- threads           the compute worker on wasm: one thread vs the threaded binary, in headless Chromium (needs `npm run build`)
 *   npm run bench -- parallel          unet-mnist training on one thread vs the batch split over two (--steps=100 --repeats=3)
 *   npm run bench -- peer              unet-mnist forward and training step vs PyTorch on CPU, one thread each (--rounds=5 --repeats=3 [--baseline=<checkout>] [--profile])
 *   npm run bench -- webgpu            the lab's training step and a DDIM-50 grid on a real WebGPU adapter vs wasm (needs `npm run build`; skips on a software adapter)
 *   npm run bench -- core --batch=8 --repeats=7 --skip-cpu --channels=32,32,64 --cpu-batch=8 --no-write
 *
 * Section `core`: the default MNIST U-Net at batch 32, 28×28: one forward pass and one Adam training step,
 * on wasm (with the custom kernels; warm-up, then the median of 9 interleaved runs — single runs vary by ±15 % on
 * these shared hosts even when the machine itself is idle) and on the stock cpu
 * backend (no warm-up, a single timed run of each). cpu's naive Conv2DBackpropFilter makes one batch-32
 * step take ~15 minutes on 2 shared cores, so by default cpu runs at `--cpu-batch=4` and its times are
 * scaled linearly to the wasm batch (cpu kernels loop over the batch; the JSON records both);
 * `--cpu-batch=32` measures the real thing.
 *
 * Section `parallel`: the unet-mnist training job as `npm run train` runs it (its shipped configuration and batch),
 * with the batch on one thread and split over two (scripts/lib/parallel.ts): fresh runs of `--steps` steps each,
 * alternating, the median of `--repeats`; the thread start-up is outside the timing, the first step inside.
 * Add a section by adding an entry to SECTIONS.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { enableTfjsCoreEsm } from './lib/tfjsNode';

// Must precede importing src/core/train.ts (it registers tfjs-core's gradients from its ESM dist).
enableTfjsCoreEsm();
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('../src/core/backends');
const { createUNet, MNIST_UNET_CONFIG } = await import('../src/core/unet');
const { createTrainer } = await import('../src/core/train');
const { makeRng } = await import('../src/core/noise');
const { makeSchedule } = await import('../src/core/schedules');

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench', 'results');

/** Every option a section reads (node:util parseArgs refuses any other). */
const OPTIONS = {
  steps: { type: 'string' },
  repeats: { type: 'string' },
  rounds: { type: 'string' },
  batch: { type: 'string' },
  size: { type: 'string' },
  quality: { type: 'string' },
  'max-seconds': { type: 'string' },
  channels: { type: 'string' },
  'cpu-batch': { type: 'string' },
  'skip-cpu': { type: 'boolean' },
  'no-write': { type: 'boolean' },
  baseline: { type: 'string' },
  profile: { type: 'boolean' },
  threads: { type: 'string' },
} as const;

type Args = Partial<Record<keyof typeof OPTIONS, string | boolean>>;

interface Section {
  description: string;
  run(args: Args): Promise<Record<string, unknown>>;
}

interface QualitySummary {
  seconds_to_digits: number | null;
  steps_to_digits: number | null;
  steps_per_second: number;
}

/** `--quality=tiny,small` (the default) or `--quality=none`. */
function qualityPresets(v: string | boolean | undefined): ('tiny' | 'small')[] {
  if (v === undefined || typeof v === 'boolean') return ['tiny', 'small'];
  if (v === 'none') return [];
  const names = v.split(',');
  for (const n of names) if (n !== 'tiny' && n !== 'small') throw new Error(`--quality lists presets (tiny, small) or none, got ${n}`);
  return names as ('tiny' | 'small')[];
}

function numberArg(args: Args, name: keyof typeof OPTIONS, fallback: number): number {
  const v = args[name];
  if (v === undefined || typeof v === 'boolean') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Timing {
  /** Wall-clock ms. */
  wall: number;
  /** This process's CPU ms (user + system): steadier than wall time when other jobs share the cores. */
  cpu: number;
}

/** Wall and process CPU time of one async call, in ms. */
async function timeOnce(f: () => Promise<void>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

function machine() {
  return {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    loadAverage1m: os.loadavg()[0],
    tfjs: tf.version_core,
  };
}

/** U-Net forward and training step timings on one backend. */
async function benchUNet(backend: 'wasm' | 'cpu', opts: { batch: number; repeats: number; warmup: number; channels?: number[] }) {
  await initBackend({ order: [backend] });
  const config = { ...MNIST_UNET_CONFIG, channels: opts.channels ?? MNIST_UNET_CONFIG.channels };
  const unet = createUNet(config, 1);
  const schedule = makeSchedule('linear', 1000);
  const trainer = createTrainer(unet, { schedule, rng: makeRng(2) });
  const n = opts.batch;
  const dataRng = makeRng(3);
  const x0 = tf.tensor4d(Float32Array.from({ length: n * 784 }, () => 2 * dataRng.uniform() - 1), [n, 28, 28, 1]);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  const t = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => 1 + ((i * 37) % 1000)), 'int32');
  const classes = tf.tensor1d(labels, 'int32');
  const forward = async () => {
    const y = unet.model(x0, t, classes);
    await y.data();
    y.dispose();
  };
  const step = async () => {
    const loss = trainer.step(x0, labels);
    await loss.data();
    loss.dispose();
  };
  for (let i = 0; i < opts.warmup; i++) await forward();
  // The first training step also creates Adam's moment variables: keep it out of the timings when warming up.
  if (opts.warmup > 0) await step();
  const fwd: Timing[] = [];
  const train: Timing[] = [];
  for (let i = 0; i < opts.repeats; i++) {
    fwd.push(await timeOnce(forward));
    train.push(await timeOnce(step));
  }
  const result = {
    forward: fwd.map((x) => x.wall),
    train: train.map((x) => x.wall),
    forwardCpu: fwd.map((x) => x.cpu),
    trainCpu: train.map((x) => x.cpu),
    paramCount: unet.paramCount(),
    config,
  };
  trainer.dispose();
  unet.dispose();
  tf.dispose([x0, t, classes]);
  return result;
}

/** unet-mnist training throughput (examples/s) with its batch on `threads` threads, one fresh run of `steps` steps. */
async function benchTrainingRun(data: import('../src/core/data').MnistData, threads: number, steps: number, scratch: string): Promise<{ ms: number; batch: number }> {
  const { runTraining } = await import('./lib/trainer');
  const job = (await import('./jobs/unet-mnist')).default;
  const r = await runTraining({
    job,
    data,
    backend: 'wasm',
    checkpointDir: join(scratch, `threads-${threads}`),
    outDir: null,
    fresh: true,
    jobModule: pathToFileURL(join(ROOT, 'scripts', 'jobs', 'unet-mnist.ts')).href,
    overrides: { steps, threads, checkpointEvery: steps, logEvery: steps },
  });
  return { ms: r.elapsedMs, batch: r.config.batchSize };
}

const SECTIONS: Record<string, Section> = {
  webgpu: {
    description: 'the training lab step and a DDIM-50 grid on WebGPU vs wasm in headless Chromium (skips without a hardware adapter)',
    async run(args) {
      const { benchWebGpu } = await import('./bench/webgpu');
      return benchWebGpu(ROOT, { steps: numberArg(args, 'steps', 20), rounds: numberArg(args, 'rounds', 3) });
    },
  },
  peer: {
    description: 'unet-mnist forward pass and training step: our wasm engine vs PyTorch on CPU, one thread each (needs python3-torch)',
    async run(args) {
      const { benchPeer } = await import('./bench/peer');
      const baseline = typeof args.baseline === 'string' ? args.baseline : undefined;
      return benchPeer(ROOT, { rounds: numberArg(args, 'rounds', 5), repeats: numberArg(args, 'repeats', 3), baseline, profile: args.profile === true });
    },
  },
  parallel: {
    description: 'unet-mnist training steps with the batch on one thread vs split over two (data parallelism)',
    async run(args) {
      await initBackend({ order: ['wasm'] });
      const steps = numberArg(args, 'steps', 100);
      const repeats = numberArg(args, 'repeats', 3);
      const { decodeMnistFile } = await import('../src/core/data');
      const { DATA_FILE, prepareData } = await import('./prepare-data');
      prepareData();
      const data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)), DATA_FILE);
      const scratch = mkdtempSync(join(os.tmpdir(), 'bench-parallel-'));
      const times: Record<'1' | '2', number[]> = { '1': [], '2': [] };
      let batch = 0;
      try {
        for (let i = 0; i < repeats; i++) {
          for (const threads of [1, 2] as const) {
            const r = await benchTrainingRun(data, threads, steps, scratch);
            times[threads].push(r.ms / steps);
            batch = r.batch;
          }
        }
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
      const ms = { one_thread: median(times['1']), two_threads: median(times['2']) };
      const speedup = ms.one_thread / ms.two_threads;
      console.log(
        table([
          ['batch', 'one thread ms/step', 'two threads ms/step', 'speed-up', 'examples/s (two threads)'],
          [String(batch), ms.one_thread.toFixed(1), ms.two_threads.toFixed(1), `${speedup.toFixed(2)}×`, ((batch * 1000) / ms.two_threads).toFixed(0)],
        ]),
      );
      console.log(`load average (1 min) at the end: ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`);
      return {
        description: this.description,
        machine: machine(),
        batch,
        steps,
        ms_per_step: ms,
        ratios: { two_threads_speedup: speedup },
        samples_ms_per_step: times,
        method: `fresh runs of ${steps} steps (unet-mnist defaults, wasm), one thread and two alternating, median of ${repeats}; helper start-up excluded, the first step included`,
      };
    },
  },
  widgets: {
    description: 'time to the first DDIM-50 and DPM-Solver++ 2M-20 grids, the first guidance grid, the prompt lab\'s first grid and the ControlNet lab\'s first grid after a hint change in headless Chromium on wasm',
    async run(args) {
      const { benchWidgets } = await import('./bench/widgets');
      const result = await benchWidgets(ROOT, numberArg(args, 'rounds', 3));
      console.log(
        table([
          ['first DDIM-50 grid of 16', 'first DPM-Solver++ 2M-20 grid', 'DDIM-50 inside the race', 'first guidance grid of 16', 'first prompt-lab grid of 16', 'ControlNet grid of 8 after a hint change'],
          [result.first_ddim50_grid_ms, result.first_dpmpp20_grid_ms, result.first_ddim50_in_race_ms, result.first_guidance_grid_ms, result.first_prompt_grid_ms, result.first_controlnet_grid_ms].map(
            (v) => `${(v as number).toFixed(0)} ms`,
          ),
        ]),
      );
      return { description: this.description, machine: machine(), ...result };
    },
  },
  threads: {
    description: 'the compute worker on wasm in headless Chromium: one thread (page not cross-origin isolated) vs the threaded binary (isolated): training lab steps/s, a forward pass, a DDIM-50 grid (needs `npm run build`)',
    async run(args) {
      const { benchThreads } = await import('./bench/threads');
      const result = await benchThreads({ root: ROOT, steps: numberArg(args, 'steps', 30), rounds: numberArg(args, 'rounds', 5), batch: numberArg(args, 'batch', 32), threads: numberArg(args, 'threads', 2) });
      const fwd = result.forward_ms as { one_thread: number; threads: number };
      const ddim = result.ddim50_grid16_ms as { one_thread: number; threads: number };
      console.log(
        table([
          ['', '1 thread', `${result.threads} threads`, 'ratio'],
          ['training lab steps/s', (result.steps_per_s_1_thread as number).toFixed(2), (result[`steps_per_s_${result.threads}_threads`] as number).toFixed(2), `${(result.train_ratio as number).toFixed(2)}×`],
          [`forward pass, batch ${result.batch} (ms)`, fwd.one_thread.toFixed(0), fwd.threads.toFixed(0), `${(result.forward_ratio as number).toFixed(2)}×`],
          ['DDIM-50 grid of 16 (ms)', ddim.one_thread.toFixed(0), ddim.threads.toFixed(0), `${(result.ddim_ratio as number).toFixed(2)}×`],
        ]),
      );
      console.log(`load average (1 min) at the end: ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`);
      return { description: this.description, machine: machine(), ...result };
    },
  },
  lab: {
    description: 'the training lab in headless Chromium on wasm vs the bare Node training step (same model and batch)',
    async run(args) {
      const { benchLab } = await import('./bench/lab');
      const size = args.size === 'small' ? 'small' : 'tiny';
      const result = await benchLab(tf, {
        root: ROOT,
        size,
        batch: numberArg(args, 'batch', (await import('../src/workers/api')).REQUESTS['lab.create'].batchSize.default),
        steps: numberArg(args, 'steps', 30),
        rounds: numberArg(args, 'rounds', 3),
        quality: qualityPresets(args.quality),
        probeSeconds: 10,
        maxSeconds: numberArg(args, 'max-seconds', 300),
        writeDigits: !args['no-write'],
      });
      console.log(
        table([
          ['model', 'batch', 'bare ms/step', 'in-tab ms/step', 'in_tab_overhead', 'longest main-thread task'],
          [
            `${size} (${result.paramCount})`,
            String(result.batch),
            (result.bare_ms_per_step as number).toFixed(1),
            (result.in_tab_ms_per_step as number).toFixed(1),
            `${((result.in_tab_overhead as number) * 100).toFixed(1)} %`,
            `${(result.main_thread_longest_task_ms as number).toFixed(0)} ms`,
          ],
        ]),
      );
      const fmtS = (v: unknown) => (typeof v === 'number' ? `${v.toFixed(0)} s` : 'not within the limit');
      const rows = Object.entries(result.quality as Record<string, { paramCount: number; in_tab: QualitySummary; bare: QualitySummary }>).map(([name, q]) => [
        `${name} (${q.paramCount})`,
        fmtS(q.in_tab.seconds_to_digits),
        String(q.in_tab.steps_to_digits ?? '—'),
        q.in_tab.steps_per_second.toFixed(2),
        fmtS(q.bare.seconds_to_digits),
        String(q.bare.steps_to_digits ?? '—'),
        q.bare.steps_per_second.toFixed(2),
      ]);
      if (rows.length > 0) console.log(table([['preset', 'in-tab seconds_to_digits', 'steps', 'steps/s', 'bare seconds_to_digits', 'steps', 'steps/s'], ...rows]));
      return { description: this.description, machine: machine(), ...result };
    },
  },
  core: {
    description: 'U-Net forward pass and Adam training step: wasm (custom kernels) vs stock cpu',
    async run(args) {
      const batch = numberArg(args, 'batch', 32);
      const repeats = numberArg(args, 'repeats', 9);
      const channels = typeof args.channels === 'string' ? args.channels.split(',').map(Number) : undefined;
      const wasm = await benchUNet('wasm', { batch, repeats, warmup: 2, channels });
      const forward_ms: Record<string, number> = { wasm: median(wasm.forward) };
      const train_step_ms: Record<string, number> = { wasm: median(wasm.train) };
      const cpu_time_ms = { forward: { wasm: median(wasm.forwardCpu) } as Record<string, number>, train_step: { wasm: median(wasm.trainCpu) } as Record<string, number> };
      let cpu: Awaited<ReturnType<typeof benchUNet>> | null = null;
      const cpuBatch = Math.min(batch, numberArg(args, 'cpu-batch', 4));
      if (!args['skip-cpu']) {
        console.log(`cpu: one timed forward, then one timed training step at batch ${cpuBatch} (minutes)…`);
        cpu = await benchUNet('cpu', { batch: cpuBatch, repeats: 1, warmup: 0, channels });
        forward_ms.cpu = (cpu.forward[0] * batch) / cpuBatch;
        train_step_ms.cpu = (cpu.train[0] * batch) / cpuBatch;
        cpu_time_ms.forward.cpu = (cpu.forwardCpu[0] * batch) / cpuBatch;
        cpu_time_ms.train_step.cpu = (cpu.trainCpu[0] * batch) / cpuBatch;
      }
      const ratios: Record<string, number> = {
        wasm_train_over_forward: train_step_ms.wasm / forward_ms.wasm,
        wasm_train_over_forward_cpu_time: cpu_time_ms.train_step.wasm / cpu_time_ms.forward.wasm,
      };
      if (cpu) {
        ratios.cpu_over_wasm_train_speedup = train_step_ms.cpu / train_step_ms.wasm;
        ratios.cpu_over_wasm_forward_speedup = forward_ms.cpu / forward_ms.wasm;
      }
      const rows = [['backend', 'forward ms', 'train step ms', 'train/forward', 'forward cpu-ms', 'train cpu-ms', 'train/forward (cpu time)']];
      for (const b of Object.keys(forward_ms)) {
        const [fc, tc] = [cpu_time_ms.forward[b], cpu_time_ms.train_step[b]];
        rows.push([b, forward_ms[b].toFixed(1), train_step_ms[b].toFixed(1), (train_step_ms[b] / forward_ms[b]).toFixed(2), fc.toFixed(1), tc.toFixed(1), (tc / fc).toFixed(2)]);
      }
      console.log(`\nU-Net ${JSON.stringify(wasm.config.channels)}, ${wasm.paramCount} parameters, batch ${batch}, 28×28×1`);
      console.log(table(rows));
      console.log(`load average (1 min) at the end: ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`);
      if (cpu) {
        if (cpuBatch !== batch) console.log(`(cpu measured at batch ${cpuBatch}, scaled linearly to ${batch})`);
        console.log(`cpu/wasm training speed-up: ${ratios.cpu_over_wasm_train_speedup.toFixed(0)}×`);
      }
      return {
        description: this.description,
        machine: machine(),
        batch,
        paramCount: wasm.paramCount,
        config: wasm.config,
        forward_ms,
        train_step_ms,
        cpu_time_ms,
        ratios,
        targets: {
          wasm_train_over_forward_max: 3.5,
          cpu_over_wasm_train_speedup_min: 100,
          met: {
            train_over_forward: ratios.wasm_train_over_forward <= 3.5,
            speedup: cpu ? ratios.cpu_over_wasm_train_speedup >= 100 : null,
          },
        },
        samples_ms: {
          wasm: { batch, forward: wasm.forward, train: wasm.train, forwardCpu: wasm.forwardCpu, trainCpu: wasm.trainCpu },
          ...(cpu ? { cpu: { batch: cpuBatch, forward: cpu.forward, train: cpu.train, forwardCpu: cpu.forwardCpu, trainCpu: cpu.trainCpu } } : {}),
        },
        method:
          `wasm: 2 warm-up forwards + 1 warm-up step, then the median of ${repeats} alternating forward/step runs; ` +
          `cpu: one run each, no warm-up (forward first)` +
          (cpu && cpuBatch !== batch ? `, measured at batch ${cpuBatch} and scaled ×${batch / cpuBatch} to batch ${batch}` : ''),
      };
    },
  },
};

let parsed: { positionals: string[]; values: Args };
try {
  parsed = parseArgs({ args: process.argv.slice(2), options: OPTIONS, allowPositionals: true });
} catch (e) {
  console.error(`${(e as Error).message}; options: ${Object.keys(OPTIONS).map((k) => `--${k}`).join(', ')}`);
  process.exit(2);
}
const { positionals: sections, values: args } = parsed;
const chosen = sections.length > 0 ? sections : Object.keys(SECTIONS);
for (const name of chosen) {
  if (!(name in SECTIONS)) {
    console.error(`unknown section '${name}'; known: ${Object.keys(SECTIONS).join(', ')}`);
    process.exit(2);
  }
}
mkdirSync(RESULTS_DIR, { recursive: true });
for (const name of chosen) {
  console.log(`== ${name}: ${SECTIONS[name].description}`);
  const result = await SECTIONS[name].run(args);
  const file = join(RESULTS_DIR, `${name}.json`);
  if (!args['no-write']) {
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${file}`);
  }
}
