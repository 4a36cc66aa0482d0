/**
 * Timestep grids for a reverse process that starts part of the way, at t0 ≤ T (image-to-image, SDEdit, Meng et
 * al. 2022), instead of at T. `ddimTimesteps` always spans the whole schedule; these grids span t0 … 0.
 *
 * | name               | what                                                                          |
 * |--------------------|-------------------------------------------------------------------------------|
 * | `img2imgStart`     | t0 = round(strength · T), strength clamped to [0, 1]                            |
 * | `img2imgTimesteps` | [t0, …, 0]: n + 1 integers, n = min(steps, t0), t_k = round(t0 (1 − k/n))        |
 * | `gridTransitions`  | consecutive pairs (t → t′) of a grid, deterministic (σ = 0, DDIM with η = 0)    |
 *
 * The grid is strictly decreasing: neighbouring values t0·k/n are at least 1 apart (n ≤ t0), and rounding keeps
 * numbers that far apart distinct. Pure JavaScript (no tensors).
 */
import type { Transition } from './common';

/** The starting timestep of image-to-image: t0 = round(strength · T), strength clamped to [0, 1]. */
export function img2imgStart(strength: number, T: number): number {
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`T must be a positive integer, got ${T}`);
  if (!Number.isFinite(strength)) throw new RangeError(`strength must be a finite number, got ${strength}`);
  return Math.round(Math.min(1, Math.max(0, strength)) * T);
}

/**
 * The visited timesteps from t0 down to 0 inclusive, evenly spaced in `steps` steps (fewer when t0 < steps, so
 * every step moves at least one timestep). t0 = 0 gives [0] (nothing to do).
 */
export function img2imgTimesteps(t0: number, steps: number): number[] {
  if (!Number.isInteger(t0) || t0 < 0) throw new RangeError(`t0 must be a non-negative integer, got ${t0}`);
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const n = Math.min(steps, t0);
  if (n === 0) return [0];
  const grid: number[] = [];
  for (let k = 0; k <= n; k++) grid.push(Math.round(t0 * (1 - k / n)));
  return grid;
}

/** The transitions (t → t′) between consecutive grid entries, all with σ = 0. */
export function gridTransitions(grid: readonly number[]): Transition[] {
  const out: Transition[] = [];
  for (let i = 0; i + 1 < grid.length; i++) {
    if (!(grid[i + 1] < grid[i])) throw new RangeError(`timestep grid must be strictly decreasing, got ${grid[i]} then ${grid[i + 1]}`);
    out.push({ t: grid[i], tPrev: grid[i + 1], sigma: 0 });
  }
  return out;
}
