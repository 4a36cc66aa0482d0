/**
 * Shared types of the diffusion core. Notation (Ho et al. 2020; Song et al. 2021):
 *
 * | name        | symbol        | meaning                                              |
 * |-------------|---------------|------------------------------------------------------|
 * | `t`         | t             | integer timestep, 0 (clean data) … T (pure noise)    |
 * | `beta`      | β_t           | variance added by forward step t                     |
 * | `alpha`     | α_t = 1 − β_t |                                                      |
 * | `alphaBar`  | ᾱ_t = ∏ α_s   | signal fraction kept after t steps (ᾱ_0 = 1)         |
 * | `eps`       | ε             | standard normal noise; ε̂ = ε_θ(x_t, t) its estimate  |
 * | `x0Pred`    | x̂_0           | the network's implied estimate of the clean image    |
 *
 * Every per-timestep array has length T + 1 and is indexed by t itself: entry 0 is the clean-data
 * state (β_0 = 0, ᾱ_0 = 1), entries 1 … T follow the paper.
 */
import type * as tf from '@tensorflow/tfjs-core';

export type ScheduleKind = 'linear' | 'cosine';

/** A noise schedule: immutable plain data, computed once (no tensors). */
export interface Schedule {
  readonly kind: ScheduleKind;
  readonly T: number;
  readonly beta: Float64Array;
  readonly alpha: Float64Array;
  readonly alphaBar: Float64Array;
  readonly sqrtAlphaBar: Float64Array;
  readonly sqrtOneMinusAlphaBar: Float64Array;
  /** SNR_t = ᾱ_t / (1 − ᾱ_t); Infinity at t = 0. */
  readonly snr: Float64Array;
  /** ln SNR_t; Infinity at t = 0. */
  readonly logSnr: Float64Array;
  /** Posterior variance β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t); 0 at t = 0 and t = 1. */
  readonly betaTilde: Float64Array;
}

/** A seeded source of standard normal noise, independent of the tfjs backend. */
export interface NoiseSource {
  /** A new float32 tensor of N(0, 1) samples; the caller disposes it. */
  normal(shape: number[]): tf.Tensor;
  /** The same stream as plain numbers (for tests and the worker). */
  normalArray(n: number): Float32Array;
}

/**
 * An ε-prediction model bound to whatever conditioning it needs: given x_t (NHWC) and the integer
 * timestep t shared by the batch, return ε̂ with the same shape. The caller owns (disposes) the result;
 * the denoiser never disposes its input.
 */
export type Denoiser = (x: tf.Tensor4D, t: number) => tf.Tensor4D;

/** What a sampler reports after each step. The tensors are only valid during the callback. */
export interface StepInfo {
  /** 0-based index of the step just taken. */
  index: number;
  /** Number of steps in this run. */
  steps: number;
  /** The timestep the step started from. */
  t: number;
  /** The timestep it moved to (0 at the end). */
  tPrev: number;
  /** The new state x_{tPrev}. */
  x: tf.Tensor4D;
  /** x̂_0 predicted at t. */
  x0Pred: tf.Tensor4D;
  /** ε̂ predicted at t. */
  eps: tf.Tensor4D;
}

export interface SampleOptions {
  /** Seeded noise for the stochastic terms (required: randomness is an argument). */
  noise: NoiseSource;
  /** Number of denoising steps (every sampler but DDPM, which always uses T). */
  steps?: number;
  /** DDIM stochasticity η ≥ 0 (0 = deterministic). */
  eta?: number;
  /** DDPM reverse variance: σ² = β_t or σ² = β̃_t. */
  variance?: 'beta' | 'betaTilde';
  /**
   * Which timesteps a run of `steps` steps visits: diffusers' `timestep_spacing` (see samplers/spacing.ts).
   * Defaults: DDIM 'leading'; DPM-Solver++, Euler and Heun 'linspace' (diffusers' defaults for those schedulers).
   */
  spacing?: 'leading' | 'trailing' | 'linspace';
  /** diffusers `steps_offset`: added to every visited timestep of a 'leading' grid (default 0). */
  stepsOffset?: number;
  /**
   * What ᾱ the last step lands on: 1 (true, the default: final σ zero) or ᾱ_1 (false: diffusers DDIM
   * `set_alpha_to_one = false`, DPM-Solver++ `final_sigmas_type = "sigma_min"`). Euler and Heun always end at σ = 0.
   */
  finalAlphaBarOne?: boolean;
  /** Clip x̂_0 to [−1, 1] before forming the update. */
  clipX0?: boolean;
  /**
   * DDIM with clipX0: 'recompute' (ours, default) re-derives ε̂ from the clipped x̂_0; 'keepEps' (diffusers'
   * clip_sample) clips x̂_0 but keeps the network's unclipped ε̂ in the direction term.
   */
  clipRule?: 'recompute' | 'keepEps';
  /**
   * Euler and Heun noise levels: 'timesteps' (default) the σ of the spacing's integer timesteps; 'karras' the
   * Karras et al. 2022 ρ = 7 spacing between the same end points, snapped to integer timesteps (see karras.ts).
   */
  sigmas?: 'timesteps' | 'karras';
  /**
   * DPM-Solver++: with fewer than 15 steps, take the last two steps at order ≤ 1 and ≤ 2 (diffusers
   * `lower_order_final`, default true). With final σ zero the last step is first order regardless.
   */
  lowerOrderFinal?: boolean;
  /** Called after every step; may be async (the sampler awaits it). */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Aborts the run between steps; the sampler then rejects with an AbortError and leaks nothing. */
  signal?: AbortSignal;
}

/** Every sampler has this one signature; xT is not disposed, the returned x_0 belongs to the caller. */
export type Sampler = (
  denoiser: Denoiser,
  xT: tf.Tensor4D,
  schedule: Schedule,
  opts: SampleOptions,
) => Promise<tf.Tensor4D>;

/**
 * The raw ε-network as the U-Net exposes it: x_t (NHWC), one integer timestep per example ([N], int32 or
 * float32) and, for a class-conditional model, one class id per example ([N] int32, where the id equal to
 * the model's `numClasses` is the null class ∅). Returns ε̂ (caller disposes); never disposes its inputs.
 */
export type EpsModel = (x: tf.Tensor4D, t: tf.Tensor1D, classes?: tf.Tensor1D, context?: TextContext) => tf.Tensor4D;

/**
 * What a text-conditioned ε-network reads (its cross-attention keys and values): a text encoder's per-token states
 * and which tokens are real. Not disposed by the network.
 */
export interface TextContext {
  /** [N, L, d] per-token states of the prompt (src/core/clip.ts `encodeText(...).states`). */
  states: tf.Tensor3D;
  /** [N, L]: 1 for tokens up to and including `<eos>`, 0 for padding (never attended to). */
  mask: tf.Tensor2D;
  /**
   * Called once per cross-attention layer during the forward pass with its weights [N, heads, positions, L]
   * (each row sums to 1 over the tokens). The tensor is disposed when the pass ends: copy what you keep.
   */
  onAttention?: (layer: string, weights: tf.Tensor4D) => void;
}
