/**
 * DDIM sampling (Song et al. 2021, eq. 12) over a subsequence of 1 … T, any η ≥ 0.
 *
 * | name     | symbol                                                    | equation                 |
 * |----------|-----------------------------------------------------------|--------------------------|
 * | `t`,`tPrev` | t → t′ (consecutive visited timesteps; t′ = 0 last)    | §4.2                     |
 * | `x0Pred` | x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t                             | eq. 12, "predicted x_0"  |
 * | `sigma`  | σ = η √((1−ᾱ_t′)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_t′)                 | eq. 16                   |
 * | update   | x_t′ = √ᾱ_t′ x̂_0 + √(1−ᾱ_t′−σ²) ε̂ + σ z                   | eq. 12                   |
 *
 * Defaults: steps = min(50, T), η = 0, spacing 'leading', stepsOffset = 0, finalAlphaBarOne = true, clipX0 = false.
 * These are Song et al.'s own settings (their code never clips x̂_0); diffusers' DDIMScheduler shares them but
 * defaults to `clip_sample = True`. Spacings ('leading', 'trailing', 'linspace', and `stepsOffset` for 'leading')
 * are diffusers' grids shifted by +1 to our t (see spacing.ts). Each step goes to the next visited timestep (where
 * steps does not divide T, and always with 'linspace', diffusers instead uses t − ⌊T/steps⌋). After the last
 * visited timestep t′ = 0 with ᾱ = 1 if finalAlphaBarOne, else ᾱ_1 (diffusers `set_alpha_to_one = false`: the last
 * step then lands on x_1, and is the identity when the last visited t is 1).
 * Clipping (clipX0) comes in two rules. 'recompute' (ours, the default): clip x̂_0 to [−1, 1] and re-derive ε̂ from
 * it, (x_t − √ᾱ_t x̂_0)/√(1−ᾱ_t) (GLIDE; diffusers' step(…, use_clipped_model_output = True)), so the update stays
 * the mean of q_σ(x_t′ | x_t, x̂_0) and η = 1 over all steps still equals DDPM with σ² = β̃ and clipping. 'keepEps'
 * (diffusers' default, clip_sample = True, use_clipped_model_output = False): clip x̂_0 but keep the network's
 * unclipped ε̂ in the direction term √(1−ᾱ_t′−σ²) ε̂, so the two parts of the update no longer describe one x_0.
 * Without clipping the two agree. If η > 1 makes 1 − ᾱ_t′ − σ² negative, the ε̂ term is 0.
 * Noise z is drawn from opts.noise exactly when σ > 0 (never when η = 0, nor on a step to ᾱ = 1).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Sampler, Schedule } from '../types';
import { runSampler, type StepResult, type Transition } from './common';
import { spacedTimesteps, type Spacing } from './spacing';

export type DdimSpacing = Spacing;

/** How clipping treats ε̂: re-derived from the clipped x̂_0 (ours) or the network's own (diffusers' default). */
export type ClipRule = 'recompute' | 'keepEps';

export const DDIM_DEFAULT_STEPS = 50;

/** The visited timesteps in sampling order (descending, each in 1…T), as diffusers' spacings shifted by +1. */
export function ddimTimesteps(T: number, steps: number, spacing: DdimSpacing = 'leading', stepsOffset = 0): number[] {
  return spacedTimesteps(T, steps, spacing, stepsOffset);
}

/** ᾱ at the target timestep: ᾱ_t′, or at t′ = 0 either 1 (finalAlphaBarOne) or ᾱ_1 (diffusers `set_alpha_to_one`). */
export function ddimAlphaBarPrev(schedule: Schedule, tPrev: number, finalAlphaBarOne = true): number {
  if (tPrev === 0) return finalAlphaBarOne ? 1 : schedule.alphaBar[1];
  return schedule.alphaBar[tPrev];
}

/** σ = η √((1−ᾱ_t′)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_t′) (Song et al. 2021, eq. 16). */
export function ddimSigma(alphaBarT: number, alphaBarPrev: number, eta: number): number {
  if (eta === 0) return 0;
  return eta * Math.sqrt((1 - alphaBarPrev) / (1 - alphaBarT)) * Math.sqrt(Math.max(0, 1 - alphaBarT / alphaBarPrev));
}

export interface DdimStepOptions {
  eta?: number;
  clipX0?: boolean;
  finalAlphaBarOne?: boolean;
  /** With clipX0: re-derive ε̂ from the clipped x̂_0 ('recompute', default) or keep the network's ε̂ ('keepEps'). */
  clipRule?: ClipRule;
  /** Standard normal noise shaped like x; required exactly when σ > 0. */
  z?: tf.Tensor4D | null;
}

