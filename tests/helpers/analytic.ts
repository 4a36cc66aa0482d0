/** Closed-form denoisers and instrumented noise for sampler tests (independent of src/core's maths). */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser, NoiseSource, Schedule } from '../../src/core/types';

/** ᾱ_t of the test's own, from the schedule's β (float64 product, not the schedule's alphaBar). */
function alphaBarOf(schedule: Schedule, t: number): number {
  let p = 1;
  for (let s = 1; s <= t; s++) p *= 1 - schedule.beta[s];
  return p;
}

/**
 * The optimal ε̂ for data x_0 ~ N(μ, s²) per pixel: E[ε | x_t] = √(1−ᾱ_t)(x_t − √ᾱ_t μ)/(ᾱ_t s² + 1 − ᾱ_t).
 * `calls` counts invocations.
 */
export function gaussianDenoiser(schedule: Schedule, mu: number, s: number): Denoiser & { calls: number } {
  const ab = Array.from({ length: schedule.T + 1 }, (_, t) => alphaBarOf(schedule, t));
  const f = ((x: tf.Tensor4D, t: number) => {
    f.calls++;
    const a = ab[t];
    const k = Math.sqrt(1 - a) / (a * s * s + 1 - a);
    return tf.tidy(() => tf.mul(tf.sub(x, Math.sqrt(a) * mu), k));
  }) as Denoiser & { calls: number };
  f.calls = 0;
  return f;
}

/** The same values as `gaussianDenoiser` in float64, for reference loops. */
export function gaussianEps64(schedule: Schedule, mu: number, s: number): (x: Float64Array, t: number) => Float64Array {
  const ab = Array.from({ length: schedule.T + 1 }, (_, t) => alphaBarOf(schedule, t));
  return (x, t) => {
    const a = ab[t];
    const k = Math.sqrt(1 - a) / (a * s * s + 1 - a);
    return x.map((v) => (v - Math.sqrt(a) * mu) * k);
  };
}

/** Wraps a NoiseSource and records the shape of every `normal` draw. */
export function countingNoise(inner: NoiseSource): NoiseSource & { draws: number[][] } {
  const draws: number[][] = [];
  return {
    draws,
    normal(shape: number[]) {
      draws.push([...shape]);
      return inner.normal(shape);
    },
    normalArray(n: number) {
      return inner.normalArray(n);
    },
  };
}
