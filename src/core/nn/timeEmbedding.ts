/** Sinusoidal timestep embedding (Vaswani et al. 2017 §3.5, as used by Ho et al. 2020's U-Net). */
import * as tf from '@tensorflow/tfjs-core';

export const MAX_PERIOD = 10000;

/** Frequencies ω_i = MAX_PERIOD^(−i/(half−1)), i = 0 … half−1 (the DDPM reference code's spacing). */
export function embeddingFrequencies(dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim < 4 || dim % 2 !== 0) throw new Error(`embedding dim must be an even integer ≥ 4, got ${dim}`);
  const half = dim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = Math.exp((-Math.log(MAX_PERIOD) * i) / (half - 1));
  return out;
}

/** [N] timesteps → [N, dim] embedding [sin(t ω_0) … sin(t ω_{h−1}), cos(t ω_0) … cos(t ω_{h−1})]. */
export function timestepEmbedding(t: tf.Tensor1D, dim: number): tf.Tensor2D {
  const freqs = embeddingFrequencies(dim);
  return tf.tidy(() => {
    const args = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, freqs.length]));
    return tf.concat([tf.sin(args), tf.cos(args)], 1) as tf.Tensor2D;
  });
}
