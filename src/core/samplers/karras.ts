/**
 * Euler and Heun on the probability-flow ODE in the noise level σ (Karras et al. 2022, arXiv 2206.00364,
 * Algorithm 1 with S_churn = 0), for our ε-prediction denoiser over the VP schedule.
 *
 * | name        | symbol                                | equation                                                |
 * |-------------|---------------------------------------|---------------------------------------------------------|
 * | `sigma`     | σ_t = √((1−ᾱ_t)/ᾱ_t)                   | Table 1, VP: σ(t) of the DDPM schedule (σ = 0 ⇔ ᾱ = 1)  |
 * | `y`         | y = x_t/√ᾱ_t = x_t √(1+σ_t²)           | §2, s(t) = √ᾱ_t: the scaled variable of the σ-ODE       |
 * | `x0Pred`    | x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t = y − σ ε̂ | D(y; σ), Table 1 with c_skip = 1, c_out = −σ            |
 * | `d`         | d = dy/dσ = (y − x̂_0)/σ  (= ε̂)          | eq. 3 with s = 1: the ODE in y                          |
 * | Euler       | y′ = y + (σ′ − σ) d                     | Algorithm 1, line 5–6                                   |
 * | Heun        | y′ = y + (σ′ − σ)(d + d′)/2, d′ at (y_E, σ′) | Algorithm 1, line 7–8, skipped when σ′ = 0          |
 * | Karras σ    | σ_i = (σ_max^{1/ρ} + i/(n−1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, ρ = 7 | eq. 5                        |
 *
 * We integrate in y = x/√ᾱ, as k-diffusion does and as diffusers does through `scale_model_input` (which divides
 * y by √(1+σ²) to hand the network x_t): the state the loop carries and reports stays x_t, and each step maps
 * x_t → y, takes the step in y, and maps back with √ᾱ of the target. The last step ends at σ = 0 (ᾱ = 1), where
 * y = x and both methods return x̂_0: Heun costs 2 network calls per step but 1 on the last. Euler on this ODE with
 * the ε-parameterisation is exactly DDIM with η = 0 on the same grid (Karras et al. 2022, §3; Song et al. 2021, §4.3).
 *
 * Grids: `spacing` (default 'linspace') picks integer timesteps as DDIM does (spacing.ts). `sigmas: 'karras'` puts
 * the ρ = 7 spacing between the σ of that grid's first and last timestep (diffusers `use_karras_sigmas`), then,
 * because our denoiser takes integer timesteps, snaps each σ_i to an integer timestep: the fractional timestep of
 * σ_i by linear interpolation in log σ between neighbouring integers (diffusers' `_sigma_to_t`), rounded to the
 * nearest integer, and the step then uses that timestep's own σ, so the network is always asked at the noise level
 * the update assumes. Where rounding would visit a timestep twice (many steps crowd the low-σ end), a grid point
 * moves up (or, near the top, down) just enough to keep the timesteps strictly decreasing within the grid's ends,
 * so `steps` steps always take place. diffusers instead calls the network at the fractional timestep itself; with a
 * network that has only integer timesteps we cannot, so its Karras numbers are not reproduced exactly. clipX0 clips x̂_0 before forming d (diffusers Heun's
 * `clip_sample`). finalAlphaBarOne, eta and clipRule do not apply.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser, Sampler, SampleOptions, Schedule } from '../types';
import { callDenoiser, runLoop, type StepLabel } from './common';
import { spacedTimesteps, type Spacing } from './spacing';

export const KARRAS_RHO = 7;

export const KARRAS_DEFAULT_STEPS = 20;

/** σ_t = √((1−ᾱ_t)/ᾱ_t), the VE noise level of timestep t (Karras et al. 2022, Table 1); 0 at t = 0. */
export function sigmaOf(schedule: Schedule, t: number): number {
  const ab = t === 0 ? 1 : schedule.alphaBar[t];
  return Math.sqrt((1 - ab) / ab);
}

/** The fractional timestep whose σ is `sigma`: linear interpolation in log σ between integer timesteps 1…T. */
export function timestepOfSigma(schedule: Schedule, sigma: number): number {
  const T = schedule.T;
  const logS = Math.log(sigma);
  if (logS <= Math.log(sigmaOf(schedule, 1))) return 1;
  if (logS >= Math.log(sigmaOf(schedule, T))) return T;
  let lo = 1;
  let hi = T; // σ increases with t: find lo < hi = lo + 1 with σ_lo ≤ σ < σ_hi
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (Math.log(sigmaOf(schedule, mid)) <= logS) lo = mid;
    else hi = mid;
  }
  const a = Math.log(sigmaOf(schedule, lo));
  const b = Math.log(sigmaOf(schedule, hi));
  return lo + (logS - a) / (b - a);
}

/** Karras et al. 2022 eq. 5: n noise levels from σ_max down to σ_min, ρ = 7 (without the final 0). */
export function karrasSigmas(sigmaMax: number, sigmaMin: number, n: number, rho = KARRAS_RHO): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  const a = sigmaMax ** (1 / rho);
  const b = sigmaMin ** (1 / rho);
  return Array.from({ length: n }, (_, i) => (a + (n === 1 ? 0 : i / (n - 1)) * (b - a)) ** rho);
}

