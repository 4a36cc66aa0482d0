import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend } from '../../helpers/backends';
import '../../../src/core/nn/registerGradients';
import { silu } from '../../../src/core/nn/activation';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('silu', () => {
  it('is x·σ(x) with derivative σ(x)(1 + x(1 − σ(x)))', async () => {
    const xs = [-6, -1.5, 0, 0.3, 2, 7];
    const x = tf.tensor1d(xs);
    const y = silu(x);
    const g = tf.grad((a: tf.Tensor) => silu(a))(x);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    expect(maxAbsDiff(await read(y), xs.map((v) => v * sig(v)))).toBeLessThan(1e-6);
    expect(maxAbsDiff(await read(g), xs.map((v) => sig(v) * (1 + v * (1 - sig(v)))))).toBeLessThan(1e-6);
    tf.dispose([x, y, g]);
  });
});
