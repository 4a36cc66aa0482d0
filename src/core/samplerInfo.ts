/**
 * What can be said about the samplers without running one (tfjs-free: the worker's catalogue, the widgets and the
 * eval share it): their names, the names readers see, what a run costs in network evaluations (NFE), and the
 * distance between two solutions from the same x_T.
 */

/** Every sampler of the registry (src/core/samplers/index.ts), in the order a reader meets them. */
export const SAMPLER_NAMES = ['ddpm', 'ddim', 'dpmpp1', 'dpmpp2m', 'dpmpp3m', 'euler', 'heun'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

export const SAMPLER_LABELS: Record<SamplerName, string> = {
  ddpm: 'DDPM',
  ddim: 'DDIM',
  dpmpp1: 'DPM-Solver++ 1',
  dpmpp2m: 'DPM-Solver++ 2M',
  dpmpp3m: 'DPM-Solver++ 3M',
  euler: 'Euler',
  heun: 'Heun',
};

/** Network evaluations of a run: one per step; Heun two per step but one on the last (its final Euler step); DDPM always T. */
export function nfeOf(name: SamplerName, steps: number, T = 1000): number {
  if (name === 'ddpm') return T;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  return name === 'heun' ? 2 * steps - 1 : steps;
}

/** The most steps whose run costs at most `nfe` network evaluations (at least one step; DDPM: T). */
export function stepsForNfe(name: SamplerName, nfe: number, T = 1000): number {
  if (name === 'ddpm') return T;
  const n = Math.floor(nfe);
  return Math.max(1, Math.min(T, name === 'heun' ? Math.floor((n + 1) / 2) : n));
}

/** √(mean of (a_i − b_i)²) over the first n values: the RMS distance between two sets of images. */
export function rmsDistance(a: ArrayLike<number>, b: ArrayLike<number>, n = Math.min(a.length, b.length)): number {
  if (n <= 0) return NaN;
  let s = 0;
  for (let i = 0; i < n; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / n);
}

/**
 * Which of a run's `steps` steps (0-based) to keep as frames of its trajectory, at most `frames` (≥ 2) of them,
 * evenly spread and always the first and the last; every step when there are no more than `frames`.
 */
export function keptStepIndices(steps: number, frames: number): number[] {
  if (steps <= 0) return [];
  if (steps <= frames) return Array.from({ length: steps }, (_, i) => i);
  const out = new Set<number>();
  for (let k = 0; k < frames; k++) out.add(Math.round((k * (steps - 1)) / (frames - 1)));
  return [...out];
}

/** The index of the frame whose timestep is nearest to `t` (the first of equals); −1 when there are none. */
export function nearestFrame(ts: ArrayLike<number>, t: number): number {
  let best = -1;
  for (let i = 0; i < ts.length; i++) if (best < 0 || Math.abs(ts[i] - t) < Math.abs(ts[best] - t)) best = i;
  return best;
}
