/**
 * Eval section `flow`: flow-mnist (the unet-mnist network trained by flow matching on the straight path,
 * scripts/jobs/flow-mnist.ts) against unet-mnist by number of network evaluations (NFE), and how straight the two
 * models' ODE trajectories are.
 *
 * 1. MNIST-FD (against the 1,000 held-out digits) of flow-mnist with Euler at NFE 1, 2, 5, 10, 20, 50 and Heun at
 *    NFE 3, 5, 9, 19 (N steps cost 2N − 1), beside unet-mnist's DDIM and DPM-Solver++ 2M at NFE 1, 2, 5, 10, 20, 50.
 *    The protocol is the `solvers` section's: class-conditional (digit i conditioned on class i mod 10), batch b of
 *    every setting starts from x_T = makeNoise(fork(seed, b)) (the same x_T for both models and every sampler), the
 *    diffusion samplers on the `spacing` timestep grid with x̂₀ unclipped. Diffusion rows are taken from
 *    models/eval.json's `solvers` rows when one was measured on the same unet-mnist weights (CRC), seed, spacing and
 *    digit count (the solvers section's default batch of 50 assumed); the others (NFE 1 and 2 at least) are sampled
 *    here, sharing the solvers section's sample cache (.cache/eval/solvers-…), so the two sections never disagree.
 * 2. Path straightness (src/core/flowMetrics.ts pathStraightness: path length over endpoint distance, minus 1) of
 *    the first `straightCount` digits' trajectories with `straightSteps` steps from the same x_T:
 *    - flow-mnist with Euler, every state x_s recorded (s = 1, 1 − 1/N, …, 0), already on the straight path;
 *    - unet-mnist with DDIM (η = 0), every state x_t recorded and mapped onto the straight path by
 *      straightTimeOfAlphaBar(ᾱ_t): x_t·scale with scale = 1/(√ᾱ_t + √(1 − ᾱ_t)), which turns the VP path
 *      √ᾱ x₀ + √(1 − ᾱ) ε into (1 − s)x₀ + sε (s = √(1 − ᾱ)/(√ᾱ + √(1 − ᾱ))). Both are thus measured in the same
 *      coordinates, from (about) the noise x_T to the digit; the measure does not depend on the clock (s or t), only
 *      on the points. The raw x_t path (unmapped, whose scale shrinks from ≈ 1 to the data's) is recorded too
 *      (`diffusionRaw`), to show how much of its curvature is the VP path's scaling alone.
 *
 * Options (--set key=value):
 *   model=models/flow-mnist   unet=models/unet-mnist   count=1000 (alias samples)   batch=50   seed=1
 *   eulerNfe=1,2,5,10,20,50   heunNfe=3,5,9,19   diffusionNfe=1,2,5,10,20,50   diffusionSamplers=ddim,dpmpp2m
 *   spacing=linspace   straightCount=200   straightSteps=50   parts=fd,straightness   deadline=HH:MM (UTC)
 *   evalJson=models/eval.json (read for the solvers rows to reuse; the result goes where --out says)
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { straightTimeOfAlphaBar } from '../../src/core/flow';
import { pathStraightness } from '../../src/core/flowMetrics';
import { fork, makeNoise } from '../../src/core/noise';
import { samplers, spacedTimesteps, type Spacing } from '../../src/core/samplers';
import { FLOW_SAMPLER_LABELS, flowNfe, flowSamplers, type FlowSamplerName } from '../../src/core/samplers/flow';
import { SAMPLER_LABELS, nfeOf, stepsForNfe, type SamplerName } from '../../src/core/samplerInfo';
import { makeSchedule } from '../../src/core/schedules';
import type { Denoiser, Sampler, Schedule, StepInfo } from '../../src/core/types';
import { digitMetrics, markdownTable, PIXELS, readEvalJson, realDigitFloor, optionList, type EvalContext, type EvalSection } from './common';
import type { SolverRow } from './solvers';
import { batchDenoiser, classOf, conditionalRuns, deadlineOf, loadUNetFromDir } from './unet';

export const DEFAULT_EULER_NFE = [1, 2, 5, 10, 20, 50] as const;
export const DEFAULT_HEUN_NFE = [3, 5, 9, 19] as const;
export const DEFAULT_DIFFUSION_NFE = [1, 2, 5, 10, 20, 50] as const;
export const DEFAULT_DIFFUSION_SAMPLERS: readonly SamplerName[] = ['ddim', 'dpmpp2m'];

export interface FlowEvalRow {
  model: 'flow-mnist' | 'unet-mnist';
  sampler: string;
  label: string;
  nfe: number;
  steps: number;
  /** The diffusion samplers' timestep grid (absent on flow rows). */
  spacing?: string;
  count: number;
  fd: number;
  /** Share classified as the class they were conditioned on (absent on rows reused from `solvers`). */
  conditionAccuracy?: number;
  seconds: number;
  /** 'computed' here, or 'solvers' (the row of eval.json's solvers section, same protocol). */
  source: 'computed' | 'solvers';
}

