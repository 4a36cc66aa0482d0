/**
 * Consistency models (Song, Dhariwal, Chen & Sutskever 2023, "Consistency Models", arXiv 2303.01469) built on our
 * VP ε-network (the DDPM schedule), in the noise-level variable σ of Karras et al. 2022 (arXiv 2206.00364).
 *
 * | name            | symbol                                                | where                                      |
 * |-----------------|-------------------------------------------------------|--------------------------------------------|
 * | `sigma`         | σ_t = √((1−ᾱ_t)/ᾱ_t), y = x_t/√ᾱ_t = x_t·√(1+σ²)       | Karras et al. 2022, Table 1 (VP)           |
 * | consistency fn  | f(y, σ) = c_skip(σ)·y + c_out(σ)·F(y, σ)               | Song et al. 2023, eq. 5                     |
 * | `cSkip`         | c_skip(σ) = σ_d² / ((σ − σ_min)² + σ_d²)               | Song et al. 2023, Appendix C (eq. 43)       |
 * | `cOut`          | c_out(σ) = σ_d (σ − σ_min) / √(σ_d² + σ²)              | Song et al. 2023, Appendix C (eq. 43)       |
 * | boundary        | f(y, σ_min) = y  (c_skip = 1, c_out = 0 exactly)       | Song et al. 2023, eq. 4                     |
 * | F from ε̂        | F = (σ y/√(σ²+σ_d²) − √(σ²+σ_d²) ε̂)/σ_d                 | Karras et al. 2022, eq. 7 and Table 1       |
 * | teacher step    | one Heun (or Euler = DDIM) step of dy/dσ = ε̂ from σ_{n+1} to σ_n | Karras et al. 2022, Algorithm 1 |
 * | CD loss         | λ·d(f_θ(y_{n+1}, σ_{n+1}), f_θ⁻(ŷ_n, σ_n)), θ⁻ ← μθ⁻ + (1−μ)θ | Song et al. 2023, eq. 7, Algorithm 2 |
 * | pseudo-Huber    | d(a, b) = √(‖a − b‖² + c²) − c                          | Song & Dhariwal 2023 (arXiv 2310.14189)     |
 * | sampling        | x̂ = f(y_N, σ_max); y = x̂ + √(σ² − σ_min²) z; x̂ = f(y, σ) … | Song et al. 2023, Algorithm 1           |
 *
 * Why F comes from ε̂ this way: EDM writes its denoiser as D = c_skip^E·y + c_out^E·F with c_skip^E = σ_d²/(σ²+σ_d²)
 * and c_out^E = σσ_d/√(σ²+σ_d²) (Table 1). Choosing F as above makes D = y − σ·ε̂, the ε-network's own estimate of
 * the clean digit, for every σ. The consistency model then uses the same F with Song et al.'s c_skip and c_out, which
 * differ from EDM's only by the shift σ → σ − σ_min: a student initialised with the teacher's weights starts as the
 * teacher's one-step x̂₀ (up to that shift) and obeys the boundary condition exactly. F is finite for every σ ≥ 0, so
 * f is an affine combination of y and ε̂ with scalar weights a(σ), b(σ) (`consistencyWeights`):
 *   f = a·y + b·ε̂,  a = c_skip + c_out·σ/(σ_d√(σ²+σ_d²)),  b = −c_out·√(σ²+σ_d²)/σ_d,  a(σ_min) = 1, b(σ_min) = 0.
 *
 * The noise levels of a model live on an N-point grid of integer timesteps t_1 = 1 < … < t_N = T
 * (`consistencyGrid`): the Karras ρ = 7 spacing between σ(1) and σ(T), snapped to integers as samplers/karras.ts
 * does, so the teacher network is only ever asked at the timesteps it was trained on. σ_min = σ(t_1).
 * Everything here works on x_t (the VP state the samplers carry); y appears only inside the formulas.
 */
import * as tf from '@tensorflow/tfjs-core';
import { karrasTimesteps, sigmaOf } from './samplers/karras';
import { spacedTimesteps } from './samplers/spacing';
import { dropLabels } from './guidance';
import type { Rng } from './rng';
import type { EpsModel, Schedule } from './types';

/** σ_d, the data's standard deviation the parameterisation assumes (Song et al. 2023 and Karras et al. 2022 use 0.5). */
export const CONSISTENCY_SIGMA_DATA = 0.5;
/**
 * N, the points of the distillation grid of our model (consistency-mnist; its model.json records it). Song et al. 2023
 * distil CIFAR-10 with N = 18 and Heun; a coarser grid carries the boundary condition up to σ_max in fewer hops.
 */
