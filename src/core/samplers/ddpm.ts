/**
 * DDPM ancestral sampling (Ho et al. 2020, Algorithm 2 / eq. 11), over every t = T … 1.
 *
 * | name       | symbol                                                     | equation          |
 * |------------|------------------------------------------------------------|-------------------|
 * | `eps`      | ε̂ = ε_θ(x_t, t)                                            |                   |
 * | `x0Pred`   | x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t                              | eq. 15            |
 * | mean       | (1/√α_t)(x_t − (β_t/√(1−ᾱ_t)) ε̂)                           | eq. 11            |
 * | mean, clip | √ᾱ_{t−1}β_t/(1−ᾱ_t) · clip(x̂_0) + √α_t(1−ᾱ_{t−1})/(1−ᾱ_t) · x_t | eq. 7    |
 * | `sigma`    | σ_t² = β_t ('beta', default) or β̃_t ('betaTilde'); σ_1 = 0  | §3.2              |
 *
 * Default variance 'beta' is Ho et al.'s CIFAR-10 setting ("fixedlarge"; the σ̂ rows of DDIM's Table 1);
 * 'betaTilde' is diffusers' "fixed_small". Noise z is drawn from opts.noise exactly when σ_t > 0, so never at
 * the last step t = 1. `opts.steps`, `eta` and `spacing` are ignored: DDPM always takes all T steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { posteriorCoefficients } from '../forward';
import type { Sampler, Schedule } from '../types';
import { runSampler, type StepResult, type Transition } from './common';

export type DdpmVariance = 'beta' | 'betaTilde';

/** σ_t of the DDPM reverse step: √β_t or √β̃_t, and 0 at the last step t = 1 (Ho et al. 2020, §3.2). */
export function ddpmSigma(schedule: Schedule, t: number, variance: DdpmVariance = 'beta'): number {
  if (variance !== 'beta' && variance !== 'betaTilde')
    throw new RangeError(`unknown DDPM variance ${String(variance)}`);
  if (t <= 1) return 0;
  return Math.sqrt(variance === 'betaTilde' ? schedule.betaTilde[t] : schedule.beta[t]);
}

export interface DdpmStepOptions {
  variance?: DdpmVariance;
  clipX0?: boolean;
  /** Standard normal noise shaped like x; required exactly when σ_t > 0. */
  z?: tf.Tensor4D | null;
}

/** One DDPM step x_t → x_{t−1} (Ho et al. 2020, eq. 11; posterior-mean form eq. 7 when clipX0). New tensors, caller disposes. */
export function ddpmStep(
  x: tf.Tensor4D,
  eps: tf.Tensor4D,
  schedule: Schedule,
  t: number,
  opts: DdpmStepOptions = {},
): StepResult {
  if (!Number.isInteger(t) || t < 1 || t > schedule.T)
    throw new RangeError(`DDPM step needs t in 1…${schedule.T}, got ${t}`);
  const { variance = 'beta', clipX0 = false, z = null } = opts;
  const sigma = ddpmSigma(schedule, t, variance);
  if (sigma > 0 && z === null) throw new TypeError(`DDPM step at t = ${t} has σ > 0 and needs noise z`);
  return tf.tidy(() => {
    const { beta, alpha, sqrtAlphaBar, sqrtOneMinusAlphaBar } = schedule;
    let x0Pred: tf.Tensor4D = tf.div(tf.sub(x, tf.mul(eps, sqrtOneMinusAlphaBar[t])), sqrtAlphaBar[t]);
    let mean: tf.Tensor4D;
    if (clipX0) {
      x0Pred = tf.clipByValue(x0Pred, -1, 1);
      const c = posteriorCoefficients(schedule, t);
      mean = tf.add(tf.mul(x0Pred, c.coefX0), tf.mul(x, c.coefXt));
    } else {
      mean = tf.mul(tf.sub(x, tf.mul(eps, beta[t] / sqrtOneMinusAlphaBar[t])), 1 / Math.sqrt(alpha[t]));
    }
    const next: tf.Tensor4D = sigma > 0 && z !== null ? tf.add(mean, tf.mul(z, sigma)) : mean;
    return { x: next, x0Pred };
  });
}

/** The DDPM transitions T → T−1 → … → 0 with their σ. */
export function ddpmTransitions(schedule: Schedule, variance: DdpmVariance = 'beta'): Transition[] {
  const out: Transition[] = [];
  for (let t = schedule.T; t >= 1; t--) out.push({ t, tPrev: t - 1, sigma: ddpmSigma(schedule, t, variance) });
  return out;
}

/** DDPM ancestral sampler (Ho et al. 2020, Algorithm 2): T steps from x_T to x_0. */
export const ddpm: Sampler = async (denoiser, xT, schedule, opts) => {
  const variance = opts.variance ?? 'beta';
  const clipX0 = opts.clipX0 ?? false;
  const transitions = ddpmTransitions(schedule, variance);
  return runSampler(
    denoiser,
    xT,
    transitions,
    (x, eps, tr, z) => ddpmStep(x, eps, schedule, tr.t, { variance, clipX0, z }),
    opts,
  );
};
