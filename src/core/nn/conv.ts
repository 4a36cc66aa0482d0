/**
 * 2-D convolution, stride 1, 'same' padding, NHWC, with bias (the only kind the custom wasm gradients
 * support). Forward is tfjs's fused conv + bias; the gradient is written out (dx by conv2dTranspose,
 * dW by the Conv2DBackpropFilter kernel, db by a matMul reduction) to skip tfjs's transposing bias sum.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fanInUniform, type ParamStore } from './params';
import { sumToChannels } from './reduce';

export interface Conv2dParams {
  /** [k, k, in, out] */
  w: tf.Variable;
  /** [out] */
  b: tf.Variable;
}

/** Parameters `${name}.w` [k, k, in, out] (LeCun uniform × scale, fan-in k²·in) and `${name}.b` [out]. */
export function createConv2d(
  store: ParamStore,
  name: string,
  kernel: number,
  inChannels: number,
  outChannels: number,
  scale = 1,
): Conv2dParams {
  return {
    w: store.create(`${name}.w`, [kernel, kernel, inChannels, outChannels], fanInUniform(kernel * kernel * inChannels, scale)),
    b: store.create(`${name}.b`, [outChannels], { kind: 'zeros' }),
  };
}

const convSameBias = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x4, w4, b, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
  save([x4, w4]);
  return {
    value: tf.fused.conv2d({ x: x4, filter: w4, bias: b, strides: 1, pad: 'same' }),
    gradFunc: (dy4: tf.Tensor4D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dx = tf.conv2dTranspose(dy4, ws, xs.shape, 1, 'same');
      const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: ws.shape };
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: xs, dy: dy4 }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
      return [dx, dw, sumToChannels(dy4)];
    },
  };
}) as (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;

/** y = conv2d(x, W, stride 1, 'same') + b. */
export function conv2d(p: Conv2dParams, x: tf.Tensor4D): tf.Tensor4D {
  return convSameBias(x, p.w as tf.Tensor4D, p.b as tf.Tensor1D);
}
