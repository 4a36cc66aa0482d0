/**
 * Samplers for velocity models (flow matching, rectified flow; src/core/flow.ts): integrate dx/ds = v_θ(x, s) from
 * s = 1 (noise) to s = 0 (data) on a uniform grid s_i = 1 − i/N. The network is called through the same `Denoiser`
 * wrappers as a diffusion model (conditioning, classifier-free guidance), at t = FLOW_T·s; what it returns is v.
 *
 *   Euler:  x_{i+1} = x_i + (s_{i+1} − s_i)·v(x_i, s_i)                                          one evaluation a step
 *   Heun:   x̃ = Euler step;  x_{i+1} = x_i + (s_{i+1} − s_i)·½·(v(x_i, s_i) + v(x̃, s_{i+1}))   two (the last step is
 *           Euler, as in Karras et al. 2022, Algorithm 1, so N steps cost 2N − 1 evaluations like samplers/karras.ts)
 *
 * On the straight path Euler's step is exactly DDIM's: with x̂₀ = x − s·v and ε̂ = x + (1 − s)·v,
 * x + (s' − s)·v = (1 − s')·x̂₀ + s'·ε̂ — jump to the clean estimate, re-noise to s'. A field that is constant along
 * each straight line is followed exactly by one Euler step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FLOW_T } from '../flow';
import { makeNoise } from '../noise';
import type { Denoiser, StepInfo } from '../types';
import { callDenoiser, runLoop } from './common';

export interface FlowSampleOptions {
  /** Steps N ≥ 1. */
  steps: number;
  onStep?: (info: StepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

export const FLOW_SAMPLER_NAMES = ['euler', 'heun'] as const;
export type FlowSamplerName = (typeof FLOW_SAMPLER_NAMES)[number];
export const FLOW_SAMPLER_LABELS: Record<FlowSamplerName, string> = { euler: 'Euler (flow)', heun: 'Heun (flow)' };

/** The grid 1 = s_0 > s_1 > … > s_N = 0, uniform. */
export function flowGrid(steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  return Array.from({ length: steps + 1 }, (_, i) => 1 - i / steps);
}

/** Network evaluations of a run: Euler N, Heun 2N − 1. */
export function flowNfe(name: FlowSamplerName, steps: number): number {
  return name === 'heun' ? 2 * steps - 1 : steps;
}

const label = (s: number) => FLOW_T * s;

function sample(field: Denoiser, xT: tf.Tensor4D, opts: FlowSampleOptions, heun: boolean): Promise<tf.Tensor4D> {
  const grid = flowGrid(opts.steps);
  const labels = grid.slice(0, -1).map((s, i) => ({ t: label(s), tPrev: label(grid[i + 1]) }));
  return runLoop(
    xT,
    labels,
    (x, i) => {
      const s = grid[i];
      const sNext = grid[i + 1];
      const h = sNext - s;
      const v = callDenoiser(field, x, label(s));
      const euler = tf.add(x, tf.mul(v, h)) as tf.Tensor4D;
      let next = euler;
      if (heun && i < opts.steps - 1) {
        const v2 = callDenoiser(field, euler, label(sNext));
        next = tf.add(x, tf.mul(tf.add(v, v2), 0.5 * h)) as tf.Tensor4D;
      }
      // For onStep: the clean and noise estimates the velocity implies at s (flow.ts conversions).
      return { x: next, x0Pred: tf.sub(x, tf.mul(v, s)) as tf.Tensor4D, eps: tf.add(x, tf.mul(v, 1 - s)) as tf.Tensor4D };
    },
    opts,
  );
}

/** Euler on the flow ODE. Resolves to x at s = 0 (caller disposes); xT is not disposed. */
export function flowEuler(field: Denoiser, xT: tf.Tensor4D, opts: FlowSampleOptions): Promise<tf.Tensor4D> {
  return sample(field, xT, opts, false);
}

/** Heun on the flow ODE (last step Euler). Resolves to x at s = 0 (caller disposes). */
export function flowHeun(field: Denoiser, xT: tf.Tensor4D, opts: FlowSampleOptions): Promise<tf.Tensor4D> {
  return sample(field, xT, opts, true);
}

/** The flow sampler registry: a change of key, never of code path. */
export const flowSamplers = { euler: flowEuler, heun: flowHeun } as const satisfies Record<FlowSamplerName, (f: Denoiser, x: tf.Tensor4D, o: FlowSampleOptions) => Promise<tf.Tensor4D>>;

/**
 * Reflow pairs (Liu et al. 2023, §2.3): `n` noises ε of `shape` from `seed` and the trained flow's samples x̂₀ = Φ(ε)
 * from them, as plain arrays. The same seed gives the same pairs. A new flow trained on (x̂₀, ε) with flowLoss
 * (draws.eps = ε, x₀ = x̂₀) straightens the paths.
 */
export async function reflowPairs(
  field: Denoiser,
  n: number,
  shape: readonly [number, number, number],
  opts: { seed: number; steps: number; sampler?: FlowSamplerName },
): Promise<{ noise: Float32Array; samples: Float32Array }> {
  const noise = makeNoise(opts.seed).normalArray(n * shape[0] * shape[1] * shape[2]);
  const xT = tf.tensor4d(noise, [n, ...shape]);
  try {
    const x0 = await flowSamplers[opts.sampler ?? 'euler'](field, xT, { steps: opts.steps });
    const samples = Float32Array.from(await x0.data());
    x0.dispose();
    return { noise, samples };
  } finally {
    xT.dispose();
  }
}
