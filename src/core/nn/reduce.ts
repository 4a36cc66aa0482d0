/**
 * Fast channel-wise sums for the hand-written gradients. A global average pool (one XNNPACK pass on wasm)
 * times the window size beats both tf.sum over leading NHWC axes (a transpose first on wasm) and a
 * matMul with a ones vector (wasm packs the big operand as weights on every call) by 3–10×.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Mean over H and W for each example and channel: [N, H, W, C] → [N, C]. The AvgPool kernel run directly: tf.avgPool
 * adds a Cast to the input's dtype, a kernel launch of its own, that float32 never needs (the gradient is
 * AvgPool's, registered for the kernel).
 */
export function meanSpatial(x: tf.Tensor4D): tf.Tensor2D {
  const [n, , , c] = x.shape;
  return tf.tidy(() => tf.reshape(poolSpatial(x), [n, c]));
}

/** meanSpatial as [N, 1, 1, C], the global pool's own shape (no Reshape launch). */
export function poolSpatial(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (x.dtype !== 'float32') throw new Error(`poolSpatial: expected float32, got ${x.dtype}`);
  const attrs = { filterSize: [h, w], strides: [h, w], pad: 'valid', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(tf.AvgPool, { x }, attrs) as tf.Tensor4D;
}

/** Σ over H and W for each example and channel: [N, H, W, C] → [N, C]. */
export function sumSpatial(x: tf.Tensor4D): tf.Tensor2D {
  const [, h, w] = x.shape;
  return tf.tidy(() => tf.mul(meanSpatial(x), h * w));
}

/** Σ over every axis but the last: [..., C] → [C]. */
export function sumToChannels(x: tf.Tensor): tf.Tensor1D {
  if (x.rank === 4) return tf.tidy(() => tf.sum(sumSpatial(x as tf.Tensor4D), 0));
  const c = x.shape[x.rank - 1];
  return tf.tidy(() => tf.sum(tf.reshape(x, [-1, c]), 0));
}

const addPerExampleChannel = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, e] = args as [tf.Tensor4D, tf.Tensor2D];
  const [n, , , c] = x.shape;
  return {
    value: tf.add(x, tf.reshape(e, [n, 1, 1, c])) as tf.Tensor4D,
    // reshape: a new tensor handle sharing dy's data (returning dy itself would alias the caller's tensor)
    gradFunc: (dy: tf.Tensor4D) => [tf.reshape(dy, dy.shape), sumSpatial(dy)],
  };
}) as (x: tf.Tensor4D, e: tf.Tensor2D) => tf.Tensor4D;

/** y[n, i, j, c] = x[n, i, j, c] + e[n, c] (e.g. a projected timestep embedding), with a pooled gradient for e. */
export function addPerChannel(x: tf.Tensor4D, e: tf.Tensor2D): tf.Tensor4D {
  if (e.shape[0] !== x.shape[0] || e.shape[1] !== x.shape[3]) throw new Error(`addPerChannel: [${e.shape}] does not match [${x.shape}]`);
  return addPerExampleChannel(x, e);
}
