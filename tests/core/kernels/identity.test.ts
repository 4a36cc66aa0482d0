import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { read, useBackend } from '../../helpers/backends';
import { registerWasmGradKernels } from '../../../src/core/kernels';
import { identity } from '../../../src/core/kernels/identity';

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

describe('zero-copy wasm Identity', () => {
  it('is the Identity tfjs runs on wasm', () => {
    expect(tf.getKernel('Identity', 'wasm')?.kernelFunc).toBe(identity);
  });

  it('shares the data of its input, which stays valid after either side is disposed', async () => {
    const backend = tf.engine().backend;
    const ids = backend.numDataIds();
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    expect(backend.numDataIds()).toBe(ids + 1); // one buffer, two tensors
    x.dispose();
    expect(Array.from(await read(y))).toEqual([1, 2, 3, 4]);
    const z = tf.add(y, 1);
    y.dispose();
    expect(Array.from(await read(z))).toEqual([2, 3, 4, 5]);
    z.dispose();
    expect(backend.numDataIds()).toBe(ids);
  });

  it('keeps a variable’s saved value intact when the variable is reassigned', async () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const saved = tf.clone(v);
    const next = tf.tensor1d([7, 8]);
    v.assign(next);
    next.dispose();
    expect(Array.from(await read(saved))).toEqual([1, 2]);
    expect(Array.from(await read(v))).toEqual([7, 8]);
    tf.dispose([v, saved]);
  });
});
