/**
 * Layer normalisation over the last axis (Ba et al. 2016), with a hand-written gradient. Per row of d values:
 * μ, σ² (biased), r = 1/√(σ² + ε), x̂ = (x − μ) r, y = γ x̂ + β. Backward, with g = γ dy:
 * dx = r (g − mean(g) − x̂ · mean(g x̂)), dγ = Σ_rows dy x̂, dβ = Σ_rows dy — every reduction runs along the
 * innermost axis, except the two parameter sums.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamStore } from './params';

export interface LayerNormParams {
  /** Scale γ [d] (init 1). */
  gamma: tf.Variable;
  /** Shift β [d] (init 0). */
  beta: tf.Variable;
}

/** ε of PyTorch's nn.LayerNorm (and of CLIP's transformer). */
export const LAYER_NORM_EPSILON = 1e-5;

/** Parameters `${name}.gamma` and `${name}.beta` of shape [dim]. */
export function createLayerNorm(store: ParamStore, name: string, dim: number): LayerNormParams {
  return {
    gamma: store.create(`${name}.gamma`, [dim], { kind: 'ones' }),
    beta: store.create(`${name}.beta`, [dim], { kind: 'zeros' }),
  };
}

type LayerNormFn = (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D) => tf.Tensor2D;
const cache = new Map<number, LayerNormFn>();

function makeLayerNorm(epsilon: number): LayerNormFn {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, gamma, beta, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const centred = tf.sub(x, tf.mean(x, 1, true));
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(centred), 1, true), epsilon)) as tf.Tensor2D; // [M, 1]
    const xHat = tf.mul(centred, r) as tf.Tensor2D;
    save([xHat, r, gamma]);
    return {
      value: tf.add(tf.mul(xHat, gamma), beta) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xh, rs, gs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        const g = tf.mul(dy, gs);
        const dx = tf.mul(rs, tf.sub(tf.sub(g, tf.mean(g, 1, true)), tf.mul(xh, tf.mean(tf.mul(g, xh), 1, true))));
        return [dx, tf.sum(tf.mul(dy, xh), 0), tf.sum(dy, 0)];
      },
    };
  }) as LayerNormFn;
}

/** LayerNorm over the last axis of x (any rank ≥ 1): y = γ (x − μ)/√(σ² + ε) + β. */
export function layerNorm<T extends tf.Tensor>(p: LayerNormParams, x: T, epsilon = LAYER_NORM_EPSILON): T {
  const d = x.shape[x.rank - 1];
  if (p.gamma.shape[0] !== d) throw new Error(`layerNorm: γ has ${p.gamma.shape[0]} features, x has ${d}`);
  let fn = cache.get(epsilon);
  if (!fn) {
    fn = makeLayerNorm(epsilon);
    cache.set(epsilon, fn);
  }
  const f = fn;
  return tf.tidy(() => tf.reshape(f(tf.reshape(x, [-1, d]) as tf.Tensor2D, p.gamma as tf.Tensor1D, p.beta as tf.Tensor1D), x.shape) as T);
}
