/**
 * Training job `consistency-mnist`: consistency distillation (Song et al. 2023, Algorithm 2; src/core/consistency.ts)
 * of unet-mnist. The student is the unet-mnist network read through f = c_skip·y + c_out·F (F from its ε̂), initialised
 * with the teacher's weights; each step draws a digit, a grid index n and ε, puts the digit at the upper grid point
 * t_{n+1}, lets the frozen teacher take one Heun step of the probability-flow ODE to t_n, and pulls the student's
 * f(x_{t_{n+1}}) towards the target network's f(x̂_{t_n}) (pseudo-Huber distance). The target network is an EMA of the
 * student (decay μ); a second, slower EMA is what ships. Same data, class conditioning (with the teacher's label
 * dropout) and two-thread data parallelism as unet-mnist; each thread gets the target weights with its shard.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  CONSISTENCY_GRID_SIZE,
  CONSISTENCY_T_MAX,
  consistencyDistance,
  consistencyFunction,
  consistencyGrid,
  consistencySigmaMin,
  distillationLoss,
  distillationTarget,
  drawDistillation,
  pseudoHuberC,
  type DistillationDraws,
  type DistillationOptions,
  type PairWeighting,
  type TeacherSolver,
} from '../../src/core/consistency';
import { batchTensor, labelsOf, MNIST_PIXELS, range, type MnistData } from '../../src/core/data';
import { conditioned } from '../../src/core/guidance';
import { assignWeights } from '../../src/core/io';
import { encodePixels } from '../../src/core/mnistFormat';
import { makeNoise } from '../../src/core/noise';
import { consistency } from '../../src/core/samplers';
import { makeSchedule } from '../../src/core/schedules';
import type { Schedule } from '../../src/core/types';
import { countUNetParams, createUNet, type UNet } from '../../src/core/unet';
import type { ConsistencyEvalRow } from '../eval/consistency';
import type { JobContext, JobModel, Shard, TrainConfig, TrainJob } from '../lib/job';
import { assignFlat, splitShard } from '../lib/parallel';
import { emaShadow, loadUNetDir, ROOT, warmupCosine } from './_latent';
import unetJob, { unetConfigOf } from './unet-mnist';

/** Load the frozen teacher (a unet-mnist folder), refusing a model that does not predict ε. */
export function loadTeacher(dir: string): { unet: UNet; schedule: Schedule } {
  const { unet, schedule, metadata } = loadUNetDir(dir);
  if (metadata.prediction !== undefined && metadata.prediction !== 'eps') {
    unet.dispose();
    throw new Error(`${join(dir, 'model.json')}: the teacher must be an ε-prediction model`);
  }
  return { unet, schedule };
}

/** Grid indices of the held-out probe (0-based n: the pair t_{n+1} → t_n of the grid). */
export const PROBE_INDICES = [0, 3, 6, 9, 10] as const;

/**
 * Held-out consistency gap at fixed grid indices with fixed ε: the distance between the model's f at the upper point
 * and its own f one teacher step lower (the model as its own target: 0 for a perfectly self-consistent model).
 */
export async function heldOutConsistencyGap(
  student: UNet,
  teacher: UNet,
  data: MnistData,
  opts: DistillationOptions,
  count = 200,
  indices: readonly number[] = PROBE_INDICES,
): Promise<number[]> {
  const idx = range(count);
  const x0 = batchTensor(data.test, idx);
  const classes = student.config.numClasses > 0 ? Int32Array.from(labelsOf(data.test, idx)) : undefined;
  const eps = makeNoise(4242).normalArray(count * MNIST_PIXELS);
  const out: number[] = [];
  for (const k of indices) {
    const draws: DistillationDraws = { index: new Int32Array(count).fill(k), eps, classes };
    const l = tf.tidy(() => {
      const { xUpper, tUpper, target } = distillationTarget(student.model, teacher.model, x0, draws, opts);
      return consistencyDistance(consistencyFunction(student.model, xUpper, tUpper, opts.schedule, classes, opts.sigmaData), target, opts.distance!);
    });
    out.push((await l.data())[0]);
    l.dispose();
  }
  x0.dispose();
  return out;
}