export const CONSISTENCY_GRID_SIZE = 12;
/**
 * t_N, the grid's top timestep for our model. Read off an ε-network, ∂f/∂ε̂ grows like σ (b ≈ −σ), so at t = 1000 of
 * the linear schedule (σ ≈ 157) the network would have to place its noise estimate to within a thousandth to draw a
 * digit, beyond what float16 weights hold. At t = 800 (σ ≈ 25) a run reads x_T ~ N(0, I) as x_800, whose signal
 * √ᾱ ≈ 0.04 is then taken to be zero; the teacher's own ODE from there loses little (see the model card).
 */
export const CONSISTENCY_T_MAX = 800;

export interface ConsistencySpec {
  /** N, the grid's points. */
  gridSize: number;
  /** t_N, the grid's top timestep. */
  tMax: number;
  /** σ_d. */
  sigmaData: number;
}

/** Song et al. 2023, Appendix C: c_skip(σ) = σ_d²/((σ − σ_min)² + σ_d²), c_out(σ) = σ_d(σ − σ_min)/√(σ_d² + σ²). */
export function consistencyCoefficients(sigma: number, sigmaMin: number, sigmaData = CONSISTENCY_SIGMA_DATA): { cSkip: number; cOut: number } {
  if (!(sigma >= sigmaMin)) throw new RangeError(`σ = ${sigma} is below σ_min = ${sigmaMin}`);
  const d = sigma - sigmaMin;
  const sd2 = sigmaData * sigmaData;
  return { cSkip: sd2 / (d * d + sd2), cOut: (sigmaData * d) / Math.sqrt(sd2 + sigma * sigma) };
}

/** Karras et al. 2022, Table 1 (EDM preconditioning): c_skip = σ_d²/(σ² + σ_d²), c_out = σσ_d/√(σ² + σ_d²). */
export function edmCoefficients(sigma: number, sigmaData = CONSISTENCY_SIGMA_DATA): { cSkip: number; cOut: number } {
  const sd2 = sigmaData * sigmaData;
  return { cSkip: sd2 / (sigma * sigma + sd2), cOut: (sigma * sigmaData) / Math.sqrt(sigma * sigma + sd2) };
}

/**
 * f = a·y + b·ε̂ with F from ε̂ (module comment): a = c_skip + c_out·σ/(σ_d√(σ²+σ_d²)), b = −c_out·√(σ²+σ_d²)/σ_d.
 * At σ = σ_min, a = 1 and b = 0 exactly (c_out is an exact 0 there).
 */
export function consistencyWeights(sigma: number, sigmaMin: number, sigmaData = CONSISTENCY_SIGMA_DATA): { a: number; b: number } {
  const { cSkip, cOut } = consistencyCoefficients(sigma, sigmaMin, sigmaData);
  const r = Math.sqrt(sigma * sigma + sigmaData * sigmaData);
  return { a: cSkip + (cOut * sigma) / (sigmaData * r), b: (-cOut * r) / sigmaData };
}

/**
 * The N-point grid t_1 = 1 < … < t_N = tMax (ascending): Karras ρ = 7 between σ(1) and σ(tMax), snapped to integers.
 * tMax defaults to T; a lower top keeps the noisiest level's σ moderate (see the module comment).
 */
export function consistencyGrid(schedule: Schedule, gridSize = CONSISTENCY_GRID_SIZE, tMax = schedule.T): number[] {
  if (!Number.isInteger(tMax) || tMax < 2 || tMax > schedule.T) throw new RangeError(`the grid's top must be an integer in 2…${schedule.T}, got ${tMax}`);
  if (!Number.isInteger(gridSize) || gridSize < 2 || gridSize > tMax) throw new RangeError(`the grid needs 2…${tMax} points, got ${gridSize}`);
  const ends = spacedTimesteps(tMax, gridSize, 'linspace'); // tMax … 1, descending
  if (ends[0] !== tMax || ends[ends.length - 1] !== 1) throw new Error(`grid ends ${ends[0]}, ${ends[ends.length - 1]} are not ${tMax}, 1`);
  return karrasTimesteps(schedule, ends).reverse();
}

/** σ_min of a schedule's grid: σ(t_1) = σ(1). */
export function consistencySigmaMin(schedule: Schedule): number {
  return sigmaOf(schedule, 1);
}

