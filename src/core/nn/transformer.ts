/**
 * A pre-norm transformer block (GPT-2, Radford et al. 2019; CLIP's text encoder, Radford et al. 2021):
 *   x ← x + MHA(LN₁(x)),   x ← x + MLP(LN₂(x)).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createLayerNorm, layerNorm, type LayerNormParams } from './layerNorm';
import { createMlp, mlp, type MlpParams } from './mlp';
import { createMultiHeadAttention, multiHeadAttention, type MultiHeadAttentionOptions, type MultiHeadAttentionParams } from './multiHeadAttention';
import type { ParamStore } from './params';

export interface TransformerBlockParams {
  ln1: LayerNormParams;
  attn: MultiHeadAttentionParams;
  ln2: LayerNormParams;
  mlp: MlpParams;
}

/**
 * Parameters `${name}.ln1`, `.attn` (q, k, v, out), `.ln2`, `.mlp` (fc, proj). `residualScale` scales the init
 * variance of the two layers that write into the residual stream (attn.out, mlp.proj), e.g. 1/(2·layers).
 */
export function createTransformerBlock(
  store: ParamStore,
  name: string,
  dim: number,
  heads: number,
  mlpHidden: number,
  residualScale = 1,
): TransformerBlockParams {
  return {
    ln1: createLayerNorm(store, `${name}.ln1`, dim),
    attn: createMultiHeadAttention(store, `${name}.attn`, dim, heads, { outScale: residualScale }),
    ln2: createLayerNorm(store, `${name}.ln2`, dim),
    mlp: createMlp(store, `${name}.mlp`, dim, mlpHidden, residualScale),
  };
}

/** One block on x [N, L, d] (self-attention with the given masks); caller disposes. */
export function transformerBlock(p: TransformerBlockParams, x: tf.Tensor3D, opts: Omit<MultiHeadAttentionOptions, 'context'> = {}): tf.Tensor3D {
  return tf.tidy(() => {
    const h = tf.add(x, multiHeadAttention(p.attn, layerNorm(p.ln1, x), opts)) as tf.Tensor3D;
    return tf.add(h, mlp(p.mlp, layerNorm(p.ln2, h))) as tf.Tensor3D;
  });
}
