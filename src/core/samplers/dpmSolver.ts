/**
 * DPM-Solver++ (Lu et al. 2022, arXiv 2211.01095): the probability-flow ODE solved in λ = log-SNR with the data
 * prediction x̂_0 as integrand; multistep order 1, 2 ("2M") and 3 ("3M"), plus the stochastic 2M variant ("2M SDE").
 *
 * | name           | symbol                                  | equation                                          |
 * |----------------|-----------------------------------------|---------------------------------------------------|
 * | `alpha`        | α_t = √ᾱ_t                              | VP schedule, §2                                   |
 * | `sigma`        | σ_t = √(1−ᾱ_t)                           | (not the VE σ of karras.ts)                        |
 * | `lambda`       | λ_t = log(α_t/σ_t) = ½ log SNR_t         | §3.1                                              |
 * | `h`            | h = λ_t − λ_s (s the current, t the next)|                                                   |
 * | `m0, m1, m2`   | x̂_0 at s and at the two visited before  | x̂_0 = (x_s − σ_s ε̂)/α_s                           |
 * | `r0, r1`       | r0 = h_0/h, r1 = h_1/h (previous steps) | Algorithm 2                                       |
 * | order 1        | x_t = (σ_t/σ_s) x_s + α_t (1−e^{−h}) m0  | eq. 9 (= DDIM with η = 0)                          |
 * | order 2 (2M)   | … + ½ α_t (1−e^{−h}) D1, D1 = (m0−m1)/r0 | Algorithm 2, diffusers `solver_type="midpoint"`   |
 * | order 3 (3M)   | … + α_t φ2 D1 − α_t φ3 D2               | dpm-solver's multistep order 3; diffusers order 3 |
 * | 2M SDE         | x_t = (σ_t/σ_s)e^{−h} x_s + α_t(1−e^{−2h})(m0 + ½D1) + σ_t √(1−e^{−2h}) z | §5, SDE-DPM-Solver++(2M) |
 *
 * with φ2 = 1 − (1−e^{−h})/h and φ3 = (h − (1−e^{−h}))/h² − ½, D1 = D1_0 + r0/(r0+r1)(D1_0 − D1_1),
 * D2 = (D1_0 − D1_1)/(r0+r1), D1_0 = (m0−m1)/r0, D1_1 = (m1−m2)/r1. This 3M form (diffusers, dpm-solver,
 * k-diffusion alike) has D2 ≈ h² x̂_0″/2, so −α_t φ3 D2 is half the Taylor term α_t h³ x̂_0″/6: measured, 3M is second
 * order with a much smaller constant than 2M (tests/core/samplers/order.test.ts). We keep it, to match diffusers.
 * Semantics are diffusers' `DPMSolverMultistepScheduler` with `algorithm_type="dpmsolver++"` (or
 * "sde-dpmsolver++"), `solver_type="midpoint"`, `lower_order_final=True`, `final_sigmas_type="zero"`: the grid is
 * diffusers' (spacing.ts `dpmTimesteps`, default 'linspace'); step i uses order min(p, i + 1) (the multistep warm-up);
 * the last step is first order when it ends at σ = 0 (ᾱ = 1, where λ = ∞ and the step returns x̂_0), and with fewer
 * than 15 steps and lowerOrderFinal the last two steps use order ≤ 1 and ≤ 2. finalAlphaBarOne = false ends at ᾱ_1
 * instead (diffusers `final_sigmas_type="sigma_min"`). clipX0 clips each x̂_0 before it enters the update (the
 * static form of the thresholding DPM-Solver++ was designed for). One network call per step; the coefficients are
 * float64 numbers, only the final linear combination runs on tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser, Sampler, SampleOptions, Schedule } from '../types';
import { callDenoiser, runLoop, type StepLabel } from './common';
import { dpmTimesteps, type Spacing } from './spacing';

export type DpmOrder = 1 | 2 | 3;

export const DPM_DEFAULT_STEPS = 20;

/** Below this many steps lowerOrderFinal lowers the last two orders (diffusers' threshold). */
export const LOWER_ORDER_FINAL_BELOW = 15;

/** α = √ᾱ, σ = √(1−ᾱ) and λ = log(α/σ) of one ᾱ (λ = ∞ at ᾱ = 1). */
export function vpOf(alphaBar: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = Math.sqrt(alphaBar);
  const sigma = Math.sqrt(1 - alphaBar);
  return { alpha, sigma, lambda: Math.log(alpha) - Math.log(sigma) };
}

