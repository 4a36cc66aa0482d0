/**
 * Eval section `solvers`: how fast each ODE solver converges on unet-mnist — the error-vs-NFE study of the
 * DPM-Solver++ paper (Lu et al. 2022, arXiv 2211.01095, Fig. 4 / Table 2) on our model. Every setting starts batch b
 * from the same x_T = makeNoise(fork(seed, b)) as the `unet` section; for each sampler and budget of network
 * evaluations (NFE) it records MNIST-FD against the held-out digits and the RMS distance of its x₀ to a converged
 * solution of the same probability-flow ODE from the same x_T (DPM-Solver++ 2M with `referenceSteps` steps).
 *
 * Options (--set key=value):
 *   samplers=ddim,dpmpp2m,dpmpp3m,euler,heun   nfe=5,10,20,50   samples=1000   batch=50   seed=1
 *   referenceSteps=250   spacing=linspace   model=models/unet-mnist   deadline=HH:MM (UTC; no new batch after it)
 *
 * Every sampler runs on the same timestep grid (`spacing`, diffusers' linspace by default), so at a given NFE they
 * differ only in how they step: on one grid DDIM, DPM-Solver++ 1 and Euler take identical steps.
 */
import { isAbsolute, join } from 'node:path';
import { makeSchedule } from '../../src/core/schedules';
import { samplers } from '../../src/core/samplers';
import { SAMPLER_LABELS, nfeOf, rmsDistance, stepsForNfe, type SamplerName } from '../../src/core/samplerInfo';
import { digitMetrics, markdownTable, PIXELS, realDigitFloor, type EvalContext, type EvalSection } from './common';
import { classOf, conditionalRuns, deadlineOf, loadUNetFromDir } from './unet';

export const DEFAULT_SOLVERS: readonly SamplerName[] = ['ddim', 'dpmpp2m', 'dpmpp3m', 'euler', 'heun'];
export const DEFAULT_NFE = [5, 10, 20, 50] as const;

export interface SolverRow {
  sampler: SamplerName;
  label: string;
  /** Network evaluations per digit, and the steps that cost them. */
  nfe: number;
  steps: number;
  count: number;
  fd: number;
  /** √(mean over digits and pixels of (x₀ − x₀_ref)²), pixels in [−1, 1]. */
  rmsToReference: number;
  seconds: number;
}

const list = <T extends string>(v: unknown, fallback: readonly T[]): T[] => (v === undefined ? [...fallback] : (String(v).split(',').map((s) => s.trim()).filter(Boolean) as T[]));

const section: EvalSection = {
  name: 'solvers',
  title: 'unet-mnist: distance to the converged ODE solution and MNIST-FD against network evaluations',
  async run(ctx: EvalContext) {
    const o = ctx.options;
    const dirOpt = String(o.model ?? 'models/unet-mnist');
    const dir = isAbsolute(dirOpt) ? dirOpt : join(ctx.root, dirOpt);
    const names = list<SamplerName>(o.samplers, DEFAULT_SOLVERS);
    for (const n of names) if (!(n in samplers)) throw new Error(`unknown sampler "${n}"; known: ${Object.keys(samplers).join(', ')}`);
    const budgets = list(o.nfe, DEFAULT_NFE.map(String)).map(Number);
    const count = Number(o.samples ?? 1000);
    const batchSize = Number(o.batch ?? 50);
    const seed = Number(o.seed ?? 1);
    const referenceSteps = Number(o.referenceSteps ?? 250);
    const spacing = String(o.spacing ?? 'linspace') as 'linspace' | 'leading' | 'trailing';
    const deadline = o.deadline ? deadlineOf(String(o.deadline)) : Infinity;
    const { unet, metadata, weightsCrc } = loadUNetFromDir(dir);
    const schedule = makeSchedule(metadata.schedule.kind, metadata.schedule.T);
    const crcHex = (weightsCrc >>> 0).toString(16).padStart(8, '0');
    const labels = Int32Array.from({ length: count }, (_, i) => classOf(i));
    const sample = conditionalRuns({ ctx, schedule, count, batchSize, seed, shouldStop: () => Date.now() > deadline });
    const run = (sampler: SamplerName, steps: number) =>
      sample(sampler, samplers[sampler], unet, steps, { spacing, clipX0: false }, `solvers-${crcHex}-s${seed}-b${batchSize}-${spacing}-${sampler}-${steps}`);
    try {
      const ref = await run('dpmpp2m', referenceSteps);
      if (ref.n === 0) return {};
      const refMetrics = await digitMetrics(ctx, ref.images, ref.n, labels.subarray(0, ref.n));
      const rows: Record<string, SolverRow> = {};
      for (const sampler of names) {
        for (const nfe of budgets) {
          const steps = stepsForNfe(sampler, nfe, schedule.T);
          const r = await run(sampler, steps);
          if (r.n === 0) continue;
          const m = await digitMetrics(ctx, r.images, r.n, labels.subarray(0, r.n));
          const used = nfeOf(sampler, steps);
          rows[`${sampler}-nfe${nfe}`] = { sampler, label: SAMPLER_LABELS[sampler], nfe: used, steps, count: r.n, fd: m.fd, rmsToReference: rmsDistance(r.images, ref.images, r.n * PIXELS), seconds: r.seconds };
          ctx.log(`${sampler} at NFE ${used}: FD ${m.fd.toFixed(3)}, RMS to the reference ${rows[`${sampler}-nfe${nfe}`].rmsToReference.toFixed(4)}`);
        }
      }
      return {
        model: dirOpt,
        weightsCrc: crcHex,
        seed,
        spacing,
        note: `class-conditional sampling (digit i conditioned on class i mod 10), the same x_T per batch as the unet section; every solver on the ${spacing} timestep grid, x̂₀ not clipped, so all integrate the same ODE`,
        reference: { sampler: 'dpmpp2m', label: SAMPLER_LABELS.dpmpp2m, steps: referenceSteps, count: ref.n, fd: refMetrics.fd, seconds: ref.seconds },
        fdFloor: await realDigitFloor(ctx, ref.n),
        rows,
      };
    } finally {
      unet.dispose();
    }
  },
  format: (r) => solverTables(r),
};

/** Two tables, distance and FD, one row per sampler and one column per NFE budget. */
export function solverTables(r: Record<string, unknown>): string {
  const rows = Object.values((r.rows ?? {}) as Record<string, SolverRow>);
  if (rows.length === 0) return '(no solver rows)';
  const names = [...new Set(rows.map((x) => x.sampler))];
  const budgets = [...new Set(rows.map((x) => x.nfe))].sort((a, b) => a - b);
  const cell = (s: SamplerName, nfe: number, f: (x: SolverRow) => string) => {
    const x = rows.find((y) => y.sampler === s && y.nfe === nfe);
    return x ? f(x) : '—';
  };
  const ref = r.reference as { label: string; steps: number; fd: number } | undefined;
  return [
    `RMS distance of x₀ to the converged solution (${ref ? `${ref.label}, ${ref.steps} steps` : 'reference'}), by NFE:`,
    markdownTable(['sampler', ...budgets.map(String)], names.map((s) => [SAMPLER_LABELS[s], ...budgets.map((b) => cell(s, b, (x) => x.rmsToReference.toFixed(4)))])),
    '',
    `MNIST-FD by NFE (the converged solution: ${ref ? ref.fd.toFixed(2) : '—'}):`,
    markdownTable(['sampler', ...budgets.map(String)], names.map((s) => [SAMPLER_LABELS[s], ...budgets.map((b) => cell(s, b, (x) => x.fd.toFixed(2)))])),
  ].join('\n');
}

export default section;
