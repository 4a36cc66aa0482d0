/**
 * Resolution changes for the U-Net, built only from gradients that are right (and fast) on every backend:
 * avgPool for 2× down (wasm MaxPoolGrad is wrong); for nearest 2× up, resizeNearestNeighbor forward with
 * our own gradient, the sum over each 2×2 block = 4·avgPool(dy) (cpu ResizeNearestNeighborGrad is wrong
 * for batch > 1, and the stack/reshape formulation's Unpack gradient is very slow on wasm).
 */
import * as tf from '@tensorflow/tfjs-core';

/** 2× downsampling by 2×2 average pooling, stride 2; H and W must be even. Gradient: dy/4 on each 2×2 block. */
export function downsample2x(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (h % 2 !== 0 || w % 2 !== 0) throw new Error(`downsample2x needs even H and W, got ${h}×${w}`);
  return downsample2xWithGrad(x);
}

// Same maths as tfjs's AvgPoolGrad, but a nearest-neighbour resize is one fast pass on every backend.
const downsample2xWithGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor4D;
  const [, h, w] = x.shape;
  return {
    value: tf.avgPool(x, 2, 2, 'valid'),
    gradFunc: (dy: tf.Tensor4D) => tf.mul(tf.image.resizeNearestNeighbor(dy, [h, w], false, false), 0.25),
  };
}) as (x: tf.Tensor4D) => tf.Tensor4D;

/** 2× nearest-neighbour upsampling: y[n, i, j, c] = x[n, ⌊i/2⌋, ⌊j/2⌋, c]. */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  return upsample2xWithGrad(x);
}

const upsample2xWithGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor4D;
  const [, h, w] = x.shape;
  return {
    value: tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w], false, false),
    gradFunc: (dy: tf.Tensor4D) => tf.mul(tf.avgPool(dy, 2, 2, 'valid'), 4),
  };
}) as (x: tf.Tensor4D) => tf.Tensor4D;