/** The order diffusers uses at step i of n (warm-up, lower_order_final, and first order into σ = 0). */
export function dpmStepOrder(order: DpmOrder, i: number, n: number, endsAtZero: boolean, lowerOrderFinal = true): DpmOrder {
  const last = i === n - 1;
  const lowerFinal = last && (endsAtZero || (lowerOrderFinal && n < LOWER_ORDER_FINAL_BELOW));
  const lowerSecond = i === n - 2 && lowerOrderFinal && n < LOWER_ORDER_FINAL_BELOW;
  if (order === 1 || i < 1 || lowerFinal) return 1;
  if (order === 2 || i < 2 || lowerSecond) return 2;
  return 3;
}

/** The update as numbers: x_t = cx·x_s + c[0]·m0 + c[1]·m1 + c[2]·m2 (+ cz·z for the SDE). */
export interface DpmCoefficients {
  cx: number;
  c: number[];
  cz: number;
}

/**
 * Coefficients of one DPM-Solver++ step from λ_s (lambdas[0]) to λ_t, given the λ of the earlier visited points
 * (lambdas[1], lambdas[2]) as the order needs them (Lu et al. 2022, Algorithm 2; order 3 as in diffusers). `to`
 * is the target's α, σ; ᾱ = 1 (σ = 0) gives x_t = m0.
 */
export function dpmCoefficients(
  order: DpmOrder,
  lambdas: readonly number[],
  from: { sigma: number },
  to: { alpha: number; sigma: number; lambda: number },
  sde = false,
): DpmCoefficients {
  if (to.sigma === 0) return { cx: 0, c: [1], cz: 0 };
  const h = to.lambda - lambdas[0];
  if (!(h > 0)) throw new RangeError(`DPM-Solver++ needs increasing λ, got h = ${h}`);
  if (sde) {
    // 1 − e^{−2h} and the ancestral noise of SDE-DPM-Solver++ (Lu et al. 2022, §5).
    const phi = -Math.expm1(-2 * h);
    const cx = (to.sigma / from.sigma) * Math.exp(-h);
    const cz = to.sigma * Math.sqrt(phi);
    if (order === 1) return { cx, c: [to.alpha * phi], cz };
    const r0 = (lambdas[0] - lambdas[1]) / h;
    const half = (0.5 * to.alpha * phi) / r0;
    return { cx, c: [to.alpha * phi + half, -half], cz };
  }
  const cx = to.sigma / from.sigma;
  const phi1 = -Math.expm1(-h); // 1 − e^{−h}
  if (order === 1) return { cx, c: [to.alpha * phi1], cz: 0 };
  const r0 = (lambdas[0] - lambdas[1]) / h;
  if (order === 2) {
    const half = (0.5 * to.alpha * phi1) / r0; // midpoint: ½ α_t (1−e^{−h}) D1
    return { cx, c: [to.alpha * phi1 + half, -half], cz: 0 };
  }
  const r1 = (lambdas[1] - lambdas[2]) / h;
  const e = to.alpha * (1 - phi1 / h); // α_t φ2
  const f = to.alpha * ((h - phi1) / (h * h) - 0.5); // α_t φ3
  const a = e * (1 + r0 / (r0 + r1)) - f / (r0 + r1); // weight of D1_0 in e·D1 − f·D2
  const b = (f - e * r0) / (r0 + r1); // weight of D1_1
  return { cx, c: [to.alpha * phi1 + a / r0, -a / r0 + b / r1, -b / r1], cz: 0 };
}

/** ᾱ at a visited timestep, and at t = 0 either 1 (final σ zero) or ᾱ_1 ("sigma_min"). */
function alphaBarAt(schedule: Schedule, t: number, finalAlphaBarOne: boolean): number {
  return t === 0 ? (finalAlphaBarOne ? 1 : schedule.alphaBar[1]) : schedule.alphaBar[t];
}

export interface DpmPlanStep extends StepLabel {
  order: DpmOrder;
  coefficients: DpmCoefficients;
}

