/**
 * Timestep grids: which integer timesteps a sampler with fewer than T steps visits, as diffusers builds them
 * (`timestep_spacing`, `steps_offset`; Lin et al. 2024, arXiv 2305.08891, Table 2), shifted by +1 to our t
 * (diffusers' timestep k is our t = k + 1, since our t = 0 is clean data).
 *
 * | spacing      | DDIM, Euler, Heun (diffusers `DDIMScheduler`, `Euler…`, `Heun…`)      | DPM-Solver++ (`DPMSolverMultistepScheduler`) |
 * |--------------|------------------------------------------------------------------------|----------------------------------------------|
 * | `'leading'`  | 1 + k·⌊T/n⌋ + offset, k = n−1 … 0                                       | 1 + k·⌊T/(n+1)⌋ + offset, k = n … 1          |
 * | `'trailing'` | round(T − k·T/n), k = 0 … n−1                                           | the same                                      |
 * | `'linspace'` | 1 + round(k·(T−1)/(n−1)), k = n−1 … 0                                    | 1 + round(k·(T−1)/n), k = n … 1              |
 *
 * round is numpy's (halves to even). `stepsOffset` (diffusers `steps_offset`) shifts only 'leading' grids, as in
 * diffusers. Euler and Heun in diffusers keep the 'linspace' grid as floats (the model is called at fractional
 * timesteps); our denoisers take integer timesteps, so we round it, which is exactly DDIM's 'linspace'.
 * Pure JavaScript (no tensors).
 */

export type Spacing = 'leading' | 'trailing' | 'linspace';

export const SPACINGS: readonly Spacing[] = ['leading', 'trailing', 'linspace'];

/** numpy's np.round: halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkSteps(T: number, steps: number): void {
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`T must be a positive integer, got ${T}`);
  if (!Number.isInteger(steps) || steps < 1 || steps > T)
    throw new RangeError(`steps must be an integer in 1…${T}, got ${steps}`);
}

function checkOffset(stepsOffset: number): void {
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0)
    throw new RangeError(`stepsOffset must be a non-negative integer, got ${stepsOffset}`);
}

/** Throws unless the grid is strictly decreasing integers in 1…T (so every step moves and every t exists). */
export function checkGrid(ts: readonly number[], T: number, what = 'timestep grid'): number[] {
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    if (!Number.isInteger(t) || t < 1 || t > T) throw new RangeError(`${what}: t = ${t} lies outside 1…${T}`);
    if (i > 0 && !(t < ts[i - 1]))
      throw new RangeError(`${what} repeats or climbs (${ts[i - 1]} then ${t}): too many steps for this spacing`);
  }
  return [...ts];
}

/** The visited timesteps of DDIM, Euler and Heun in sampling order (diffusers' grids + 1). */
export function spacedTimesteps(T: number, steps: number, spacing: Spacing = 'leading', stepsOffset = 0): number[] {
  checkSteps(T, steps);
  checkOffset(stepsOffset);
  const ts: number[] = [];
  if (spacing === 'leading') {
    const r = Math.floor(T / steps);
    for (let k = steps - 1; k >= 0; k--) ts.push(1 + k * r + stepsOffset);
  } else if (spacing === 'trailing') {
    const ratio = T / steps;
    for (let k = 0; k < steps; k++) ts.push(roundHalfEven(T - k * ratio));
  } else if (spacing === 'linspace') {
    if (steps === 1) ts.push(1);
    else for (let k = steps - 1; k >= 0; k--) ts.push(1 + roundHalfEven(k * ((T - 1) / (steps - 1))));
  } else {
    throw new RangeError(`unknown spacing ${String(spacing)}`);
  }
  return checkGrid(ts, T, `${spacing} grid`);
}

/** The visited timesteps of DPM-Solver++ in sampling order (diffusers `DPMSolverMultistepScheduler` grids + 1). */
export function dpmTimesteps(T: number, steps: number, spacing: Spacing = 'linspace', stepsOffset = 0): number[] {
  checkSteps(T, steps);
  checkOffset(stepsOffset);
  const ts: number[] = [];
  if (spacing === 'leading') {
    const r = Math.floor(T / (steps + 1));
    for (let k = steps; k >= 1; k--) ts.push(1 + k * r + stepsOffset);
  } else if (spacing === 'trailing') {
    return spacedTimesteps(T, steps, 'trailing');
  } else if (spacing === 'linspace') {
    for (let k = steps; k >= 1; k--) ts.push(1 + roundHalfEven(k * ((T - 1) / steps)));
  } else {
    throw new RangeError(`unknown spacing ${String(spacing)}`);
  }
  return checkGrid(ts, T, `${spacing} grid`);
}
