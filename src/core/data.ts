/**
 * MNIST for tfjs code: the file format, pixel code and split live in ./mnistFormat.ts (re-exported here,
 * with CRC-32 and the training jobs' seeded stream); this module adds the batch as a tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MNIST_COLS, MNIST_ROWS, toFloatBatch, type Split } from './mnistFormat';

export * from './mnistFormat';
export { crc32 } from './crc32';
/** The training jobs' stream (mulberry32, one uint32 of state that checkpoints store). */
export { Mulberry32Rng as SeededRandom } from './rng';

/** The chosen examples as an NHWC tensor [n, 28, 28, 1] in [−1, 1]; the caller disposes it. */
export function batchTensor(split: Split, indices: ArrayLike<number>): tf.Tensor4D {
  return tf.tensor4d(toFloatBatch(split, indices), [indices.length, MNIST_ROWS, MNIST_COLS, 1]);
}
