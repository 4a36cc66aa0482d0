/**
 * Noise schedules as immutable plain data (no tensors). Every array has length T + 1 and is indexed by
 * the integer timestep t; entry 0 is the clean-data state (β_0 = 0, ᾱ_0 = 1, SNR = ∞).
 *
 * | field                  | symbol                         | source                                   |
 * |------------------------|--------------------------------|------------------------------------------|
 * | `beta`                 | β_t                            | Ho et al. 2020 §4 / Nichol & Dhariwal eq. 17 |
 * | `alpha`                | α_t = 1 − β_t                  | Ho et al. 2020 §2                        |
 * | `alphaBar`             | ᾱ_t = ∏_{s≤t} α_s              | Ho et al. 2020 eq. 4                     |
 * | `sqrtAlphaBar`         | √ᾱ_t                           |                                          |
 * | `sqrtOneMinusAlphaBar` | √(1 − ᾱ_t)                     |                                          |
 * | `snr`, `logSnr`        | ᾱ_t / (1 − ᾱ_t), its log       | Kingma et al. 2021                       |
 * | `betaTilde`            | β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) | Ho et al. 2020 eq. 7                  |
 *
 * The typed arrays cannot be frozen by JavaScript; schedules are cached and shared, so never write to them.
 */
import type { Schedule, ScheduleKind } from './types';

/** Optional overrides of the published constants. */
export interface ScheduleOptions {
  /** Linear: β_1 (default 1e-4, Ho et al. 2020). */
  betaStart?: number;
  /** Linear: β_T (default 0.02, Ho et al. 2020). */
  betaEnd?: number;
  /** Cosine: offset s (default 0.008, Nichol & Dhariwal 2021 eq. 17). */
  s?: number;
  /** Cosine: upper clip on β_t (default 0.999, Nichol & Dhariwal 2021 §3.2). */
  maxBeta?: number;
}

export const LINEAR_BETA_START = 1e-4;
export const LINEAR_BETA_END = 0.02;
export const COSINE_S = 0.008;
export const COSINE_MAX_BETA = 0.999;

/**
 * ᾱ_t below this counts as "nearly pure noise": the signal amplitude √ᾱ_t is under ≈3 % of the noise's.
 * With T = 1000 this holds for the last 175 linear steps (t ≥ 826, the "too noisy" tail Nichol & Dhariwal
 * describe) but only the last 21 cosine steps.
 */
export const NEARLY_PURE_NOISE_ALPHA_BAR = 1e-3;

/**
 * Linear β: T evenly spaced values from betaStart to betaEnd (Ho et al. 2020 chose 10⁻⁴ … 0.02 for T = 1000). The
 * endpoints stay the same for every T, so ᾱ_T depends on T: 4.0 × 10⁻⁵ at T = 1000 but 0.364 at T = 100, far from
 * pure noise. To keep the T = 1000 path with another T, pass betaStart and betaEnd scaled by 1000/T (as Nichol &
 * Dhariwal's code does).
 */
function linearBetas(T: number, betaStart: number, betaEnd: number): Float64Array {
  const beta = new Float64Array(T + 1);
  for (let t = 1; t <= T; t++) {
    beta[t] = T === 1 ? betaStart : betaStart + ((betaEnd - betaStart) * (t - 1)) / (T - 1);
  }
  return beta;
}

/** Cosine β_t = min(1 − ᾱ_t/ᾱ_{t−1}, maxBeta), ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s))·π/2) (Nichol & Dhariwal 2021 eq. 17). */
function cosineBetas(T: number, s: number, maxBeta: number): Float64Array {
  const f = (t: number) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const beta = new Float64Array(T + 1);
  for (let t = 1; t <= T; t++) {
    // ᾱ_t / ᾱ_{t−1} = (f(t)/f(0)) / (f(t−1)/f(0)) = f(t)/f(t−1).
    beta[t] = Math.min(1 - f(t) / f(t - 1), maxBeta);
  }
  return beta;
}

