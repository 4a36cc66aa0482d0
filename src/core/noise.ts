/**
 * Seeded noise tensors. The numbers come from the tfjs-free generators of ./rng.ts (re-exported here):
 * noise is generated in JavaScript and uploaded with `tf.tensor`, so the same seed gives the same numbers on
 * cpu, wasm, webgl and webgpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeRng } from './rng';
import type { NoiseSource } from './types';

export { fork, makeRng, splitmix32, xoshiro128ss, type Rng, type Uint32Generator } from './rng';

/** A seeded NoiseSource: one normal stream shared by `normal` and `normalArray` (calls continue each other). */
export function makeNoise(seed: number): NoiseSource & { readonly seed: number } {
  const rng = makeRng(seed);
  return {
    seed,
    normalArray: (n: number): Float32Array => rng.normalArray(n),
    /** Float32 N(0, 1) tensor of this shape; the caller disposes it. */
    normal(shape: number[]): tf.Tensor {
      const size = shape.reduce((p, s) => p * s, 1);
      return tf.tensor(rng.normalArray(size), shape, 'float32');
    },
  };
}
