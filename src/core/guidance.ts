/**
 * From an ε-network to the `Denoiser` a sampler runs ("wrap, don't branch", as in k-diffusion): conditioning
 * and classifier-free guidance are wrappers, so samplers never know which model or guidance they drive.
 *
 * Two conventions for the guidance strength (both appear on the site; convert with wFromScale / scaleFromW):
 * - Ho & Salimans 2022, eq. 6: ε̃ = (1 + w) ε(x, c) − w ε(x, ∅); w = 0 is the plain conditional model.
 * - Stable Diffusion's guidance scale s = 1 + w: ε̃ = ε(x, ∅) + s (ε(x, c) − ε(x, ∅)); s = 1 is conditional.
 * A negative class replaces ∅ in the second branch (the analogue of a negative prompt): ε̃ is pushed away from it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from './rng';
import type { Denoiser, EpsModel, TextContext } from './types';

/** One class id for every example, or one per example; `null` entries mean the null class ∅. */
export type ClassSpec = number | ArrayLike<number | null>;

/** Ho & Salimans' w from Stable Diffusion's guidance scale: w = s − 1. */
export function wFromScale(scale: number): number {
  return scale - 1;
}

/** Stable Diffusion's guidance scale from Ho & Salimans' w: s = 1 + w. */
export function scaleFromW(w: number): number {
  return 1 + w;
}

/** Resolve a ClassSpec to n integer ids (null → nullClass). */
export function classIds(classes: ClassSpec, n: number, nullClass?: number): number[] {
  const ids = typeof classes === 'number' ? new Array<number | null>(n).fill(classes) : Array.from(classes);
  if (ids.length !== n) throw new RangeError(`expected ${n} class ids (one per example), got ${ids.length}`);
  return ids.map((c) => {
    const id = c === null ? nullClass : c;
    if (id === undefined) throw new TypeError('a null class entry needs nullClass');
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`class id ${id} is not a non-negative integer`);
    return id;
  });
}

/**
 * The [n] tensor of one shared timestep t, as EpsModel takes it (caller disposes): int32 for the integer timesteps
 * of a diffusion schedule, float32 for the continuous times of a flow (t = FLOW_T·s, src/core/flow.ts).
 */
export function timestepTensor(t: number, n: number): tf.Tensor1D {
  return tf.fill([n], t, Number.isInteger(t) ? 'int32' : 'float32') as tf.Tensor1D;
}

/** Classifier-free guidance on two ε estimates: (1 + w) ε_c − w ε_u (Ho & Salimans 2022, eq. 6). New tensor. */
export function guidedEps(epsCond: tf.Tensor4D, epsUncond: tf.Tensor4D, w: number): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.mul(epsCond, 1 + w), tf.mul(epsUncond, w)));
}

/** A Denoiser from an unconditional ε-network: ε̂ = ε_θ(x_t, t). */
export function unconditional(model: EpsModel): Denoiser {
  return (x, t) => tf.tidy(() => model(x, timestepTensor(t, x.shape[0])));
}

/** A Denoiser for fixed classes: ε̂ = ε_θ(x_t, t, c); null entries (or c = nullClass) give the unconditional ε(x, ∅). */
export function conditioned(model: EpsModel, classes: ClassSpec, nullClass?: number): Denoiser {
  return (x, t) =>
    tf.tidy(() => {
      const n = x.shape[0];
      return model(x, timestepTensor(t, n), tf.tensor1d(classIds(classes, n, nullClass), 'int32'));
    });
}

export interface GuidanceOptions {
  /** Class(es) to generate. */
  classes: ClassSpec;
  /** Guidance strength w ≥ 0 of Ho & Salimans (s = 1 + w in Stable Diffusion's convention). */
  w: number;
  /** Id of the null class ∅ (the model's numClasses). */
  nullClass: number;
  /** Optional class(es) that replace ∅ in the second branch, steering away from them. */
  negative?: ClassSpec;
}

/**
 * Classifier-free guidance as a Denoiser (Ho & Salimans 2022): one batched pass over concat([x, x]) with
 * classes concat([c, ∅ or negative]), split, then ε̃ = (1 + w) ε(x, c) − w ε(x, ∅).
 */
