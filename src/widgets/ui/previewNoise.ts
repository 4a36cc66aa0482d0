/**
 * What a noising widget shows before the worker answers (server render, hydration, the first request): the same
 * digit at each timestep, x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε on plain arrays (core/qsample.ts) with one seeded ε. A strip
 * labelled t = 1000 therefore shows noise from the first paint, never the clean digit. The worker's own ε differs
 * (its generator is tfjs's); the pictures are replaced when it answers.
 */
import { qSampleArray } from '../../core/qsample';
import { makeRng } from '../../core/rng';
import type { Schedule } from '../../core/types';

/** `x0` noised to each of `ts`, one image after another (as the worker's `noise` result lays them out). */
export function previewNoised(x0: ArrayLike<number>, schedule: Pick<Schedule, 'alphaBar'>, ts: readonly number[], seed: number): Float32Array {
  const rng = makeRng(seed);
  const eps = Float32Array.from({ length: x0.length }, () => rng.normal());
  const out = new Float32Array(ts.length * x0.length);
  ts.forEach((t, i) => qSampleArray(x0, eps, schedule.alphaBar[t], out.subarray(i * x0.length, (i + 1) * x0.length)));
  return out;
}