/** A flow sampler in the `Sampler` signature sampleMany calls (the schedule and noise are unused: the flow ODE is deterministic). */
export function flowAsSampler(name: FlowSamplerName): Sampler {
  return (denoiser, xT, _schedule, opts) => flowSamplers[name](denoiser, xT, { steps: opts.steps ?? 1, onStep: opts.onStep, signal: opts.signal });
}

/** Steps of a flow sampler that cost at most `nfe` evaluations (Heun: 2N − 1). */
export function flowStepsForNfe(name: FlowSamplerName, nfe: number): number {
  return Math.max(1, name === 'heun' ? Math.floor((nfe + 1) / 2) : Math.floor(nfe));
}

/**
 * The timestep grid of a diffusion row: `spacing`, unless its first timestep is not T. diffusers' linspace with one
 * step is t = 1 (np.linspace(0, T − 1, 1) + 1), which would read pure noise as an almost clean image; such a row runs
 * on the trailing grid (t = T) instead, and says so.
 */
export function gridSpacing(T: number, steps: number, spacing: Spacing): Spacing {
  return spacedTimesteps(T, steps, spacing)[0] === T ? spacing : 'trailing';
}


/**
 * Record the trajectories of the first `count` digits (batches of `batchSize` from makeNoise(fork(seed, b)), as
 * sampleMany draws x_T): frames[k] holds every digit's k-th state and times[k] the sampler's label of that state
 * (x_T at the first step's t, then each step's tPrev).
 */
export async function recordPaths(o: {
  count: number;
  batchSize: number;
  seed: number;
  denoiser: (b: number, size: number) => Denoiser;
  run: (denoiser: Denoiser, xT: tf.Tensor4D, onStep: (info: StepInfo) => Promise<void>, noise: ReturnType<typeof makeNoise>) => Promise<tf.Tensor4D>;
  shouldStop?: () => boolean;
  onBatch?: (done: number, total: number) => void;
}): Promise<{ frames: Float32Array[]; times: number[]; count: number }> {
  let frames: Float32Array[] = [];
  let times: number[] = [];
  let done = 0;
  for (let b = 0; done < o.count; b++) {
    if (o.shouldStop?.()) break;
    const size = Math.min(o.batchSize, o.count - done);
    const noise = makeNoise(fork(o.seed, b));
    const xT = noise.normal([size, 28, 28, 1]) as tf.Tensor4D;
    const start = Float32Array.from(await xT.data());
    const batch: Float32Array[] = [];
    const labels: number[] = [];
    try {
      const x0 = await o.run(
        o.denoiser(b, size),
        xT,
        async (info) => {
          if (info.index === 0) {
            batch.push(start);
            labels.push(info.t);
          }
          batch.push(Float32Array.from(await info.x.data()));
          labels.push(info.tPrev);
        },
        noise,
      );
      x0.dispose();
    } finally {
      xT.dispose();
    }
    if (frames.length === 0) {
      frames = batch.map(() => new Float32Array(o.count * PIXELS));
      times = labels;
    }
    if (labels.join() !== times.join()) throw new Error(`batch ${b} visited the times ${labels.join(', ')}, the first ${times.join(', ')}`);
    batch.forEach((f, k) => frames[k].set(f, done * PIXELS));
    done += size;
    o.onBatch?.(done, o.count);
  }
  return { frames: frames.map((f) => f.subarray(0, done * PIXELS)), times, count: done };
}

/** The diffusion states mapped onto the straight path: x_t·scale(ᾱ_t) (ᾱ_0 = 1). */
export function straightMap(schedule: Schedule): (values: Float32Array, t: number) => Float32Array {
  return (values, t) => {
    const { scale } = straightTimeOfAlphaBar(schedule.alphaBar[t]);
    return values.map((v) => v * scale);
  };
}

