/**
 * Eval section `consistency`: consistency-mnist (unet-mnist distilled into a consistency model,
 * scripts/jobs/consistency-mnist.ts) at 1, 2 and 4 network evaluations, beside its teacher unet-mnist with DDIM and
 * DPM-Solver++ 2M at the same budgets, the teacher's DDIM with 10 steps and its DDPM with all 1,000.
 *
 * Protocol (the `solvers` and `flow` sections'): class-conditional (digit i conditioned on class i mod 10), batch b of
 * every row starts from x_T = makeNoise(fork(seed, b)), the same x_T for both models and every sampler; the teacher's
 * samplers run on the `spacing` timestep grid (a one-step linspace grid would start at t = 1, so such a row runs on the
 * trailing grid, t = T, and says so) with x̂₀ unclipped. The consistency model's k-step runs visit
 * consistencyTimesteps (src/core/consistency.ts), the re-noising z drawn from the same stream after x_T. Every row
 * gives MNIST-FD against the 1,000 held-out digits and the classifier's view of the samples: the share it reads with
 * confidence ≥ 0.9 (`confidentShare`), its mean confidence, and the share read as the class asked for. The DDPM-1000
 * row is taken from the `unet` section's `ddpm-1000-betaTilde` setting when it was measured on the same teacher
 * weights (CRC) with the same seed and count; otherwise it is sampled here (a long run).
 *
 * Options (--set key=value):
 *   model=models/consistency-mnist   teacher=models/unet-mnist   count=1000   batch=50   seed=1   steps=1,2,4
 *   teacherSamplers=ddim,dpmpp2m   spacing=linspace   deadline=HH:MM (UTC)   evalJson=models/eval.json
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { consistencyTimesteps } from '../../src/core/consistency';
import { consistency, samplers, type SamplerName } from '../../src/core/samplers';
import { nfeOf, SAMPLER_LABELS, stepsForNfe } from '../../src/core/samplerInfo';
import { makeSchedule } from '../../src/core/schedules';
import type { Sampler } from '../../src/core/types';
import { digitMetrics, markdownTable, readEvalJson, realDigitFloor, optionList, type DigitMetrics, type EvalContext, type EvalSection } from './common';
import { gridSpacing } from './flow';
import { classOf, conditionalRuns, deadlineOf, loadUNetFromDir } from './unet';

export const DEFAULT_STEPS = [1, 2, 4] as const;
export const DEFAULT_TEACHER_SAMPLERS: readonly SamplerName[] = ['ddim', 'dpmpp2m'];
/** The confidence a digit must reach to count as clearly readable. */
export const CONFIDENT = 0.9;
/** The reference the 2-step model is compared with: the teacher's DDIM at this many steps. */
export const REFERENCE_DDIM_STEPS = 10;

export interface ConsistencyEvalRow {
  model: 'consistency-mnist' | 'unet-mnist';
  sampler: string;
  label: string;
  nfe: number;
  steps: number;
  /** The consistency model's visited timesteps. */
  timesteps?: number[];
  /** The teacher's timestep grid. */
  spacing?: string;
  count: number;
  fd: number;
  meanConfidence?: number;
  confidentShare?: number;
  conditionAccuracy?: number;
  seconds?: number;
  /** 'computed' here, or 'unet' (the unet section's setting, same protocol and weights). */
  source: 'computed' | 'unet';
}


const metricsOf = (m: DigitMetrics) => ({ fd: m.fd, meanConfidence: m.meanConfidence, confidentShare: m.confidentShare, conditionAccuracy: m.conditionAccuracy });