/**
 * The timesteps a k-step consistency run visits (descending, on the grid): t_N first, then grid points at evenly
 * spaced grid indices, i_j = round((N − 1)(1 − j/k)) for j = 0 … k − 1 (distinct, all above the boundary).
 */
export function consistencyTimesteps(schedule: Schedule, steps: number, gridSize = CONSISTENCY_GRID_SIZE, tMax = schedule.T): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > gridSize - 1) throw new RangeError(`a consistency run takes 1…${gridSize - 1} steps, got ${steps}`);
  const grid = consistencyGrid(schedule, gridSize, tMax);
  return Array.from({ length: steps }, (_, j) => grid[Math.round((gridSize - 1) * (1 - j / steps))]);
}

/** A per-example scalar array as a [n, 1, 1, 1] tensor (broadcasts over an image batch). */
function perExample(values: ArrayLike<number>): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(values), [values.length, 1, 1, 1], 'float32');
}

/**
 * f(x_t, t) from x_t and the network's ε̂ at one timestep per example: a·√(1+σ²)·x_t + b·ε̂ (module comment).
 * `t` holds each example's integer timestep (≥ 1). New tensor; x and eps are not disposed.
 */
export function consistencyOutput(x: tf.Tensor4D, eps: tf.Tensor4D, schedule: Schedule, t: ArrayLike<number>, sigmaData = CONSISTENCY_SIGMA_DATA): tf.Tensor4D {
  const sigmaMin = consistencySigmaMin(schedule);
  const aScaled: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const sigma = sigmaOf(schedule, t[i]);
    const w = consistencyWeights(sigma, sigmaMin, sigmaData);
    aScaled.push(w.a * Math.sqrt(1 + sigma * sigma));
    b.push(w.b);
  }
  return tf.tidy(() => tf.add(tf.mul(x, perExample(aScaled)), tf.mul(eps, perExample(b))));
}

/**
 * The consistency function of an ε-network: f_θ(x_t, t) for each example's timestep. Examples at the boundary
 * (t = 1, σ = σ_min) come back as x_t·√(1+σ_min²) = y exactly; when every example is there the network is not called.
 * New tensor.
 */
export function consistencyFunction(
  model: EpsModel,
  x: tf.Tensor4D,
  t: ArrayLike<number>,
  schedule: Schedule,
  classes?: ArrayLike<number>,
  sigmaData = CONSISTENCY_SIGMA_DATA,
): tf.Tensor4D {
  if (t.length !== x.shape[0]) throw new RangeError(`${t.length} timesteps for ${x.shape[0]} examples`);
  for (let i = 0; i < t.length; i++) if (!Number.isInteger(t[i]) || t[i] < 1 || t[i] > schedule.T) throw new RangeError(`timestep ${t[i]} is not an integer in 1…${schedule.T}`);
  return tf.tidy(() => {
    if (Array.prototype.every.call(t, (v: number) => v === 1)) return tf.mul(x, Math.sqrt(1 + consistencySigmaMin(schedule) ** 2)) as tf.Tensor4D;
    const eps = model(x, tf.tensor1d(Int32Array.from(t), 'int32'), classes ? tf.tensor1d(Int32Array.from(classes), 'int32') : undefined);
    return consistencyOutput(x, eps, schedule, t, sigmaData);
  });
}

export type TeacherSolver = 'heun' | 'euler';

/**
 * One step of the probability-flow ODE dy/dσ = ε̂(y, σ) from t_{n+1} to t_n per example, on x_t (Karras et al. 2022,
 * Algorithm 1 with S_churn = 0; Euler is DDIM): y = x√(1+σ²), y_E = y + (σ′ − σ)ε̂, and for Heun
 * y′ = y + (σ′ − σ)(ε̂ + ε̂′)/2 with ε̂′ at (y_E, σ′); returned as x_{t_n} = y′/√(1+σ′²). New tensor.
 */