const section: EvalSection = {
  name: 'flow',
  title: 'flow-mnist vs unet-mnist: MNIST-FD by network evaluations, and how straight the ODE paths are',
  async run(ctx: EvalContext) {
    const o = ctx.options;
    const resolveDir = (v: string) => (isAbsolute(v) ? v : join(ctx.root, v));
    const flowOpt = String(o.model ?? 'models/flow-mnist');
    const unetOpt = String(o.unet ?? 'models/unet-mnist');
    const count = Number(o.count ?? o.samples ?? 1000);
    const batchSize = Number(o.batch ?? 50);
    const seed = Number(o.seed ?? 1);
    const spacing = String(o.spacing ?? 'linspace') as Spacing;
    const eulerNfe = optionList(o.eulerNfe, DEFAULT_EULER_NFE).map(Number);
    const heunNfe = optionList(o.heunNfe, DEFAULT_HEUN_NFE).map(Number);
    const diffusionNfe = optionList(o.diffusionNfe, DEFAULT_DIFFUSION_NFE).map(Number);
    const diffusionSamplers = optionList(o.diffusionSamplers, DEFAULT_DIFFUSION_SAMPLERS) as SamplerName[];
    for (const n of diffusionSamplers) if (!(n in samplers)) throw new Error(`unknown sampler "${n}"; known: ${Object.keys(samplers).join(', ')}`);
    const straightCount = Number(o.straightCount ?? 200);
    const straightSteps = Number(o.straightSteps ?? 50);
    const parts = new Set(optionList(o.parts, ['fd', 'straightness']));
    const deadline = o.deadline ? deadlineOf(String(o.deadline)) : Infinity;
    const shouldStop = () => Date.now() > deadline;
    if (!existsSync(join(resolveDir(flowOpt), 'model.json'))) throw new Error(`${flowOpt}: no model.json (train flow-mnist first, or --set model=<folder>)`);

    const flow = loadUNetFromDir(resolveDir(flowOpt));
    const diff = loadUNetFromDir(resolveDir(unetOpt));
    const prediction = (flow.metadata as unknown as { prediction?: string }).prediction;
    if (prediction !== 'velocity') {
      flow.unet.dispose();
      diff.unet.dispose();
      throw new Error(`${flowOpt}: metadata.prediction is ${String(prediction)}, not 'velocity' (not a flow model)`);
    }
    const crc = (c: number) => (c >>> 0).toString(16).padStart(8, '0');
    const flowCrc = crc(flow.weightsCrc);
    const unetCrc = crc(diff.weightsCrc);
    const schedule = makeSchedule(diff.metadata.schedule.kind, diff.metadata.schedule.T);
    const labels = Int32Array.from({ length: count }, (_, i) => classOf(i));

    const sample = conditionalRuns({ ctx, schedule, count, batchSize, seed, shouldStop });

    const rows: Record<string, FlowEvalRow> = {};
    const result: Record<string, unknown> = {
      model: flowOpt,
      weightsCrc: flowCrc,
      unetModel: unetOpt,
      unetWeightsCrc: unetCrc,
      seed,
      batchSize,
      spacing,
      note:
        `class-conditional sampling (digit i conditioned on class i mod 10); batch b of every row starts from x_T = makeNoise(fork(${seed}, b)), the same for both models (the solvers section's protocol); ` +
        `flow-mnist integrates dx/ds = v from s = 1 to 0 on the uniform grid, unet-mnist's samplers run on the ${spacing} timestep grid with x̂₀ unclipped ` +
        `(a budget whose ${spacing} grid does not start at t = T, i.e. linspace with one step, t = 1, runs on the trailing grid, t = T; its row says so)`,
    };
    try {
      if (parts.has('fd')) {
        const flowSettings: [FlowSamplerName, number][] = [...eulerNfe.map((n) => ['euler', n] as [FlowSamplerName, number]), ...heunNfe.map((n) => ['heun', n] as [FlowSamplerName, number])];
        for (const [name, nfe] of flowSettings) {
          const steps = flowStepsForNfe(name, nfe);
          const r = await sample(`flow ${name}`, flowAsSampler(name), flow.unet, steps, {}, `flow-${flowCrc}-s${seed}-b${batchSize}-${name}-${steps}`);
          if (r.n === 0) continue;
          const m = await digitMetrics(ctx, r.images, r.n, labels.subarray(0, r.n));
          const used = flowNfe(name, steps);
          rows[`flow-${name}-nfe${used}`] = { model: 'flow-mnist', sampler: name, label: FLOW_SAMPLER_LABELS[name], nfe: used, steps, count: r.n, fd: m.fd, conditionAccuracy: m.conditionAccuracy, seconds: r.seconds, source: 'computed' };
          ctx.log(`flow-mnist ${name} at NFE ${used}: FD ${m.fd.toFixed(3)} (n = ${r.n})`);
        }
        // Rows the solvers section measured with this very protocol.
        const evalJson = resolveDir(String(o.evalJson ?? 'models/eval.json'));
        const solvers = (readEvalJson(evalJson).solvers ?? {}) as { weightsCrc?: string; seed?: number; spacing?: string; rows?: Record<string, SolverRow> };
        const reusable = solvers.weightsCrc === unetCrc && Number(solvers.seed) === seed && solvers.spacing === spacing && batchSize === 50;
        for (const sampler of diffusionSamplers) {
          for (const nfe of diffusionNfe) {
            const steps = stepsForNfe(sampler, nfe, schedule.T);
            const used = nfeOf(sampler, steps, schedule.T);
            const rowSpacing = gridSpacing(schedule.T, steps, spacing);
            const old = reusable && rowSpacing === spacing ? solvers.rows?.[`${sampler}-nfe${nfe}`] : undefined;
            if (old && old.count === count && old.steps === steps) {
              rows[`unet-${sampler}-nfe${used}`] = { model: 'unet-mnist', sampler, label: SAMPLER_LABELS[sampler], nfe: used, steps, spacing, count: old.count, fd: old.fd, seconds: old.seconds, source: 'solvers' };
              continue;
            }
            // The solvers section's cache key: its batches are exactly these digits.
            const r = await sample(`unet-mnist ${sampler}`, samplers[sampler], diff.unet, steps, { spacing: rowSpacing, clipX0: false }, `solvers-${unetCrc}-s${seed}-b${batchSize}-${rowSpacing}-${sampler}-${steps}`);
            if (r.n === 0) continue;
            const m = await digitMetrics(ctx, r.images, r.n, labels.subarray(0, r.n));
            rows[`unet-${sampler}-nfe${used}`] = { model: 'unet-mnist', sampler, label: SAMPLER_LABELS[sampler], nfe: used, steps, spacing: rowSpacing, count: r.n, fd: m.fd, conditionAccuracy: m.conditionAccuracy, seconds: r.seconds, source: 'computed' };
            ctx.log(`unet-mnist ${sampler} at NFE ${used}: FD ${m.fd.toFixed(3)} (n = ${r.n})`);
          }
        }
        result.rows = rows;
        const counts = new Set(Object.values(rows).map((r) => r.count));
        result.fdFloor = Object.fromEntries(await Promise.all([...counts].map(async (n) => [String(n), await realDigitFloor(ctx, n)] as const)));
      }
      if (parts.has('straightness') && straightCount > 0) {
        const t0 = performance.now();
        const flowPaths = await recordPaths({
          count: straightCount,
          batchSize,
          seed,
          denoiser: batchDenoiser(flow.unet, 'cond', batchSize),
          run: (d, xT, onStep) => flowSamplers.euler(d, xT, { steps: straightSteps, onStep }),
          shouldStop,
          onBatch: (done, total) => ctx.log(`straightness, flow-mnist Euler ${straightSteps} steps: ${done}/${total} paths`),
        });
        const flowSeconds = (performance.now() - t0) / 1000;
        const t1 = performance.now();
        const toStraight = straightMap(schedule);
        const diffRaw = await recordPaths({
          count: straightCount,
          batchSize,
          seed,
          denoiser: batchDenoiser(diff.unet, 'cond', batchSize),
          run: (d, xT, onStep, noise) => samplers.ddim(d, xT, schedule, { steps: straightSteps, eta: 0, spacing, clipX0: false, noise, onStep }),
          shouldStop,
          onBatch: (done, total) => ctx.log(`straightness, unet-mnist DDIM ${straightSteps} steps: ${done}/${total} paths`),
        });
        const diffSeconds = (performance.now() - t1) / 1000;
        // One run gives both measures: the raw states, and the same states mapped onto the straight path.
        const frameTimes = diffRaw.times;
        const diffStraight = diffRaw.frames.map((f, k) => toStraight(f, frameTimes[k]));
        const n = Math.min(flowPaths.count, diffRaw.count);
        result.straightness = {
          count: n,
          steps: straightSteps,
          flow: n > 0 ? pathStraightness(flowPaths.frames, n, PIXELS) : null,
          diffusion: n > 0 ? pathStraightness(diffStraight, n, PIXELS) : null,
          diffusionRaw: n > 0 ? pathStraightness(diffRaw.frames, n, PIXELS) : null,
          flowSampler: `Euler, ${straightSteps} steps (s = 1, 1 − 1/${straightSteps}, …, 0)`,
          diffusionSampler: `DDIM η = 0, ${straightSteps} steps, ${spacing} grid (t = ${frameTimes[0]} … 0)`,
          seconds: { flow: flowSeconds, diffusion: diffSeconds },
          note:
            'mean over digits of (path length / distance between its ends) − 1, every state of the run recorded; the diffusion states x_t are mapped onto the straight path as x_t/(√ᾱ_t + √(1 − ᾱ_t)) (straightTimeOfAlphaBar), so both models are measured in the same coordinates; diffusionRaw: the unmapped x_t',
        };
        ctx.log(`straightness (n = ${n}, ${straightSteps} steps): flow ${(result.straightness as { flow: number }).flow?.toFixed(4)}, diffusion ${(result.straightness as { diffusion: number }).diffusion?.toFixed(4)}`);
      }
    } finally {
      flow.unet.dispose();
      diff.unet.dispose();
    }
    return result;
  },
  format: (r) => flowTables(r),
};