/** Every derived array from β, with ᾱ recomputed as the running product of (1 − β) so all arrays agree. */
function fromBetas(kind: ScheduleKind, beta: Float64Array): Schedule {
  const T = beta.length - 1;
  const alpha = new Float64Array(T + 1);
  const alphaBar = new Float64Array(T + 1);
  const sqrtAlphaBar = new Float64Array(T + 1);
  const sqrtOneMinusAlphaBar = new Float64Array(T + 1);
  const snr = new Float64Array(T + 1);
  const logSnr = new Float64Array(T + 1);
  const betaTilde = new Float64Array(T + 1);
  beta[0] = 0;
  let prod = 1;
  for (let t = 0; t <= T; t++) {
    alpha[t] = 1 - beta[t];
    prod *= alpha[t];
    alphaBar[t] = prod;
    sqrtAlphaBar[t] = Math.sqrt(prod);
    sqrtOneMinusAlphaBar[t] = Math.sqrt(1 - prod);
    snr[t] = t === 0 ? Infinity : prod / (1 - prod);
    logSnr[t] = t === 0 ? Infinity : Math.log(prod) - Math.log(1 - prod);
    betaTilde[t] = t === 0 ? 0 : (beta[t] * (1 - alphaBar[t - 1])) / (1 - prod);
  }
  return Object.freeze({
    kind,
    T,
    beta,
    alpha,
    alphaBar,
    sqrtAlphaBar,
    sqrtOneMinusAlphaBar,
    snr,
    logSnr,
    betaTilde,
  });
}

const cache = new Map<string, Schedule>();

/** The `kind` schedule with T steps, computed once per (kind, T, options) and shared (do not mutate its arrays). */
export function makeSchedule(kind: ScheduleKind, T = 1000, opts: ScheduleOptions = {}): Schedule {
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`T must be a positive integer, got ${T}`);
  const betaStart = opts.betaStart ?? LINEAR_BETA_START;
  const betaEnd = opts.betaEnd ?? LINEAR_BETA_END;
  const s = opts.s ?? COSINE_S;
  const maxBeta = opts.maxBeta ?? COSINE_MAX_BETA;
  const key =
    kind === 'linear' ? `linear:${T}:${betaStart}:${betaEnd}` : kind === 'cosine' ? `cosine:${T}:${s}:${maxBeta}` : '';
  if (key === '') throw new RangeError(`unknown schedule kind ${String(kind)}`);
  let schedule = cache.get(key);
  if (schedule === undefined) {
    const beta = kind === 'linear' ? linearBetas(T, betaStart, betaEnd) : cosineBetas(T, s, maxBeta);
    schedule = fromBetas(kind, beta);
    cache.set(key, schedule);
  }
  return schedule;
}

/** Smallest t in 1…T with values[t] < threshold, or −1 if none (e.g. where ᾱ_t first drops below ½). */
export function firstTBelow(values: ArrayLike<number>, threshold: number): number {
  for (let t = 1; t < values.length; t++) if (values[t] < threshold) return t;
  return -1;
}

/** Smallest t in 1…T with values[t] > threshold, or −1 if none. */
export function firstTAbove(values: ArrayLike<number>, threshold: number): number {
  for (let t = 1; t < values.length; t++) if (values[t] > threshold) return t;
  return -1;
}

/** First t at which the signal fraction ᾱ_t drops below ½ (signal and noise variance cross). */
export function halfSignalT(schedule: Schedule): number {
  return firstTBelow(schedule.alphaBar, 0.5);
}

/** How many t in 1…T have ᾱ_t < threshold (default NEARLY_PURE_NOISE_ALPHA_BAR = 1e-3): the near-pure-noise steps. */
export function nearlyPureNoiseSteps(schedule: Schedule, threshold = NEARLY_PURE_NOISE_ALPHA_BAR): number {
  let n = 0;
  for (let t = 1; t <= schedule.T; t++) if (schedule.alphaBar[t] < threshold) n++;
  return n;
}
