/**
 * Fully connected layer y = xW + b. The gradient is written out with explicit transposes
 * (dx = dy·transpose(W), dW = transpose(x)·dy): on wasm a matMul with a transpose flag takes a
 * naive path ~4× slower than transpose + the XNNPACK path.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fanInUniform, type ParamStore } from './params';

export interface DenseParams {
  /** [in, out] */
  w: tf.Variable;
  /** [out] */
  b: tf.Variable;
}

/** Parameters `${name}.w` [in, out] (LeCun uniform × scale) and `${name}.b` [out] (zeros). */
export function createDense(store: ParamStore, name: string, inUnits: number, outUnits: number, scale = 1): DenseParams {
  return {
    w: store.create(`${name}.w`, [inUnits, outUnits], fanInUniform(inUnits, scale)),
    b: store.create(`${name}.b`, [outUnits], { kind: 'zeros' }),
  };
}

const denseWithGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b) as tf.Tensor2D,
    gradFunc: (dy2: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy2, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy2), tf.sum(dy2, 0)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/** y = xW + b for x of shape [N, in]. */
export function dense(p: DenseParams, x: tf.Tensor2D): tf.Tensor2D {
  return denseWithGrad(x, p.w as tf.Tensor2D, p.b as tf.Tensor1D);
}
