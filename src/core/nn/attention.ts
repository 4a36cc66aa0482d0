/** Single-head spatial self-attention with a residual connection (as in Ho et al. 2020's 16×16 blocks). */
import * as tf from '@tensorflow/tfjs-core';
import { createDense, dense, type DenseParams } from './dense';
import { createGroupNorm, groupNorm, type GroupNormParams } from './groupNorm';
import type { ParamStore } from './params';

export interface AttentionParams {
  norm: GroupNormParams;
  q: DenseParams;
  k: DenseParams;
  v: DenseParams;
  proj: DenseParams;
}

/** Parameters `${name}.norm`, `${name}.q`, `.k`, `.v` (C → C) and `.proj` (C → C). */
export function createAttention(store: ParamStore, name: string, channels: number, groups: number): AttentionParams {
  return {
    norm: createGroupNorm(store, `${name}.norm`, channels, groups),
    q: createDense(store, `${name}.q`, channels, channels),
    k: createDense(store, `${name}.k`, channels, channels),
    v: createDense(store, `${name}.v`, channels, channels),
    proj: createDense(store, `${name}.proj`, channels, channels),
  };
}

function project(p: DenseParams, x: tf.Tensor3D): tf.Tensor3D {
  const [n, l, c] = x.shape;
  return tf.reshape(dense(p, tf.reshape(x, [n * l, c]) as tf.Tensor2D), [n, l, p.w.shape[1] as number]);
}

/** y = x + proj(softmax(q kᵀ/√C) v), with q, k, v projections of GroupNorm(x) over the H·W positions. */
export function attention(p: AttentionParams, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  return tf.tidy(() => {
    const seq = tf.reshape(groupNorm(p.norm, x), [n, h * w, c]) as tf.Tensor3D;
    const q = project(p.q, seq);
    const k = project(p.k, seq);
    const v = project(p.v, seq);
    const weights = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(c)));
    const out = project(p.proj, tf.matMul(weights, v) as tf.Tensor3D);
    return tf.add(x, tf.reshape(out, [n, h, w, c]));
  });
}