/** The whole run as numbers: the visited (t → tPrev), each step's order and coefficients. */
export function dpmPlan(schedule: Schedule, order: DpmOrder, opts: Omit<SampleOptions, 'noise'> = {}, sde = false): DpmPlanStep[] {
  if (order !== 1 && order !== 2 && order !== 3) throw new RangeError(`DPM-Solver++ order must be 1, 2 or 3, got ${order}`);
  const steps = opts.steps ?? Math.min(DPM_DEFAULT_STEPS, schedule.T);
  const finalOne = opts.finalAlphaBarOne ?? true;
  const ts = dpmTimesteps(schedule.T, steps, (opts.spacing ?? 'linspace') as Spacing, opts.stepsOffset ?? 0);
  const n = ts.length;
  const grid = [...ts, 0];
  const vps = grid.map((t) => vpOf(alphaBarAt(schedule, t, finalOne)));
  return ts.map((t, i) => {
    const p = dpmStepOrder(order, i, n, finalOne, opts.lowerOrderFinal ?? true);
    const lambdas = [vps[i].lambda, i >= 1 ? vps[i - 1].lambda : NaN, i >= 2 ? vps[i - 2].lambda : NaN];
    return { t, tPrev: grid[i + 1], order: p, coefficients: dpmCoefficients(p, lambdas, vps[i], vps[i + 1], sde) };
  });
}

/** Runs a DPM-Solver++ plan: one network call per step, the last two x̂_0 kept (and freed) for the multistep terms. */
async function runDpm(
  denoiser: Denoiser,
  xT: tf.Tensor4D,
  schedule: Schedule,
  plan: readonly DpmPlanStep[],
  opts: SampleOptions,
): Promise<tf.Tensor4D> {
  const { noise } = opts;
  if (noise === undefined) throw new TypeError('opts.noise is required (randomness is an argument)');
  const clipX0 = opts.clipX0 ?? false;
  const history: tf.Tensor4D[] = []; // x̂_0 of earlier steps, newest first
  try {
    return await runLoop(
      xT,
      plan,
      (x, index) => {
        const { t, coefficients: k } = plan[index];
        const eps = callDenoiser(denoiser, x, t);
        const ab = schedule.alphaBar[t];
        let m0: tf.Tensor4D = tf.div(tf.sub(x, tf.mul(eps, Math.sqrt(1 - ab))), Math.sqrt(ab));
        if (clipX0) m0 = tf.clipByValue(m0, -1, 1);
        const ms = [m0, ...history];
        let next: tf.Tensor4D = k.cx === 0 ? tf.mul(m0, k.c[0]) : tf.add(tf.mul(x, k.cx), tf.mul(m0, k.c[0]));
        for (let j = 1; j < k.c.length; j++) next = tf.add(next, tf.mul(ms[j], k.c[j]));
        if (k.cz > 0) next = tf.add(next, tf.mul(noise.normal(x.shape) as tf.Tensor4D, k.cz));
        history.unshift(tf.keep(tf.clone(m0)));
        while (history.length > 2) history.pop()!.dispose();
        return { x: next, x0Pred: m0, eps };
      },
      opts,
    );
  } finally {
    tf.dispose(history);
  }
}

/** A DPM-Solver++ sampler of one order (Lu et al. 2022, Algorithm 2; diffusers DPMSolverMultistepScheduler). */
export function dpmSolverPP(order: DpmOrder): Sampler {
  return async (denoiser, xT, schedule, opts) => runDpm(denoiser, xT, schedule, dpmPlan(schedule, order, opts), opts);
}

/** DPM-Solver++ order 1: the first-order update, which is DDIM with η = 0 on the same grid (Lu et al. 2022, eq. 9). */
export const dpmpp1: Sampler = dpmSolverPP(1);
/** DPM-Solver++(2M): second-order multistep, midpoint form (Lu et al. 2022, Algorithm 2). */
export const dpmpp2m: Sampler = dpmSolverPP(2);
/** DPM-Solver++(3M): third-order multistep (diffusers' `solver_order=3`). */
export const dpmpp3m: Sampler = dpmSolverPP(3);
/** SDE-DPM-Solver++(2M): the stochastic 2M variant, fresh noise from opts.noise each step but the last (Lu et al. 2022, §5). */
export const dpmpp2mSde: Sampler = async (denoiser, xT, schedule, opts) =>
  runDpm(denoiser, xT, schedule, dpmPlan(schedule, 2, opts, true), opts);
