/**
 * Multi-head scaled dot-product attention (Vaswani et al. 2017, §3.2.2) over token sequences [N, L, d]:
 *
 *   q = x W_q, k = c W_k, v = c W_v   (c = x for self-attention, a context sequence for cross-attention)
 *   head_h = softmax(q_h k_hᵀ/√d_h + mask) v_h,   out = concat_h(head_h) W_o
 *
 * Heads by reshape [N, L, H, d_h] and transpose to [N·H, L, d_h]. Masks are additive: −1e9 where a query may not
 * look (a causal mask above the diagonal, and/or keys marked 0 in a key mask). Only ops whose gradients are right
 * on wasm and cpu: matMul, transpose, reshape, softmax, add (tests/core/nn/multiHeadAttention.test.ts checks).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createDense, dense, type DenseParams } from './dense';
import type { ParamStore } from './params';

export interface MultiHeadAttentionParams {
  /** [d, d] */
  q: DenseParams;
  /** [d_context, d] */
  k: DenseParams;
  /** [d_context, d] */
  v: DenseParams;
  /** [d, d] */
  out: DenseParams;
  heads: number;
}

/** The additive logit bias for a masked position (exp(−1e9 − max) is exactly 0 in float32). */
export const ATTENTION_MASK_BIAS = -1e9;

/**
 * Parameters `${name}.q`, `.k`, `.v`, `.out` (dense layers, LeCun uniform; `.out` scaled by `outScale`, e.g.
 * 1/(2·layers) as in GPT-2 and CLIP so residual branches start small). `contextDim` ≠ dim for cross-attention.
 */
export function createMultiHeadAttention(
  store: ParamStore,
  name: string,
  dim: number,
  heads: number,
  opts: { contextDim?: number; outScale?: number } = {},
): MultiHeadAttentionParams {
  if (!Number.isInteger(heads) || heads < 1 || dim % heads !== 0) throw new Error(`attention '${name}': ${heads} heads do not divide width ${dim}`);
  const contextDim = opts.contextDim ?? dim;
  return {
    q: createDense(store, `${name}.q`, dim, dim),
    k: createDense(store, `${name}.k`, contextDim, dim),
    v: createDense(store, `${name}.v`, contextDim, dim),
    out: createDense(store, `${name}.out`, dim, dim, opts.outScale ?? 1),
    heads,
  };
}

/** A dense layer applied to every token: [N, L, in] → [N, L, out]. */
export function denseTokens(p: DenseParams, x: tf.Tensor3D): tf.Tensor3D {
  const [n, l, c] = x.shape;
  return tf.tidy(() => tf.reshape(dense(p, tf.reshape(x, [n * l, c]) as tf.Tensor2D), [n, l, p.w.shape[1] as number]));
}

export interface MultiHeadAttentionOptions {
  /** Query i sees keys j ≤ i only (self-attention, as in GPT and CLIP's text encoder). */
  causal?: boolean;
  /** [N, L_k]: 1 where a key may be attended to, 0 where not (e.g. pads). Not disposed here. */
  keyMask?: tf.Tensor2D;
  /** [N, L_k, d_context]: keys and values come from here (cross-attention); default x. Not disposed here. */
  context?: tf.Tensor3D;
  /** Receives the attention weights [N, H, L_q, L_k] (rows sum to 1); disposed when this call returns. */
  onWeights?: (weights: tf.Tensor4D) => void;
}

/** [L, L] additive causal bias: 0 on and below the diagonal, ATTENTION_MASK_BIAS above; caller disposes. */
export function causalMaskBias(length: number): tf.Tensor2D {
  const values = new Float32Array(length * length);
  for (let i = 0; i < length; i++) for (let j = i + 1; j < length; j++) values[i * length + j] = ATTENTION_MASK_BIAS;
  return tf.tensor2d(values, [length, length]);
}

/** [N, L, H·d_h] → [N·H, L, d_h]. */
function splitHeads(x: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [n, l, d] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [n, l, heads, d / heads]), [0, 2, 1, 3]), [n * heads, l, d / heads]);
}

/** Attention output (before any residual) for queries x [N, L_q, d]: [N, L_q, d]; caller disposes. */
export function multiHeadAttention(p: MultiHeadAttentionParams, x: tf.Tensor3D, opts: MultiHeadAttentionOptions = {}): tf.Tensor3D {
  const [n, lq, d] = x.shape;
  const ctx = opts.context ?? x;
  const lk = ctx.shape[1];
  const heads = p.heads;
  if (ctx.shape[0] !== n) throw new Error(`multiHeadAttention: ${n} queries but ${ctx.shape[0]} contexts`);
  if (opts.causal && lk !== lq) throw new Error(`multiHeadAttention: a causal mask needs as many keys as queries (${lk} vs ${lq})`);
  if (opts.keyMask && (opts.keyMask.shape[0] !== n || opts.keyMask.shape[1] !== lk)) {
    throw new Error(`multiHeadAttention: key mask [${opts.keyMask.shape}] does not match [${n}, ${lk}]`);
  }
  return tf.tidy(() => {
    const dh = d / heads;
    const q = splitHeads(denseTokens(p.q, x), heads);
    const k = splitHeads(denseTokens(p.k, ctx), heads);
    const v = splitHeads(denseTokens(p.v, ctx), heads);
    // Explicit transpose rather than matMul's transposeB flag (a slow path on wasm, see dense.ts).
    let logits: tf.Tensor = tf.reshape(tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), 1 / Math.sqrt(dh)), [n, heads, lq, lk]);
    if (opts.causal) logits = tf.add(logits, causalMaskBias(lq));
    if (opts.keyMask) {
      const bias = tf.mul(tf.sub(1, tf.cast(opts.keyMask, 'float32')), ATTENTION_MASK_BIAS);
      logits = tf.add(logits, tf.reshape(bias, [n, 1, 1, lk]));
    }
    const probs = tf.softmax(logits) as tf.Tensor4D;
    opts.onWeights?.(probs);
    const weights = tf.reshape(probs, [n * heads, lq, lk]) as tf.Tensor3D;
    const merged = tf.reshape(tf.transpose(tf.reshape(tf.matMul(weights, v), [n, heads, lq, dh]), [0, 2, 1, 3]), [n, lq, d]) as tf.Tensor3D;
    return denseTokens(p.out, merged);
  });
}
