/**
 * The forward (noising) process and the Gaussian posterior it implies (Ho et al. 2020, eqs. 4, 6, 7).
 *
 * | name         | symbol                                   | equation            |
 * |--------------|------------------------------------------|---------------------|
 * | `qSample`    | x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε              | Ho et al. eq. 4     |
 * | `x0FromEps`  | x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t            | Ho et al. eq. 15    |
 * | `posterior*` | μ̃_t = c_0 x_0 + c_t x_t, variance β̃_t    | Ho et al. eqs. 6–7  |
 *
 * Per-example coefficients are gathered in JavaScript from the schedule's Float64Arrays and uploaded as an
 * [N, 1, 1, 1] tensor (no tf.gather: its gradient is missing on wasm). Every returned tensor is new and
 * belongs to the caller; inputs are never disposed. The same x_t on plain arrays, for code without tfjs (widgets,
 * build-time figures), is `qSampleArray` in ./qsample.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Schedule } from './types';

/** One timestep per example: a single t is broadcast to all n examples. */
export function perExampleT(t: number | ArrayLike<number>, n: number, T: number): number[] {
  const ts = typeof t === 'number' ? new Array<number>(n).fill(t) : Array.from(t);
  if (ts.length !== n) throw new RangeError(`expected ${n} timesteps (one per example), got ${ts.length}`);
  for (const v of ts) {
    if (!Number.isInteger(v) || v < 0 || v > T) throw new RangeError(`timestep ${v} is not an integer in 0…${T}`);
  }
  return ts;
}

/** values[t_i] for each example as an [N, 1, 1, 1] float32 tensor (caller disposes). */
export function coefficientTensor(values: ArrayLike<number>, t: ArrayLike<number>): tf.Tensor4D {
  const n = t.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = values[t[i]];
  return tf.tensor4d(out, [n, 1, 1, 1], 'float32');
}

/** Sample q(x_t | x_0): x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, one t per example (Ho et al. 2020, eq. 4). */
export function qSample(
  schedule: Schedule,
  x0: tf.Tensor4D,
  t: number | ArrayLike<number>,
  eps: tf.Tensor4D,
): tf.Tensor4D {
  const ts = perExampleT(t, x0.shape[0], schedule.T);
  return tf.tidy(() => {
    const a = coefficientTensor(schedule.sqrtAlphaBar, ts);
    const b = coefficientTensor(schedule.sqrtOneMinusAlphaBar, ts);
    return tf.add(tf.mul(a, x0), tf.mul(b, eps));
  });
}

/** The clean image implied by an ε estimate: x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t (Ho et al. 2020, eq. 15). */
export function x0FromEps(
  schedule: Schedule,
  xt: tf.Tensor4D,
  t: number | ArrayLike<number>,
  eps: tf.Tensor4D,
): tf.Tensor4D {
  const ts = perExampleT(t, xt.shape[0], schedule.T);
  return tf.tidy(() => {
    const b = coefficientTensor(schedule.sqrtOneMinusAlphaBar, ts);
    const a = coefficientTensor(schedule.sqrtAlphaBar, ts);
    return tf.div(tf.sub(xt, tf.mul(b, eps)), a);
  });
}

/** The noise implied by an x_0 estimate: ε = (x_t − √ᾱ_t x̂_0)/√(1−ᾱ_t), for t ≥ 1 (inverse of eq. 4). */
export function epsFromX0(
  schedule: Schedule,
  xt: tf.Tensor4D,
  t: number | ArrayLike<number>,
  x0: tf.Tensor4D,
): tf.Tensor4D {
  const ts = perExampleT(t, xt.shape[0], schedule.T);
  if (ts.some((v) => v === 0)) throw new RangeError('ε is undefined at t = 0');
  return tf.tidy(() => {
    const a = coefficientTensor(schedule.sqrtAlphaBar, ts);
    const b = coefficientTensor(schedule.sqrtOneMinusAlphaBar, ts);
    return tf.div(tf.sub(xt, tf.mul(a, x0)), b);
  });
}

/** Coefficients of q(x_{t−1} | x_t, x_0) = N(c_0 x_0 + c_t x_t, β̃_t I) for t in 1…T (Ho et al. 2020, eq. 7). */
export interface PosteriorCoefficients {
  /** c_0 = √ᾱ_{t−1} β_t / (1 − ᾱ_t). */
  coefX0: number;
  /** c_t = √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t). */
  coefXt: number;
  /** β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t). */
  variance: number;
}

/** μ̃_t's coefficients and β̃_t at one timestep (Ho et al. 2020, eq. 7). */
export function posteriorCoefficients(schedule: Schedule, t: number): PosteriorCoefficients {
  if (!Number.isInteger(t) || t < 1 || t > schedule.T)
    throw new RangeError(`posterior needs t in 1…${schedule.T}, got ${t}`);
  const { beta, alpha, alphaBar } = schedule;
  const oneMinus = 1 - alphaBar[t];
  return {
    coefX0: (Math.sqrt(alphaBar[t - 1]) * beta[t]) / oneMinus,
    coefXt: (Math.sqrt(alpha[t]) * (1 - alphaBar[t - 1])) / oneMinus,
    variance: schedule.betaTilde[t],
  };
}

/** Posterior mean μ̃_t(x_t, x_0) = c_0 x_0 + c_t x_t, one t per example (Ho et al. 2020, eq. 7). */
export function posteriorMean(
  schedule: Schedule,
  x0: tf.Tensor4D,
  xt: tf.Tensor4D,
  t: number | ArrayLike<number>,
): tf.Tensor4D {
  const ts = perExampleT(t, xt.shape[0], schedule.T);
  const c0 = new Float64Array(ts.length);
  const ct = new Float64Array(ts.length);
  ts.forEach((v, i) => {
    const c = posteriorCoefficients(schedule, v);
    c0[i] = c.coefX0;
    ct[i] = c.coefXt;
  });
  const idx = ts.map((_, i) => i);
  return tf.tidy(() => tf.add(tf.mul(coefficientTensor(c0, idx), x0), tf.mul(coefficientTensor(ct, idx), xt)));
}

/** Posterior variance β̃_t of q(x_{t−1} | x_t, x_0) (Ho et al. 2020, eq. 7). */
export function posteriorVariance(schedule: Schedule, t: number): number {
  return posteriorCoefficients(schedule, t).variance;
}