export function classifierFreeGuidance(model: EpsModel, opts: GuidanceOptions): Denoiser {
  const { classes, w, nullClass, negative } = opts;
  if (!Number.isFinite(w)) throw new RangeError(`w must be finite, got ${w}`);
  return (x, t) =>
    tf.tidy(() => {
      const n = x.shape[0];
      const cond = classIds(classes, n, nullClass);
      const uncond = negative === undefined ? new Array<number>(n).fill(nullClass) : classIds(negative, n, nullClass);
      const eps = model(tf.concat([x, x], 0), timestepTensor(t, 2 * n), tf.tensor1d([...cond, ...uncond], 'int32'));
      const [epsCond, epsUncond] = tf.split(eps, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
      return guidedEps(epsCond, epsUncond, w);
    });
}

/** A context for a batch of n: `c` itself when it has n rows, its single row repeated when it has one. New tensors. */
function contextRows(c: TextContext, n: number): { states: tf.Tensor3D; mask: tf.Tensor2D } {
  const rows = c.states.shape[0];
  if (rows === n) return { states: c.states.clone(), mask: c.mask.clone() };
  if (rows !== 1) throw new RangeError(`a prompt context has ${rows} rows; expected 1 or ${n}`);
  return { states: tf.tile(c.states, [n, 1, 1]), mask: tf.tile(c.mask, [n, 1]) };
}

/** A Denoiser for a fixed prompt: ε̂ = ε_θ(x_t, t, prompt); one context row is shared by the whole batch. */
export function promptConditioned(model: EpsModel, prompt: TextContext): Denoiser {
  return (x, t) =>
    tf.tidy(() => {
      const n = x.shape[0];
      return model(x, timestepTensor(t, n), undefined, { ...contextRows(prompt, n), onAttention: prompt.onAttention });
    });
}

export interface PromptGuidanceOptions {
  /** The prompt's token states and mask (1 row, shared, or one per example). */
  prompt: TextContext;
  /**
   * The second branch: the empty prompt's states for plain classifier-free guidance, or a negative prompt's, which
   * replaces the unconditional prediction (as diffusers' `negative_prompt` does).
   */
  negative: TextContext;
  /** Guidance strength w ≥ 0 of Ho & Salimans (Stable Diffusion's scale s = 1 + w). */
  w: number;
}

/**
 * Classifier-free guidance on prompts (Ho & Salimans 2022, eq. 6, with the text encoder's states as the condition):
 * one batched pass over concat([x, x]) with contexts concat([prompt, negative]), then
 * ε̃ = (1 + w) ε(x, prompt) − w ε(x, negative) = ε(x, negative) + s (ε(x, prompt) − ε(x, negative)).
 * The prompt's `onAttention` sees the weights of both halves: rows 0 … n − 1 are the prompt's.
 */
export function promptGuidance(model: EpsModel, opts: PromptGuidanceOptions): Denoiser {
  const { prompt, negative, w } = opts;
  if (!Number.isFinite(w)) throw new RangeError(`w must be finite, got ${w}`);
  if (prompt.states.shape[2] !== negative.states.shape[2] || prompt.states.shape[1] !== negative.states.shape[1]) {
    throw new RangeError(`prompt states [${prompt.states.shape}] and negative states [${negative.states.shape}] differ in shape`);
  }
  return (x, t) =>
    tf.tidy(() => {
      const n = x.shape[0];
      const p = contextRows(prompt, n);
      const q = contextRows(negative, n);
      const context: TextContext = { states: tf.concat([p.states, q.states], 0), mask: tf.concat([p.mask, q.mask], 0), onAttention: prompt.onAttention };
      const eps = model(tf.concat([x, x], 0), timestepTensor(t, 2 * n), undefined, context);
      const [epsCond, epsNeg] = tf.split(eps, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
      return guidedEps(epsCond, epsNeg, w);
    });
}

/**
 * Label dropout for classifier-free guidance (Ho & Salimans 2022): each of the n labels (∅ = numClasses when `classes`
 * is undefined) is replaced by ∅ with probability pUncond, one uniform draw per label; undefined for an unconditional
 * model (numClasses = 0), which draws nothing.
 */
export function dropLabels(rng: Rng, n: number, classes: ArrayLike<number> | undefined, numClasses: number, pUncond: number): Int32Array | undefined {
  if (!(numClasses > 0)) return undefined;
  const dropped = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = classes === undefined ? numClasses : classes[i];
    if (!Number.isInteger(label) || label < 0 || label > numClasses) throw new RangeError(`class id ${label} is not in 0…${numClasses}`);
    dropped[i] = rng.uniform() < pUncond ? numClasses : label;
  }
  return dropped;
}