export function teacherStep(
  teacher: EpsModel,
  x: tf.Tensor4D,
  tFrom: ArrayLike<number>,
  tTo: ArrayLike<number>,
  schedule: Schedule,
  classes?: ArrayLike<number>,
  solver: TeacherSolver = 'heun',
): tf.Tensor4D {
  const n = x.shape[0];
  if (tFrom.length !== n || tTo.length !== n) throw new RangeError(`timesteps for ${tFrom.length}/${tTo.length} examples, the batch has ${n}`);
  const sFrom = Array.from(tFrom, (t) => sigmaOf(schedule, t));
  const sTo = Array.from(tTo, (t) => sigmaOf(schedule, t));
  for (let i = 0; i < n; i++) if (!(tTo[i] >= 1 && tTo[i] < tFrom[i])) throw new RangeError(`a teacher step goes down to t ≥ 1, got ${tFrom[i]} → ${tTo[i]}`);
  return tf.tidy(() => {
    const c = classes ? tf.tensor1d(Int32Array.from(classes), 'int32') : undefined;
    const y = tf.mul(x, perExample(sFrom.map((s) => Math.sqrt(1 + s * s))));
    const h = perExample(sFrom.map((s, i) => sTo[i] - s));
    const d = teacher(x, tf.tensor1d(Int32Array.from(tFrom), 'int32'), c);
    const yEuler = tf.add(y, tf.mul(d, h));
    const toX = perExample(sTo.map((s) => 1 / Math.sqrt(1 + s * s)));
    if (solver === 'euler') return tf.mul(yEuler, toX) as tf.Tensor4D;
    const xEuler = tf.mul(yEuler, toX) as tf.Tensor4D;
    const dNext = teacher(xEuler, tf.tensor1d(Int32Array.from(tTo), 'int32'), c);
    return tf.mul(tf.add(y, tf.mul(tf.add(d, dNext), tf.mul(h, 0.5))), toX) as tf.Tensor4D;
  });
}

/** Per-example distances d(a, b) averaged over the batch: 'l2' ‖a − b‖²/D (the mean square) or pseudo-Huber √(‖a − b‖² + c²) − c. */
export type ConsistencyDistance = { kind: 'l2' } | { kind: 'pseudoHuber'; c: number };

/** Song & Dhariwal 2023: c = 0.00054·√D for D values per example. */
export function pseudoHuberC(valuesPerExample: number): number {
  return 0.00054 * Math.sqrt(valuesPerExample);
}

/** The batch mean of λ_i·d(a_i, b_i) (a scalar); λ = 1 without weights. */
export function consistencyDistance(a: tf.Tensor4D, b: tf.Tensor4D, distance: ConsistencyDistance, weights?: ArrayLike<number>): tf.Scalar {
  if (weights !== undefined && weights.length !== a.shape[0]) throw new RangeError(`${weights.length} weights for ${a.shape[0]} examples`);
  return tf.tidy(() => {
    const sq = tf.sum(tf.squaredDifference(a, b), [1, 2, 3]);
    const d = distance.kind === 'l2' ? tf.div(sq, a.size / a.shape[0]) : tf.sub(tf.sqrt(tf.add(sq, distance.c * distance.c)), distance.c);
    return tf.mean(weights === undefined ? d : tf.mul(d, tf.tensor1d(Float32Array.from(weights), 'float32'))) as tf.Scalar;
  });
}

/**
 * How the pairs of the grid are weighted: 'uniform' λ = 1 (Song et al. 2023), or 'inverseGap'
 * λ(σ_n, σ_{n+1}) = 1/(σ_{n+1} − σ_n) (Song & Dhariwal 2023, arXiv 2310.14189, their improved weighting), divided by its mean over the grid's pairs so the
 * average weight stays 1. With F read off an ε-network, ∂f/∂ε̂ grows like σ, so uniform weights let the noisiest
 * pairs dominate every gradient; the inverse gap roughly evens out what each pair asks of the network.
 */
export type PairWeighting = 'uniform' | 'inverseGap';

/** λ for each grid index n (the pair grid[n] → grid[n + 1]); all 1 for 'uniform'. */
export function pairWeights(schedule: Schedule, grid: readonly number[], weighting: PairWeighting = 'uniform'): Float64Array {
  const w = new Float64Array(grid.length - 1).fill(1);
  if (weighting === 'uniform') return w;
  if (weighting !== 'inverseGap') throw new RangeError(`unknown weighting ${String(weighting)}`);
  for (let n = 0; n < w.length; n++) w[n] = 1 / (sigmaOf(schedule, grid[n + 1]) - sigmaOf(schedule, grid[n]));
  const mean = w.reduce((s, v) => s + v, 0) / w.length;
  return w.map((v) => v / mean);
}

/** One consistency-distillation step's random draws (all from the run's one random stream). */
export interface DistillationDraws {
  /** Per example, the grid index n ∈ 0 … N − 2 (0-based): the pair (t_{n+1}, t_{n+2}) in the paper's 1-based terms. */
  index: Int32Array;
  /** ε, one N(0, I) image per example (NHWC, flat). */
  eps: Float32Array;
  /** Class ids (the null class for dropped labels), absent for an unconditional model. */
  classes?: Int32Array;
}

