/**
 * Flow matching on the straight path (rectified flow): the objective, the conversions between what a network can
 * predict, and reflow.
 *
 *   x_s = (1 − s)·x₀ + s·ε,  s ∈ [0, 1],  ε ~ N(0, I)                    Liu, Gong & Liu 2023, eq. 1 (time reversed);
 *   v(x_s, s) = dx_s/ds = ε − x₀                                          Lipman et al. 2023, eq. 22–23 with σ_min = 0
 *   L(θ) = E_{s, x₀, ε} ‖v_θ(x_s, s) − (ε − x₀)‖²                        (conditional flow matching, eq. 9)
 *
 * s = 0 is data, s = 1 is noise (the direction our diffusion code counts t). Networks with the denoiser signature
 * read the time as t = FLOW_T·s (a float: the sinusoidal embedding takes any real t), so a flow U-Net is the
 * diffusion U-Net with another target. Sampling integrates dx/ds = v_θ(x, s) from s = 1 to s = 0
 * (samplers/flow.ts). Reflow (Liu et al. 2023, §2.3, "rectified flow … reflow"): draw noises ε, integrate the
 * trained flow to its samples x̂₀ = Φ(ε), and train a new flow on the fixed pairs (x̂₀, ε) instead of independent
 * ones; the new flow's paths cross less, so they are straighter and fewer steps follow them.
 *
 * Conversions for any Gaussian path x = a·x₀ + b·ε (given x and one prediction, the others follow):
 *   x₀ = (x − b·ε)/a,   ε = (x − a·x₀)/b
 *   straight path (a = 1 − s, b = s), flow velocity v = ε − x₀:   x₀ = x − s·v,   ε = x + (1 − s)·v
 *   variance-preserving path (a = √ᾱ_t = α, b = √(1 − ᾱ_t) = σ), the v-prediction of Salimans & Ho 2022 (§4,
 *   Appendix D) v = α·ε − σ·x₀:   x₀ = α·x − σ·v,   ε = σ·x + α·v
 *   The two paths are one family: x_vp(t)/(α + σ) = (1 − s)·x₀ + s·ε with s = σ/(α + σ) (Kingma & Gao 2023, §2;
 *   Esser et al. 2024, §2), so a diffusion model's ODE is a flow along the same Gaussian paths with another clock
 *   and scale.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from './rng';
import { dropLabels } from './guidance';
import type { EpsModel } from './types';

/** The network reads t = FLOW_T·s. */
export const FLOW_T = 1000;

/** x_s = (1 − s)·x₀ + s·ε, one s per example. New tensor. */
export function flowInterpolate(x0: tf.Tensor4D, eps: tf.Tensor4D, s: ArrayLike<number>): tf.Tensor4D {
  const n = x0.shape[0];
  if (s.length !== n) throw new RangeError(`expected ${n} times, got ${s.length}`);
  return tf.tidy(() => {
    const sv = tf.tensor4d(Float32Array.from(s), [n, 1, 1, 1]);
    return tf.add(tf.mul(tf.sub(1, sv), x0), tf.mul(sv, eps)) as tf.Tensor4D;
  });
}

/** The random draws of one flow-matching step (plain data). */
export interface FlowDraws {
  /** s_i ∈ (0, 1]. */
  s: Float32Array;
  /** Labels after dropout (id numClasses = ∅), or undefined for an unconditional model. */
  classes?: Int32Array;
  /** ε, N·H·W·C standard normals in NHWC order. */
  eps: Float32Array;
}

/** Draw s ~ U(0, 1), the dropped labels and ε for a batch of `shape`, in this order, from `rng`. */
export function drawFlow(rng: Rng, shape: readonly [number, number, number, number], classes: ArrayLike<number> | undefined, numClasses: number, pUncond: number): FlowDraws {
  const [n, h, w, c] = shape;
  const s = new Float32Array(n);
  // (0, 1): uniform() is in [0, 1); 1 − u is in (0, 1].
  for (let i = 0; i < n; i++) s[i] = 1 - rng.uniform();
  const dropped = dropLabels(rng, n, classes, numClasses, pUncond);
  const eps = new Float32Array(n * h * w * c);
  for (let i = 0; i < eps.length; i++) eps[i] = rng.normal();
  return { s, classes: dropped, eps };
}