const section: EvalSection = {
  name: 'consistency',
  title: 'consistency-mnist vs its teacher unet-mnist at 1, 2 and 4 network evaluations',
  async run(ctx: EvalContext) {
    const o = ctx.options;
    const resolveDir = (v: string) => (isAbsolute(v) ? v : join(ctx.root, v));
    const modelOpt = String(o.model ?? 'models/consistency-mnist');
    const teacherOpt = String(o.teacher ?? 'models/unet-mnist');
    const count = Number(o.count ?? o.samples ?? 1000);
    const batchSize = Number(o.batch ?? 50);
    const seed = Number(o.seed ?? 1);
    const spacing = String(o.spacing ?? 'linspace') as 'linspace' | 'leading' | 'trailing';
    const stepList = optionList(o.steps, DEFAULT_STEPS).map(Number);
    const teacherSamplers = optionList(o.teacherSamplers, DEFAULT_TEACHER_SAMPLERS) as SamplerName[];
    for (const n of teacherSamplers) if (!(n in samplers)) throw new Error(`unknown sampler "${n}"; known: ${Object.keys(samplers).join(', ')}`);
    const deadline = o.deadline ? deadlineOf(String(o.deadline)) : Infinity;
    const shouldStop = () => Date.now() > deadline;
    if (!existsSync(join(resolveDir(modelOpt), 'model.json'))) throw new Error(`${modelOpt}: no model.json (train consistency-mnist first, or --set model=<folder>)`);

    const cm = loadUNetFromDir(resolveDir(modelOpt));
    const teacher = loadUNetFromDir(resolveDir(teacherOpt));
    const meta = cm.metadata as unknown as { prediction?: string; consistency?: { gridSize?: number; sigmaData?: number; tMax?: number } };
    if (meta.prediction !== 'consistency' || !meta.consistency) {
      cm.unet.dispose();
      teacher.unet.dispose();
      throw new Error(`${modelOpt}: metadata.prediction is ${String(meta.prediction)}, not 'consistency'`);
    }
    const gridSize = Number(meta.consistency.gridSize);
    const sigmaData = Number(meta.consistency.sigmaData);
    const tMax = Number(meta.consistency.tMax ?? teacher.metadata.schedule.T);
    const crc = (c: number) => (c >>> 0).toString(16).padStart(8, '0');
    const cmCrc = crc(cm.weightsCrc);
    const teacherCrc = crc(teacher.weightsCrc);
    const schedule = makeSchedule(teacher.metadata.schedule.kind, teacher.metadata.schedule.T);
    const labels = Int32Array.from({ length: count }, (_, i) => classOf(i));

    const sample = conditionalRuns({ ctx, schedule, count, batchSize, seed, shouldStop });

    const rows: Record<string, ConsistencyEvalRow> = {};
    const result: Record<string, unknown> = {
      model: modelOpt,
      weightsCrc: cmCrc,
      teacher: teacherOpt,
      teacherWeightsCrc: teacherCrc,
      seed,
      batchSize,
      count,
      spacing,
      grid: (cm.metadata as unknown as { consistency: { grid?: number[] } }).consistency.grid,
      note:
        `class-conditional sampling (digit i conditioned on class i mod 10), no guidance; batch b of every row starts from x_T = makeNoise(fork(${seed}, b)), the same for both models; ` +
        `the consistency model's k-step runs visit the grid points consistencyTimesteps(k), reading x_T as x at the grid's top t_N, and re-noise with z from the same stream; the teacher's samplers run on the ${spacing} grid with x̂₀ unclipped ` +
        `(one step on linspace would start at t = 1, so those rows run on the trailing grid, t = T); confidentShare: the share of digits the classifier reads with confidence ≥ ${CONFIDENT}`,
    };
    try {
      for (const steps of stepList) {
        const timesteps = consistencyTimesteps(schedule, steps, gridSize, tMax);
        const run: Sampler = (d, xT, s, opts) => consistency(d, xT, s, { ...opts, gridSize, tMax, sigmaData });
        const r = await sample('consistency-mnist', run, cm.unet, steps, {}, `consistency-${cmCrc}-s${seed}-b${batchSize}-${timesteps.join('_')}`);
        if (r.n === 0) continue;
        const m = await digitMetrics(ctx, r.images, r.n, labels.subarray(0, r.n));
        rows[`consistency-nfe${steps}`] = { model: 'consistency-mnist', sampler: 'consistency', label: 'Consistency model', nfe: steps, steps, timesteps, count: r.n, ...metricsOf(m), seconds: r.seconds, source: 'computed' };
        ctx.log(`consistency-mnist at ${steps} steps (t = ${timesteps.join(', ')}): FD ${m.fd.toFixed(3)}, confident ${(m.confidentShare * 100).toFixed(1)} % (n = ${r.n})`);
      }
      const teacherRuns: [SamplerName, number][] = [...teacherSamplers.flatMap((s) => stepList.map((n) => [s, n] as [SamplerName, number])), ['ddim', REFERENCE_DDIM_STEPS]];
      for (const [sampler, nfe] of teacherRuns) {
        const steps = stepsForNfe(sampler, nfe, schedule.T);
        const used = nfeOf(sampler, steps, schedule.T);
        const rowSpacing = gridSpacing(schedule.T, steps, spacing);
        // The solvers section's cache key: its batches are exactly these digits.
        const r = await sample(`unet-mnist ${sampler}`, samplers[sampler], teacher.unet, steps, { spacing: rowSpacing, clipX0: false }, `solvers-${teacherCrc}-s${seed}-b${batchSize}-${rowSpacing}-${sampler}-${steps}`);
        if (r.n === 0) continue;
        const m = await digitMetrics(ctx, r.images, r.n, labels.subarray(0, r.n));
        rows[`teacher-${sampler}-nfe${used}`] = { model: 'unet-mnist', sampler, label: SAMPLER_LABELS[sampler], nfe: used, steps, spacing: rowSpacing, count: r.n, ...metricsOf(m), seconds: r.seconds, source: 'computed' };
        ctx.log(`unet-mnist ${sampler} at NFE ${used}: FD ${m.fd.toFixed(3)}, confident ${(m.confidentShare * 100).toFixed(1)} % (n = ${r.n})`);
      }
      // DDPM with all T steps: the unet section's measurement when it is of these weights, seed and count.
      const unetSection = (readEvalJson(resolveDir(String(o.evalJson ?? 'models/eval.json'))).unet ?? {}) as {
        weightsCrc?: string;
        seed?: number;
        batchSize?: number;
        mode?: string;
        settings?: Record<string, { steps: number; count: number; seconds?: number; metrics: DigitMetrics }>;
      };
      const ddpm = unetSection.settings?.['ddpm-1000-betaTilde'];
      if (ddpm && unetSection.weightsCrc === teacherCrc && Number(unetSection.seed) === seed && Number(unetSection.batchSize) === batchSize && unetSection.mode === 'cond' && ddpm.count === count) {
        rows[`teacher-ddpm-nfe${schedule.T}`] = { model: 'unet-mnist', sampler: 'ddpm', label: 'DDPM (σ² = β̃)', nfe: schedule.T, steps: schedule.T, count: ddpm.count, ...metricsOf(ddpm.metrics), seconds: ddpm.seconds, source: 'unet' };
      } else if (o.ddpm === true || o.ddpm === 'true') {
        const r = await sample('unet-mnist ddpm', samplers.ddpm, teacher.unet, schedule.T, { variance: 'betaTilde' }, `unet-${teacherCrc}-s${seed}-b${batchSize}-ddpm-betaTilde`);
        if (r.n > 0) {
          const m = await digitMetrics(ctx, r.images, r.n, labels.subarray(0, r.n));
          rows[`teacher-ddpm-nfe${schedule.T}`] = { model: 'unet-mnist', sampler: 'ddpm', label: 'DDPM (σ² = β̃)', nfe: schedule.T, steps: schedule.T, count: r.n, ...metricsOf(m), seconds: r.seconds, source: 'computed' };
        }
      } else {
        ctx.log('no DDPM-1000 row: the unet section was measured on other weights, seed or count (--set ddpm=true samples it here)');
      }
      result.rows = rows;
      result.fdFloor = await realDigitFloor(ctx, count);
      const two = rows['consistency-nfe2'];
      const ref = rows[`teacher-ddim-nfe${REFERENCE_DDIM_STEPS}`];
      const one = rows['consistency-nfe1'];
      result.targets = {
        twoStepFd: two && ref ? { value: two.fd, reference: ref.fd, met: two.fd <= ref.fd } : null,
        oneStepConfident: one?.confidentShare !== undefined ? { share: one.confidentShare, threshold: CONFIDENT, atLeast: 0.8, met: one.confidentShare >= 0.8 } : null,
      };
    } finally {
      cm.unet.dispose();
      teacher.unet.dispose();
    }
    return result;
  },
  format: (r) => consistencyTables(r),
};

/** The table: one row per model and sampler, FD and confident share per budget. */
export function consistencyTables(r: Record<string, unknown>): string {
  const rows = Object.values((r.rows ?? {}) as Record<string, ConsistencyEvalRow>);
  if (rows.length === 0) return 'no rows';
  const pct = (v: number | undefined) => (v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);
  return [
    `MNIST-FD (lower is better) and the share of digits read with confidence ≥ ${CONFIDENT}; ${[...new Set(rows.map((x) => x.count))].join(', ')} digits per row; real held-out digits score ${typeof r.fdFloor === 'number' ? r.fdFloor.toFixed(2) : '—'}:`,
    markdownTable(
      ['model', 'sampler', 'NFE', 'MNIST-FD', 'confident', 'as asked', 'grid'],
      rows.map((x) => [x.model, x.label, x.nfe, x.fd.toFixed(2), pct(x.confidentShare), pct(x.conditionAccuracy), x.timesteps ? `t = ${x.timesteps.join(', ')}` : (x.spacing ?? '')]),
    ),
  ].join('\n\n');
}

export default section;
