/**
 * Multistep consistency sampling (Song et al. 2023, arXiv 2303.01469, Algorithm 1) for a consistency model whose
 * network is an ε-network read through src/core/consistency.ts (f = a·y + b·ε̂):
 *
 *   x̂₀ = f(x_T, T);  for each next τ on the grid:  y_τ = x̂₀ + √(σ_τ² − σ_min²)·z,  x̂₀ = f(y_τ, τ)
 *
 * One network evaluation a step. The state it carries and reports is x_t (the VP state, y_τ/√(1+σ_τ²)), like every
 * other sampler, so it runs from the same x_T and through the same Denoiser wrappers (conditioning, guidance). With
 * one step it is deterministic; each further step draws one z from opts.noise. The run ends on x̂₀ (f's estimate at
 * σ_min = σ(1), the grid's boundary). The timesteps are `consistencyTimesteps` of the model's grid unless given.
 */
import * as tf from '@tensorflow/tfjs-core';
import { consistencyOutput, consistencySigmaMin, consistencyTimesteps, CONSISTENCY_GRID_SIZE, CONSISTENCY_SIGMA_DATA } from '../consistency';
import type { Denoiser, Sampler, SampleOptions, Schedule } from '../types';
import { callDenoiser, runLoop, type StepLabel } from './common';
import { sigmaOf } from './karras';

export interface ConsistencySampleOptions extends SampleOptions {
  /** The model's grid size N (model.json `consistency.gridSize`). */
  gridSize?: number;
  /** The grid's top timestep t_N (model.json `consistency.tMax`; default T): a run starts there, reading x_T as x_{t_N}. */
  tMax?: number;
  /** σ_d of the model (model.json `consistency.sigmaData`). */
  sigmaData?: number;
  /** Explicit descending timesteps (each in 2…T) instead of the grid's evenly spaced ones. */
  timesteps?: readonly number[];
}

/** The timesteps a run visits, checked. */
export function consistencyRunTimesteps(schedule: Schedule, opts: Pick<ConsistencySampleOptions, 'steps' | 'gridSize' | 'timesteps' | 'tMax'>): number[] {
  if (opts.timesteps !== undefined) {
    const ts = [...opts.timesteps];
    if (ts.length === 0) throw new RangeError('a consistency run needs at least one timestep');
    ts.forEach((t, i) => {
      if (!Number.isInteger(t) || t < 2 || t > schedule.T) throw new RangeError(`timestep ${t} is not an integer in 2…${schedule.T}`);
      if (i > 0 && !(t < ts[i - 1])) throw new RangeError('consistency timesteps must decrease');
    });
    return ts;
  }
  return consistencyTimesteps(schedule, opts.steps ?? 1, opts.gridSize ?? CONSISTENCY_GRID_SIZE, opts.tMax ?? schedule.T);
}

/** Song et al. 2023, Algorithm 1 (multistep consistency sampling). */
export const consistency = async (denoiser: Denoiser, xT: tf.Tensor4D, schedule: Schedule, opts: ConsistencySampleOptions): Promise<tf.Tensor4D> => {
  const ts = consistencyRunTimesteps(schedule, opts);
  if (ts.length > 1 && opts.noise === undefined) throw new TypeError('opts.noise is required for more than one step (randomness is an argument)');
  const sigmaMin = consistencySigmaMin(schedule);
  const sigmaData = opts.sigmaData ?? CONSISTENCY_SIGMA_DATA;
  const labels: StepLabel[] = ts.map((t, i) => ({ t, tPrev: i + 1 < ts.length ? ts[i + 1] : 0 }));
  return runLoop(
    xT,
    labels,
    (x, index) => {
      const { t, tPrev } = labels[index];
      const eps = callDenoiser(denoiser, x, t);
      const x0Pred = consistencyOutput(x, eps, schedule, new Array<number>(x.shape[0]).fill(t), sigmaData);
      if (tPrev === 0) return { x: tf.clone(x0Pred), x0Pred, eps };
      const sigma = sigmaOf(schedule, tPrev);
      const z = opts.noise.normal(x.shape);
      // y_τ = x̂₀ + √(σ_τ² − σ_min²) z, carried as x_τ = y_τ/√(1+σ_τ²)
      const next = tf.div(tf.add(x0Pred, tf.mul(z, Math.sqrt(sigma * sigma - sigmaMin * sigmaMin))), Math.sqrt(1 + sigma * sigma)) as tf.Tensor4D;
      return { x: next, x0Pred, eps };
    },
    opts,
  );
};

export const CONSISTENCY_SAMPLER_NAMES = ['consistency'] as const;
export type ConsistencySamplerName = (typeof CONSISTENCY_SAMPLER_NAMES)[number];
export const CONSISTENCY_SAMPLER_LABELS: Record<ConsistencySamplerName, string> = { consistency: 'Consistency (multistep)' };

/** The registry of samplers for consistency models (one network evaluation a step). */
export const consistencySamplers = { consistency } as const satisfies Record<ConsistencySamplerName, Sampler>;