/** The Karras grid between the σ of a spacing grid's ends, snapped to integer timesteps kept strictly decreasing. */
export function karrasTimesteps(schedule: Schedule, grid: readonly number[]): number[] {
  const n = grid.length;
  const top = grid[0];
  const bottom = grid[n - 1];
  const sigmas = karrasSigmas(sigmaOf(schedule, top), sigmaOf(schedule, bottom), n);
  // Step i may only use timesteps that leave room for the others: bottom + (n−1−i) ≤ t_i ≤ top − i.
  const ts = sigmas.map((s, i) =>
    Math.min(top - i, Math.max(bottom + (n - 1 - i), Math.round(timestepOfSigma(schedule, s)))),
  );
  for (let i = n - 2; i >= 0; i--) ts[i] = Math.max(ts[i], ts[i + 1] + 1); // stays ≤ top − i
  return ts;
}

/** The visited timesteps of an Euler or Heun run (descending integers in 1…T, then σ = 0). */
export function karrasGrid(schedule: Schedule, opts: Omit<SampleOptions, 'noise'> = {}): number[] {
  const steps = opts.steps ?? Math.min(KARRAS_DEFAULT_STEPS, schedule.T);
  const grid = spacedTimesteps(schedule.T, steps, (opts.spacing ?? 'linspace') as Spacing, opts.stepsOffset ?? 0);
  const kind = opts.sigmas ?? 'timesteps';
  if (kind === 'timesteps') return grid;
  if (kind === 'karras') return karrasTimesteps(schedule, grid);
  throw new RangeError(`unknown sigmas ${String(kind)}`);
}

/** x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, clipped to [−1, 1] when asked. */
function x0Of(x: tf.Tensor4D, eps: tf.Tensor4D, alphaBar: number, clip: boolean): tf.Tensor4D {
  const x0: tf.Tensor4D = tf.div(tf.sub(x, tf.mul(eps, Math.sqrt(1 - alphaBar))), Math.sqrt(alphaBar));
  return clip ? tf.clipByValue(x0, -1, 1) : x0;
}

/** Runs Euler (heun = false) or Heun over the grid, state x_t, each step taken in y = x_t/√ᾱ_t. */
async function runKarras(
  denoiser: Denoiser,
  xT: tf.Tensor4D,
  schedule: Schedule,
  heun: boolean,
  opts: SampleOptions,
): Promise<tf.Tensor4D> {
  if (opts.noise === undefined) throw new TypeError('opts.noise is required (randomness is an argument)');
  const clip = opts.clipX0 ?? false;
  const ts = karrasGrid(schedule, opts);
  const labels: StepLabel[] = ts.map((t, i) => ({ t, tPrev: i + 1 < ts.length ? ts[i + 1] : 0 }));
  return runLoop(
    xT,
    labels,
    (x, index) => {
      const { t, tPrev } = labels[index];
      const eps = callDenoiser(denoiser, x, t);
      const x0Pred = x0Of(x, eps, schedule.alphaBar[t], clip);
      if (tPrev === 0) return { x: tf.clone(x0Pred), x0Pred, eps }; // σ′ = 0: y′ = y − σ d = x̂_0, and x = y there
      const sigma = sigmaOf(schedule, t);
      const sigmaNext = sigmaOf(schedule, tPrev);
      const abNext = schedule.alphaBar[tPrev];
      const y = tf.mul(x, Math.sqrt(1 + sigma * sigma));
      const d = tf.div(tf.sub(y, x0Pred), sigma); // Karras et al. 2022 eq. 3 in y
      const yEuler = tf.add(y, tf.mul(d, sigmaNext - sigma)); // Algorithm 1, line 5
      if (!heun) return { x: tf.mul(yEuler, Math.sqrt(abNext)), x0Pred, eps };
      const xEuler: tf.Tensor4D = tf.mul(yEuler, Math.sqrt(abNext));
      const epsNext = callDenoiser(denoiser, xEuler, tPrev);
      const dNext = tf.div(tf.sub(yEuler, x0Of(xEuler, epsNext, abNext, clip)), sigmaNext); // line 7
      const yHeun = tf.add(y, tf.mul(tf.add(d, dNext), 0.5 * (sigmaNext - sigma))); // line 8
      return { x: tf.mul(yHeun, Math.sqrt(abNext)), x0Pred, eps };
    },
    opts,
  );
}

/** Euler's method on the probability-flow ODE in σ (Karras et al. 2022, Algorithm 1, first order; = DDIM η = 0). */
export const euler: Sampler = (denoiser, xT, schedule, opts) => runKarras(denoiser, xT, schedule, false, opts);

/** Heun's second-order method on the same ODE (Karras et al. 2022, Algorithm 1, S_churn = 0): 2 NFE per step, 1 on the last. */
export const heun: Sampler = (denoiser, xT, schedule, opts) => runKarras(denoiser, xT, schedule, true, opts);