/** Draw a distillation batch's grid indices (uniform on 0 … N − 2), dropped labels and ε, in that order, from one stream. */
export function drawDistillation(rng: Rng, shape: readonly [number, number, number, number], gridSize: number, classes: ArrayLike<number> | undefined, numClasses: number, pUncond: number): DistillationDraws {
  const [n, h, w, c] = shape;
  const index = new Int32Array(n);
  for (let i = 0; i < n; i++) index[i] = rng.uniformInt(gridSize - 1);
  const dropped = dropLabels(rng, n, classes, numClasses, pUncond);
  const eps = new Float32Array(n * h * w * c);
  for (let i = 0; i < eps.length; i++) eps[i] = rng.normal();
  return { index, eps, classes: dropped };
}

export interface DistillationOptions {
  grid: readonly number[];
  schedule: Schedule;
  solver?: TeacherSolver;
  distance?: ConsistencyDistance;
  sigmaData?: number;
  /** λ of each pair (default 'uniform'). */
  weighting?: PairWeighting;
}

/**
 * The pieces of one consistency-distillation loss (Song et al. 2023, Algorithm 2): for each example with grid
 * index n, x at the upper point t⁺ = grid[n + 1] is x₀ + noise (x_{t⁺} = √ᾱ x₀ + √(1−ᾱ) ε), the teacher takes it
 * one ODE step to t⁻ = grid[n], and the target network's f at (x̂_{t⁻}, t⁻) is the target (no gradient).
 * Returns the target and the upper state. New tensors.
 */
export function distillationTarget(
  target: EpsModel,
  teacher: EpsModel,
  x0: tf.Tensor4D,
  draws: DistillationDraws,
  opts: DistillationOptions,
): { xUpper: tf.Tensor4D; tUpper: Int32Array; target: tf.Tensor4D } {
  const { grid, schedule } = opts;
  const n = x0.shape[0];
  if (draws.index.length !== n) throw new RangeError(`${draws.index.length} grid indices for ${n} examples`);
  const tUpper = new Int32Array(n);
  const tLower = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = draws.index[i];
    if (!Number.isInteger(k) || k < 0 || k > grid.length - 2) throw new RangeError(`grid index ${k} is outside 0…${grid.length - 2}`);
    tLower[i] = grid[k];
    tUpper[i] = grid[k + 1];
  }
  return tf.tidy(() => {
    const eps = tf.tensor4d(draws.eps, x0.shape, 'float32');
    const ab = Array.from(tUpper, (t) => schedule.alphaBar[t]);
    const xUpper = tf.add(tf.mul(x0, perExample(ab.map(Math.sqrt))), tf.mul(eps, perExample(ab.map((v) => Math.sqrt(1 - v))))) as tf.Tensor4D;
    const xLower = teacherStep(teacher, xUpper, tUpper, tLower, schedule, draws.classes, opts.solver ?? 'heun');
    // No gradient reaches θ⁻: the target network holds its own variables (an EMA copy), which the optimiser never lists.
    const tgt = consistencyFunction(target, xLower, tLower, schedule, draws.classes, opts.sigmaData);
    return { xUpper, tUpper, target: tgt };
  });
}

/** The consistency-distillation loss λ·d(f_θ(x_{t⁺}, t⁺), f_θ⁻(x̂_{t⁻}, t⁻)) averaged over the batch (Song et al. 2023, eq. 7; λ by `weighting`). */
export function distillationLoss(
  student: EpsModel,
  target: EpsModel,
  teacher: EpsModel,
  x0: tf.Tensor4D,
  draws: DistillationDraws,
  opts: DistillationOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const { xUpper, tUpper, target: tgt } = distillationTarget(target, teacher, x0, draws, opts);
    const pred = consistencyFunction(student, xUpper, tUpper, opts.schedule, draws.classes, opts.sigmaData);
    const pw = (opts.weighting ?? 'uniform') === 'uniform' ? null : pairWeights(opts.schedule, opts.grid, opts.weighting);
    const lambda = pw === null ? undefined : Array.from(draws.index, (k) => pw[k]);
    return consistencyDistance(pred, tgt, opts.distance ?? { kind: 'pseudoHuber', c: pseudoHuberC(x0.size / x0.shape[0]) }, lambda);
  });
}
