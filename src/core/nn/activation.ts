/** Activations. */
import * as tf from '@tensorflow/tfjs-core';

/** SiLU / swish: x·σ(x) (Elfwing et al. 2018; used throughout the DDPM U-Net). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}
