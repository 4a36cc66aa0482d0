/**
 * The loop shared by every sampler: tensor ownership, noise consumption, `onStep` and abort handling.
 * A sampler supplies its list of (t → tPrev) transitions, σ of each transition, and a pure step function.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser, SampleOptions } from '../types';

/** The error a sampler rejects with when its AbortSignal fires (name 'AbortError', like fetch). */
export function abortError(message = 'Sampling was aborted'): Error {
  if (typeof DOMException === 'function') return new DOMException(message, 'AbortError');
  const err = new Error(message);
  err.name = 'AbortError';
  return err;
}

/** Throws an AbortError if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError();
}

/** What one step returns (new tensors, owned by the loop). */
export interface StepResult {
  /** The new state x_{tPrev}. */
  x: tf.Tensor4D;
  /** x̂_0 used by the step (clipped when clipX0). */
  x0Pred: tf.Tensor4D;
}

/** One reverse transition t → tPrev and its noise scale σ (noise is drawn exactly when σ > 0). */
export interface Transition {
  t: number;
  tPrev: number;
  sigma: number;
}

/** A pure step: (x_t, ε̂, z or null) → new tensors; it runs inside the loop's tf.tidy. */
export type StepFn = (x: tf.Tensor4D, eps: tf.Tensor4D, transition: Transition, z: tf.Tensor4D | null) => StepResult;

/**
 * Runs the transitions in order. Each step body is one tf.tidy that returns only the new state (plus x̂_0, ε̂
 * for onStep, disposed after the callback); the old state is disposed; xT is never disposed.
 */
export async function runSampler(
  denoiser: Denoiser,
  xT: tf.Tensor4D,
  transitions: readonly Transition[],
  step: StepFn,
  opts: SampleOptions,
): Promise<tf.Tensor4D> {
  if (transitions.length === 0) throw new RangeError('a sampler needs at least one step');
  const { noise, onStep, signal } = opts;
  if (noise === undefined) throw new TypeError('opts.noise is required (randomness is an argument)');
  let x = xT;
  try {
    for (let index = 0; index < transitions.length; index++) {
      throwIfAborted(signal);
      const tr = transitions[index];
      const prev = x;
      const out = tf.tidy(() => {
        let eps = denoiser(prev, tr.t);
        if (eps === prev) eps = tf.clone(eps); // a denoiser must not hand back its input; keep ownership clear
        const z = tr.sigma > 0 ? (noise.normal(prev.shape) as tf.Tensor4D) : null;
        const r = step(prev, eps, tr, z);
        // Distinct new tensors, so disposing the old state, x̂_0 and ε̂ can never free the new state.
        const next = r.x === prev ? tf.clone(r.x) : r.x;
        return {
          x: next,
          x0Pred: r.x0Pred === next || r.x0Pred === prev ? tf.clone(r.x0Pred) : r.x0Pred,
          eps: eps === next ? tf.clone(eps) : eps,
        };
      });
      x = out.x as tf.Tensor4D;
      if (prev !== xT) prev.dispose();
      try {
        if (onStep !== undefined) {
          await onStep({
            index,
            steps: transitions.length,
            t: tr.t,
            tPrev: tr.tPrev,
            x,
            x0Pred: out.x0Pred as tf.Tensor4D,
            eps: out.eps as tf.Tensor4D,
          });
        }
      } finally {
        (out.x0Pred as tf.Tensor).dispose();
        (out.eps as tf.Tensor).dispose();
      }
    }
    throwIfAborted(signal);
  } catch (err) {
    if (x !== xT) x.dispose();
    throw err;
  }
  return x;
}