/** The measured table from models/eval.json's `consistency` section, when it has been written (`npm run eval -- consistency`). */
function measuredRows(): string[] {
  const file = join(ROOT, 'models', 'eval.json');
  if (!existsSync(file)) return [];
  const section = (JSON.parse(readFileSync(file, 'utf8')) as { consistency?: { rows?: Record<string, ConsistencyEvalRow>; fdFloor?: number } }).consistency;
  const rows = Object.values(section?.rows ?? {});
  if (rows.length === 0) return [];
  const pct = (v: number | undefined) => (v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);
  return [
    '## Measured samples',
    '',
    `From \`models/eval.json\` (\`consistency\`): ${rows[0].count} class-conditional digits per row, every row from the same noise x_T, MNIST-FD against the 1,000 held-out digits (real digits score ${section?.fdFloor?.toFixed(2) ?? '—'} at this n) and the share the classifier reads with confidence ≥ 0.9.`,
    '',
    '| model | sampler | network evaluations | MNIST-FD | confident ≥ 0.9 | read as the class asked for |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.model} | ${r.label}${r.timesteps ? ` (t = ${r.timesteps.join(', ')})` : r.spacing ? ` (${r.spacing} grid)` : ''} | ${r.nfe} | ${r.fd.toFixed(2)} | ${pct(r.confidentShare)} | ${pct(r.conditionAccuracy)} |`),
    '',
    'A blurred class average can be read with high confidence as some digit without being the digit asked for (the teacher’s one-step rows), so the confident share is read together with the FD and the last column.',
    '',
  ];
}

const distillationOf = (config: TrainConfig, schedule: Schedule): DistillationOptions => ({
  grid: consistencyGrid(schedule, Number(config.options.gridSize), Number(config.options.tMax ?? schedule.T)),
  schedule,
  solver: String(config.options.solver) as TeacherSolver,
  distance: { kind: 'pseudoHuber', c: pseudoHuberC(MNIST_PIXELS) },
  sigmaData: Number(config.options.sigmaData),
  weighting: String(config.options.weighting ?? 'uniform') as PairWeighting,
});

