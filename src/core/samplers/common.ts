/**
 * The loops shared by every sampler: tensor ownership, noise consumption, `onStep` and abort handling. `runLoop`
 * takes a step body that may call the network any number of times (Heun, multistep solvers); `runSampler` is the
 * single-call form (DDPM, DDIM): a list of (t → tPrev) transitions, σ of each, and a pure step function.
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

/** What one step of a general loop returns (new tensors, owned by the loop): the new state and, for onStep, x̂_0 and ε̂ at t. */
export interface LoopStepResult {
  x: tf.Tensor4D;
  x0Pred: tf.Tensor4D;
  eps: tf.Tensor4D;
}

/** The (t → tPrev) pair a loop step reports in its StepInfo. */
export interface StepLabel {
  t: number;
  tPrev: number;
}

/**
 * A loop step: x (the current state, never disposed by the step) and the step index → new tensors. It runs inside
 * the loop's tf.tidy, so everything else it creates is freed; it may call the denoiser any number of times.
 */
export type LoopBody = (x: tf.Tensor4D, index: number) => LoopStepResult;

/**
 * The general loop under every sampler (single-step, multistep, or several network calls per step). Each step body
 * is one tf.tidy that returns only the new state plus x̂_0 and ε̂ for onStep (disposed after the callback); the old
 * state is disposed; xT is never disposed; on abort or error everything the loop made is freed. State a sampler
 * keeps across steps (a multistep history) is the sampler's to free, e.g. in a finally around this call.
 */
export async function runLoop(
  xT: tf.Tensor4D,
  labels: readonly StepLabel[],
  body: LoopBody,
  opts: Pick<SampleOptions, 'onStep' | 'signal'>,
): Promise<tf.Tensor4D> {
  if (labels.length === 0) throw new RangeError('a sampler needs at least one step');
  const { onStep, signal } = opts;
  let x = xT;
  try {
    for (let index = 0; index < labels.length; index++) {
      throwIfAborted(signal);
      const label = labels[index];
      const prev = x;
      const out = tf.tidy(() => {
        const r = body(prev, index);
        // Distinct new tensors, so disposing the old state, x̂_0 and ε̂ can never free the new state.
        const next = r.x === prev ? tf.clone(r.x) : r.x;
        return {
          x: next,
          x0Pred: r.x0Pred === next || r.x0Pred === prev ? tf.clone(r.x0Pred) : r.x0Pred,
          eps: r.eps === next || r.eps === prev || r.eps === r.x0Pred ? tf.clone(r.eps) : r.eps,
        };
      });
      x = out.x;
      if (prev !== xT) prev.dispose();
      try {
        if (onStep !== undefined) {
          await onStep({ index, steps: labels.length, t: label.t, tPrev: label.tPrev, x, x0Pred: out.x0Pred, eps: out.eps });
        }
      } finally {
        out.x0Pred.dispose();
        out.eps.dispose();
      }
    }
    throwIfAborted(signal);
  } catch (err) {
    if (x !== xT) x.dispose();
    throw err;
  }
  return x;
}

/** Calls the denoiser and makes sure its output is a tensor of its own (a denoiser must not hand back its input). */
export function callDenoiser(denoiser: Denoiser, x: tf.Tensor4D, t: number): tf.Tensor4D {
  const eps = denoiser(x, t);
  return eps === x ? tf.clone(eps) : eps;
}

/**
 * Runs single-step transitions in order: one network call per transition, noise drawn exactly when σ > 0, then the
 * pure step function (the DDPM/DDIM loop, built on runLoop).
 */
export async function runSampler(
  denoiser: Denoiser,
  xT: tf.Tensor4D,
  transitions: readonly Transition[],
  step: StepFn,
  opts: SampleOptions,
): Promise<tf.Tensor4D> {
  if (transitions.length === 0) throw new RangeError('a sampler needs at least one step');
  const { noise } = opts;
  if (noise === undefined) throw new TypeError('opts.noise is required (randomness is an argument)');
  return runLoop(
    xT,
    transitions,
    (prev, index) => {
      const tr = transitions[index];
      const eps = callDenoiser(denoiser, prev, tr.t);
      const z = tr.sigma > 0 ? (noise.normal(prev.shape) as tf.Tensor4D) : null;
      const r = step(prev, eps, tr, z);
      return { x: r.x, x0Pred: r.x0Pred, eps };
    },
    opts,
  );
}
