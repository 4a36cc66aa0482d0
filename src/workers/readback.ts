/** Reading tensors back in the compute worker (shared by handlers.ts and clip.ts). */
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Read every tensor asynchronously into arrays of our own, then dispose them all. (GPU backends hand out their
 * cached array; transferring that to the page would detach it under a tensor still in use.)
 */
export async function readAll(tensors: tf.Tensor[]): Promise<Float32Array[]> {
  try {
    return await Promise.all(tensors.map(async (t) => Float32Array.from(await t.data())));
  } finally {
    for (const t of tensors) t.dispose();
  }
}