/** The conditional flow-matching loss mean ‖v_θ(x_s, FLOW_T·s, c) − (ε − x₀)‖² over the batch and pixels. */
export function flowLoss(model: EpsModel, x0: tf.Tensor4D, draws: FlowDraws): tf.Scalar {
  return tf.tidy(() => {
    const eps = tf.tensor4d(draws.eps, x0.shape, 'float32');
    const xs = flowInterpolate(x0, eps, draws.s);
    const t = tf.tensor1d(Float32Array.from(draws.s, (v) => v * FLOW_T), 'float32');
    const classes = draws.classes ? tf.tensor1d(draws.classes, 'int32') : undefined;
    return tf.mean(tf.squaredDifference(model(xs, t, classes), tf.sub(eps, x0))) as tf.Scalar;
  });
}

/** Straight path: x̂₀ = x − s·v. New tensor. */
export function x0FromVelocity(x: tf.Tensor, v: tf.Tensor, s: number): tf.Tensor {
  return tf.tidy(() => tf.sub(x, tf.mul(v, s)));
}

/** Straight path: ε̂ = x + (1 − s)·v. New tensor. */
export function epsFromVelocity(x: tf.Tensor, v: tf.Tensor, s: number): tf.Tensor {
  return tf.tidy(() => tf.add(x, tf.mul(v, 1 - s)));
}

/** Straight path: v = ε − x₀ from an ε-prediction at s: x₀ = (x − s·ε)/(1 − s), so v = (ε − x)/(1 − s). s < 1. New tensor. */
export function velocityFromEps(x: tf.Tensor, eps: tf.Tensor, s: number): tf.Tensor {
  if (!(s < 1)) throw new RangeError(`the velocity is undetermined by ε at s = ${s} (x carries no data there)`);
  return tf.tidy(() => tf.div(tf.sub(eps, x), 1 - s));
}

/** Straight path: v = ε − x₀ from an x₀-prediction at s > 0: ε = (x − (1 − s)·x₀)/s, so v = (x − x₀)/s. New tensor. */
export function velocityFromX0(x: tf.Tensor, x0: tf.Tensor, s: number): tf.Tensor {
  if (!(s > 0)) throw new RangeError(`the velocity is undetermined by x₀ at s = ${s} (x is x₀ there)`);
  return tf.tidy(() => tf.div(tf.sub(x, x0), s));
}

/** Variance-preserving path with α = √ᾱ, σ = √(1 − ᾱ): the v-prediction target v = α·ε − σ·x₀ (Salimans & Ho 2022). New tensor. */
export function vPredictionTarget(x0: tf.Tensor, eps: tf.Tensor, alphaBar: number): tf.Tensor {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return tf.tidy(() => tf.sub(tf.mul(eps, a), tf.mul(x0, b)));
}

/** VP path: x̂₀ = α·x − σ·v and ε̂ = σ·x + α·v from a v-prediction. New tensors. */
export function fromVPrediction(x: tf.Tensor, v: tf.Tensor, alphaBar: number): { x0: tf.Tensor; eps: tf.Tensor } {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return tf.tidy(() => ({ x0: tf.sub(tf.mul(x, a), tf.mul(v, b)), eps: tf.add(tf.mul(x, b), tf.mul(v, a)) }));
}

/** The straight path's time s and scale for a variance-preserving x_t with ᾱ_t: x_vp/(α + σ) lies on the straight path at s = σ/(α + σ). */
export function straightTimeOfAlphaBar(alphaBar: number): { s: number; scale: number } {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return { s: b / (a + b), scale: 1 / (a + b) };
}