const job: TrainJob = {
  name: 'consistency-mnist',
  title: 'MNIST consistency model: unet-mnist distilled for one- and few-step sampling',
  summary:
    'A consistency model (Song et al. 2023) distilled from the digit diffusion model unet-mnist: the same U-Net, read as f(x, σ) = c_skip(σ)·x + c_out(σ)·F(x, σ), trained so that every point of a probability-flow ODE trajectory maps to the same clean digit. One network evaluation turns Gaussian noise into a digit; a few more (denoise, re-noise to a lower level, denoise again) refine it. It starts from the same Gaussian noise x_T as the diffusion model and takes the same class condition.',
  data: unetJob.data,
  architecture: (config) =>
    [
      unetJob.architecture(config).replace("{ name: 'unet-mnist', config, schedule: { kind: 'linear', T: 1000 } }", "{ name: 'consistency-mnist', config, schedule: { kind: 'linear', T: 1000 }, prediction: 'consistency', consistency: { gridSize, tMax, sigmaData, sigmaMin, grid } }"),
      '',
      `The network is read through the consistency parameterisation of \`src/core/consistency.ts\`: f(y, σ) = c_skip(σ)·y + c_out(σ)·F(y, σ) in the scaled state y = x_t/√ᾱ_t with σ = √((1 − ᾱ_t)/ᾱ_t), c_skip = σ_d²/((σ − σ_min)² + σ_d²), c_out = σ_d(σ − σ_min)/√(σ_d² + σ²), σ_d = ${config.options.sigmaData} (Song et al. 2023, Appendix C), and F = (σy/√(σ² + σ_d²) − √(σ² + σ_d²)·ε̂)/σ_d, the preconditioned output that turns the network's ε̂ into EDM's denoiser y − σε̂ (Karras et al. 2022). At σ_min = σ(t = 1) = ${consistencySigmaMin(makeSchedule('linear', 1000)).toFixed(5)}, f(y, σ_min) = y exactly.`,
      '',
      `Distillation (Song et al. 2023, Algorithm 2): an N = ${config.options.gridSize}-point grid of integer timesteps, t_1 = 1 < … < t_N = ${config.options.tMax ?? 1000}, the Karras ρ = 7 spacing of σ between σ(1) and σ(${config.options.tMax ?? 1000}) snapped to integers (\`consistencyGrid\`: ${consistencyGrid(makeSchedule('linear', 1000), Number(config.options.gridSize), Number(config.options.tMax ?? 1000)).join(', ')}). Teacher: unet-mnist (frozen, class-conditional without guidance), one ${config.options.solver === 'heun' ? 'Heun (2 evaluations)' : 'Euler/DDIM'} step of dy/dσ = ε̂ from t_{n+1} to t_n. Target: an EMA of the student with decay μ = ${config.options.targetDecay}, no gradient. Distance: pseudo-Huber √(‖a − b‖² + c²) − c over the 784 pixels, c = 0.00054·√784 = ${pseudoHuberC(MNIST_PIXELS).toFixed(4)} (Song & Dhariwal 2023), ${(config.options.weighting ?? 'uniform') === 'inverseGap' ? 'each pair weighted by λ = 1/(σ_{n+1} − σ_n), normalised to mean 1 over the grid (Song & Dhariwal 2023)' : 'λ = 1 for every pair'}. The student and the target start as the teacher's weights. Labels are dropped to ∅ with probability ${config.options.pUncond} (the teacher's rate, so the null class keeps working); Adam with warm-up and cosine decay to ${config.options.finalLrFraction} of the peak, global-norm clipping at ${config.options.clipNorm}; the shipped weights are a second EMA of the student, decay ${config.options.emaDecay}; each batch of ${config.batchSize} split over ${config.threads ?? 1} threads.`,
    ].join('\n'),
  defaults: {
    steps: 4000,
    batchSize: 64,
    threads: 2,
    learningRate: 6e-4,
    seed: 25,
    checkpointEvery: 250,
    logEvery: 25,
    options: {
      ...unetJob.defaults.options,
      teacher: 'models/unet-mnist',
      gridSize: CONSISTENCY_GRID_SIZE,
      tMax: CONSISTENCY_T_MAX,
      weighting: 'inverseGap',
      solver: 'heun',
      sigmaData: 0.5,
      targetDecay: 0.95,
      emaDecay: 0.999,
      warmupSteps: 100,
      finalLrFraction: 0.1,
      probeCount: 200,
    },
  },
  quantize: 'float16',
  learningRate: (step, config) => warmupCosine(step, config.steps, config.learningRate, Number(config.options.warmupSteps), Number(config.options.finalLrFraction)),
  evaluationRows(summary, config) {
    const cfg = unetConfigOf(config);
    const grid = consistencyGrid(makeSchedule('linear', 1000), Number(config.options.gridSize), Number(config.options.tMax ?? 1000));
    return [
      ...PROBE_INDICES.map((k) => ({
        metric: `held-out consistency gap, t = ${grid[k + 1]} → ${grid[k]}`,
        value: summary[`heldOutGap_n${k}`],
        note: `pseudo-Huber distance between f at t = ${grid[k + 1]} and f one teacher step lower; ${config.options.probeCount} held-out digits, fixed ε (the teacher's own gap: ${summary[`teacherGap_n${k}`]?.toFixed(4) ?? '—'})`,
      })),
      { metric: 'parameters', value: countUNetParams(cfg), note: `${((countUNetParams(cfg) * 2) / 1024).toFixed(0)} KiB as float16 (the teacher's network)` },
    ];
  },
  notes: () =>
    [
      ...measuredRows(),
      '## What was tried',
      '',
      '- **The teacher’s own ODE solution on the grid.** Consistency distillation teaches the student the end point of the teacher’s Heun chain over the grid, so the grid bounds the quality it can reach. That chain alone (x_T → t_N → … → t_1 by `teacherStep`, 300 class-conditional digits from the eval’s x_T, MNIST-FD against the held-out digits; real digits score 7.94 at this n), by grid size N and top t_N: N = 8, 12, 18 from t_N = 1000: 14.28, 10.31, 10.33 with Heun (Euler, i.e. DDIM: 24.03, 16.45, 13.04); N = 12 from t_N = 850: 11.11; from t_N = 750: 14.12 (N = 10: 13.89). Starting lower reads x_T as a less noisy state than it is, which costs the teacher a little.',
      '- **An 18-point grid up to t = 1000 at a peak learning rate of 2 × 10⁻⁴ (Song et al.’s CIFAR-10 grid), stopped after 750 steps.** Its EMA weights at n = 300: one step 1,582, two steps 91.5, four steps 41.5 (the teacher’s DDIM with 10 steps: 15.3 at the same n). The student had learned the low noise levels, but its one-step output was still almost the teacher’s blurred one-step average.',
      '- **A 12-point grid up to t = 1000 at 6 × 10⁻⁴, every pair weighted alike, stopped after 1,000 steps.** Two and four steps improved quickly (EMA at 750 steps: 42.0 and 22.9; at 1,000: 39.8 and 25.1), one step did not (1,927, then 1,901), and the raw weights’ one-step digits were far worse than the average’s (10,551 at 750 steps). The top of the grid was the obstacle: read off an ε-network, f moves by σ for every unit of ε̂, about 157 at t = 1000, so the noisiest pairs dominated every gradient and their answers jumped with every step. The shipped run therefore stops the grid at t = 800 (σ ≈ 25) and weights each pair by the inverse of its σ gap.',
      '- **Not tried here: consistency training without a teacher, and progressive distillation.** Each needs a training run of its own; distilling the diffusion model that already exists was the more direct route to one step.',
      '',
      '## How it is used',
      '',
      "`loadUNet('/models/consistency-mnist/')` (src/core/models.ts) loads the network; `consistency(conditioned(unet.model, classes), xT, schedule, { steps, noise, gridSize, tMax, sigmaData })` (src/core/samplers/consistency.ts, Song et al. 2023 Algorithm 1), with the last three from model.json's `consistency`, draws digits from noise x_T in `steps` network evaluations; the first evaluation reads x_T as the state at the grid's top t_N. The network's raw output is an ε-like quantity; only `consistencyOutput` (src/core/consistency.ts) turns it into the model's answer. MNIST-FD and classifier confidence at 1, 2 and 4 steps, beside the teacher's samplers at the same number of evaluations, are in `models/eval.json` (`npm run eval -- consistency`).",
    ].join('\n'),
  samplesCaption: () => 'One network evaluation per digit, from the shipped EMA weights (float16), seed 2024: row r is conditioned on digit r (rows 0–7).',
  async create(ctx: JobContext): Promise<JobModel> {
    const { config, data, rng } = ctx;
    const cfg = unetConfigOf(config);
    const { unet: teacher, schedule } = loadTeacher(resolve(ROOT, String(config.options.teacher)));
    const student = createUNet(cfg, config.seed);
    const targetNet = createUNet(cfg, config.seed);
    const teacherWeights = Object.fromEntries([...teacher.params].map(([k, v]) => [k, { shape: v.shape, data: v.dataSync() as Float32Array }]));
    const params: Record<string, tf.Variable> = Object.fromEntries(student.params);
    const targetParams: Record<string, tf.Variable> = Object.fromEntries(targetNet.params);
    assignWeights(params, teacherWeights, 'consistency-mnist student init');
    assignWeights(targetParams, teacherWeights, 'consistency-mnist target init');
    const keys = Object.keys(params);
    const targetVars = keys.map((k) => targetParams[k]);
    const pUncond = Number(config.options.pUncond);
    const clipNorm = Number(config.options.clipNorm);
    const mu = Number(config.options.targetDecay);
    const ema = emaShadow(params, Number(config.options.emaDecay));
    const opts = distillationOf(config, schedule);
    const n = config.batchSize;

    const draw = (): Shard => {
      const idx = new Int32Array(n);
      for (let i = 0; i < n; i++) idx[i] = rng.uniformInt(data.train.count);
      const d = drawDistillation(rng, [n, 28, 28, 1], opts.grid.length, cfg.numClasses > 0 ? labelsOf(data.train, idx) : undefined, cfg.numClasses, pUncond);
      return { idx, index: d.index, classes: d.classes, eps: d.eps };
    };
    const targetFlat = (): Float32Array => {
      const out = new Float32Array(targetVars.reduce((s, v) => s + v.size, 0));
      let at = 0;
      for (const v of targetVars) {
        out.set(v.dataSync() as Float32Array, at);
        at += v.size;
      }
      return out;
    };
    const shardLoss = (sh: Shard): tf.Scalar => {
      if (sh.target !== undefined) assignFlat(targetVars, sh.target as Float32Array);
      const x0 = batchTensor(data.train, sh.idx as Int32Array);
      const draws: DistillationDraws = { index: sh.index as Int32Array, eps: sh.eps as Float32Array, classes: sh.classes as Int32Array | undefined };
      const l = distillationLoss(student.model, targetNet.model, teacher.model, x0, draws, opts);
      x0.dispose();
      return l;
    };
    const updateTarget = () =>
      tf.tidy(() => {
        for (const k of keys) targetParams[k].assign(tf.add(tf.mul(targetParams[k], mu), tf.mul(params[k], 1 - mu)));
      });
    return {
      params,
      extraState: { ...ema.extraState, ...Object.fromEntries(keys.map((k) => [`target/${k}`, targetParams[k]])) },
      metadata: () => ({
        name: 'consistency-mnist',
        config: cfg,
        schedule: { kind: 'linear', T: schedule.T },
        prediction: 'consistency',
        consistency: {
          gridSize: opts.grid.length,
          tMax: opts.grid[opts.grid.length - 1],
          sigmaData: opts.sigmaData,
          sigmaMin: consistencySigmaMin(schedule),
          grid: opts.grid,
          parameterisation: 'f = c_skip(sigma) y + c_out(sigma) F, y = x_t / sqrt(alphaBar_t), F = (sigma y / sqrt(sigma^2 + sd^2) - sqrt(sigma^2 + sd^2) eps_net) / sd (src/core/consistency.ts)',
        },
        teacher: 'unet-mnist',
        input: '[N, 28, 28, 1] float32 in [-1, 1], NHWC',
        weights: `EMA of the student's weights (decay ${config.options.emaDecay})`,
        nullClass: cfg.numClasses > 0 ? cfg.numClasses : null,
        pUncond: cfg.numClasses > 0 ? pUncond : 0,
      }),
      loss: () => shardLoss(draw()),
      trainStep(step, optimizer) {
        const l = optimizer.minimize(() => shardLoss(draw()), { clipNorm });
        updateTarget();
        ema.update(step);
        return l;
      },
      sharded: {
        draw,
        split: (d, parts) => {
          const target = targetFlat();
          return splitShard(d, parts, n).map((s) => ({ ...s, target }));
        },
        loss: shardLoss,
        stepOptions: { clipNorm },
        afterStep: (step) => {
          updateTarget();
          ema.update(step);
        },
      },
      exportWeights: () => ema.exportWeights('consistency-mnist export'),
      async evaluate() {
        const count = Number(config.options.probeCount ?? 200);
        const gap = await heldOutConsistencyGap(student, teacher, data, opts, count);
        const teacherGap = await heldOutConsistencyGap(teacher, teacher, data, opts, count);
        const summary: Record<string, number> = Object.fromEntries([
          ...PROBE_INDICES.map((k, i) => [`heldOutGap_n${k}`, gap[i]]),
          ...PROBE_INDICES.map((k, i) => [`teacherGap_n${k}`, teacherGap[i]]),
        ]);
        return { rows: job.evaluationRows!(summary, config), summary };
      },
      async samples() {
        const count = 64;
        const xT = makeNoise(2024).normal([count, 28, 28, 1]) as tf.Tensor4D;
        const labels = Array.from({ length: count }, (_, i) => Math.floor(i / 8) % 10);
        const x0 = await consistency(conditioned(student.model, labels), xT, schedule, { steps: 1, noise: makeNoise(2025), gridSize: opts.grid.length, tMax: opts.grid[opts.grid.length - 1], sigmaData: opts.sigmaData });
        const pixels = encodePixels(await x0.data());
        x0.dispose();
        xT.dispose();
        return { images: pixels, count, height: 28, width: 28, cols: 8, scale: 2, caption: job.samplesCaption!(config) };
      },
      dispose() {
        student.dispose();
        targetNet.dispose();
        teacher.dispose();
        ema.dispose();
      },
    };
  },
};

export default job;
