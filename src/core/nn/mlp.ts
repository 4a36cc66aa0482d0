/** The transformer's position-wise feed-forward network (Vaswani et al. 2017, §3.3) with CLIP's QuickGELU. */
import * as tf from '@tensorflow/tfjs-core';
import { createDense, type DenseParams } from './dense';
import { denseTokens } from './multiHeadAttention';
import type { ParamStore } from './params';

export interface MlpParams {
  /** [d, hidden] */
  fc: DenseParams;
  /** [hidden, d] */
  proj: DenseParams;
}

/** QuickGELU x·σ(1.702 x), the GELU approximation of OpenAI's CLIP (Hendrycks & Gimpel 2016, §2). */
export function quickGelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

/** Parameters `${name}.fc` (d → hidden) and `${name}.proj` (hidden → d, LeCun uniform × `projScale`). */
export function createMlp(store: ParamStore, name: string, dim: number, hidden: number, projScale = 1): MlpParams {
  return { fc: createDense(store, `${name}.fc`, dim, hidden), proj: createDense(store, `${name}.proj`, hidden, dim, projScale) };
}

/** proj(QuickGELU(fc(x))) on every token of x [N, L, d]; caller disposes. */
export function mlp(p: MlpParams, x: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => denseTokens(p.proj, quickGelu(denseTokens(p.fc, x))));
}