/** One DDIM step x_t → x_t′ (Song et al. 2021, eq. 12). New tensors, caller disposes. */
export function ddimStep(
  x: tf.Tensor4D,
  eps: tf.Tensor4D,
  schedule: Schedule,
  t: number,
  tPrev: number,
  opts: DdimStepOptions = {},
): StepResult {
  if (!Number.isInteger(t) || t < 1 || t > schedule.T)
    throw new RangeError(`DDIM step needs t in 1…${schedule.T}, got ${t}`);
  if (!Number.isInteger(tPrev) || tPrev < 0 || tPrev >= t)
    throw new RangeError(`DDIM step needs tPrev in 0…${t - 1}, got ${tPrev}`);
  const { eta = 0, clipX0 = false, finalAlphaBarOne = true, clipRule = 'recompute', z = null } = opts;
  if (!(eta >= 0) || !Number.isFinite(eta)) throw new RangeError(`η must be a finite number ≥ 0, got ${eta}`);
  if (clipRule !== 'recompute' && clipRule !== 'keepEps') throw new RangeError(`unknown clipRule ${String(clipRule)}`);
  const abT = schedule.alphaBar[t];
  const abPrev = ddimAlphaBarPrev(schedule, tPrev, finalAlphaBarOne);
  const sigma = ddimSigma(abT, abPrev, eta);
  if (sigma > 0 && z === null) throw new TypeError(`DDIM step ${t} → ${tPrev} has σ > 0 and needs noise z`);
  const sqrtAbT = Math.sqrt(abT);
  const sqrtOneMinusAbT = Math.sqrt(1 - abT);
  const dirCoef = Math.sqrt(Math.max(0, 1 - abPrev - sigma * sigma));
  return tf.tidy(() => {
    let x0Pred: tf.Tensor4D = tf.div(tf.sub(x, tf.mul(eps, sqrtOneMinusAbT)), sqrtAbT);
    let epsUsed = eps;
    if (clipX0) {
      x0Pred = tf.clipByValue(x0Pred, -1, 1);
      if (clipRule === 'recompute') epsUsed = tf.div(tf.sub(x, tf.mul(x0Pred, sqrtAbT)), sqrtOneMinusAbT);
    }
    const mean: tf.Tensor4D = tf.add(tf.mul(x0Pred, Math.sqrt(abPrev)), tf.mul(epsUsed, dirCoef));
    const next: tf.Tensor4D = sigma > 0 && z !== null ? tf.add(mean, tf.mul(z, sigma)) : mean;
    return { x: next, x0Pred };
  });
}

/** The DDIM transitions for these options, each with its σ. */
export function ddimTransitions(
  schedule: Schedule,
  opts: { steps?: number; eta?: number; spacing?: DdimSpacing; stepsOffset?: number; finalAlphaBarOne?: boolean } = {},
): Transition[] {
  const steps = opts.steps ?? Math.min(DDIM_DEFAULT_STEPS, schedule.T);
  const eta = opts.eta ?? 0;
  const ts = ddimTimesteps(schedule.T, steps, opts.spacing ?? 'leading', opts.stepsOffset ?? 0);
  return ts.map((t, i) => {
    const tPrev = i + 1 < ts.length ? ts[i + 1] : 0;
    const sigma = ddimSigma(
      schedule.alphaBar[t],
      ddimAlphaBarPrev(schedule, tPrev, opts.finalAlphaBarOne ?? true),
      eta,
    );
    return { t, tPrev, sigma };
  });
}

/** DDIM sampler (Song et al. 2021, eq. 12): `steps` steps from x_T to x_0; η = 0 is deterministic. */
export const ddim: Sampler = async (denoiser, xT, schedule, opts) => {
  const eta = opts.eta ?? 0;
  const finalAlphaBarOne = opts.finalAlphaBarOne ?? true;
  const clipX0 = opts.clipX0 ?? false;
  const clipRule = opts.clipRule ?? 'recompute';
  if (!(eta >= 0) || !Number.isFinite(eta)) throw new RangeError(`η must be a finite number ≥ 0, got ${eta}`);
  const transitions = ddimTransitions(schedule, { ...opts, eta, finalAlphaBarOne });
  return runSampler(
    denoiser,
    xT,
    transitions,
    (x, eps, tr, z) => ddimStep(x, eps, schedule, tr.t, tr.tPrev, { eta, clipX0, clipRule, finalAlphaBarOne, z }),
    opts,
  );
};