/** The FD-by-NFE table (one row per model and sampler, one column per NFE) and the straightness table. */
export function flowTables(r: Record<string, unknown>): string {
  const out: string[] = [];
  const rows = Object.values((r.rows ?? {}) as Record<string, FlowEvalRow>);
  if (rows.length > 0) {
    const budgets = [...new Set(rows.map((x) => x.nfe))].sort((a, b) => a - b);
    const groups = [...new Set(rows.map((x) => `${x.model}|${x.sampler}`))];
    const counts = [...new Set(rows.map((x) => x.count))];
    out.push(
      `MNIST-FD by network evaluations (NFE), ${counts.length === 1 ? `${counts[0]} digits per cell` : `digits per cell: ${counts.join(', ')}`}; the same x_T and classes for every cell:`,
      markdownTable(
        ['model', 'sampler', ...budgets.map(String)],
        groups.map((g) => {
          const [model, sampler] = g.split('|');
          const mine = rows.filter((x) => x.model === model && x.sampler === sampler);
          return [model, mine[0].label, ...budgets.map((b) => {
            const x = mine.find((y) => y.nfe === b);
            return x ? `${x.fd.toFixed(2)}${x.source === 'solvers' ? '*' : ''}${x.spacing !== undefined && x.spacing !== r.spacing ? ` (${x.spacing})` : ''}` : '—';
          })];
        }),
      ),
    );
    const floors = (r.fdFloor ?? {}) as Record<string, number>;
    const reused = rows.some((x) => x.source === 'solvers');
    out.push(
      '',
      `${reused ? '* from the solvers section (same weights, seed, grid and digits). ' : ''}Real training digits score ${Object.entries(floors).map(([n, v]) => `${v.toFixed(2)} at n = ${n}`).join(', ') || '—'} (the FD floor). ${String(r.note ?? '')}.`,
    );
  }
  const s = r.straightness as { count: number; steps: number; flow: number | null; diffusion: number | null; diffusionRaw: number | null; flowSampler: string; diffusionSampler: string; note: string } | undefined;
  if (s) {
    const f = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(2)} %`);
    out.push(
      '',
      `Path straightness (extra length over the straight segment from x_T to the digit), ${s.count} digits:`,
      markdownTable(['model', 'sampler', 'coordinates', 'straightness'], [
        ['flow-mnist', s.flowSampler, 'x_s (straight path)', f(s.flow)],
        ['unet-mnist', s.diffusionSampler, 'x_t/(√ᾱ_t + √(1 − ᾱ_t)) (straight path)', f(s.diffusion)],
        ['unet-mnist', s.diffusionSampler, 'x_t (VP path, unmapped)', f(s.diffusionRaw)],
      ]),
      '',
      s.note + '.',
    );
  }
  return out.length ? out.join('\n') : '(no flow rows)';
}

export default section;
