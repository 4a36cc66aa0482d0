import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { read, useBackend } from '../../helpers/backends';
import { registerWasmGradKernels } from '../../../src/core/kernels';
import { splitV } from '../../../src/core/kernels/splitV';
import '../../../src/core/nn/registerGradients';

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

/** Reference split by index arithmetic: element i of x at (o, a, r) goes to the part whose range holds a. */
function splitRef(values: Float32Array, shape: number[], axis: number, sizes: number[]): Float32Array[] {
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const parts = sizes.map((s) => new Float32Array(outer * s * inner));
  for (let o = 0; o < outer; o++)
    for (let a = 0; a < shape[axis]; a++)
      for (let r = 0; r < inner; r++) {
        let part = 0;
        let start = 0;
        while (a >= start + sizes[part]) start += sizes[part++];
        const s = sizes[part];
        parts[part][(o * s + (a - start)) * inner + r] = values[(o * shape[axis] + a) * inner + r];
      }
  return parts;
}

describe('wasm SplitV without heap copies', () => {
  it('is the SplitV tfjs runs on wasm', () => {
    expect(tf.getKernel('SplitV', 'wasm')?.kernelFunc).toBe(splitV);
  });

  const cases: Array<{ shape: number[]; axis: number; split: number | number[]; sizes: number[] }> = [
    { shape: [2, 5, 5, 96], axis: 3, split: [32, 64], sizes: [32, 64] }, // U-Net skip: channels, blocks ≥ 64 and < 64
    { shape: [3, 4, 4, 6], axis: -1, split: [2, -1], sizes: [2, 4] },
    { shape: [4, 3, 7], axis: 1, split: 3, sizes: [1, 1, 1] },
    { shape: [10], axis: 0, split: [3, 0, 7], sizes: [3, 0, 7] }, // 1-D, contiguous, an empty part
    { shape: [6, 2, 3], axis: 0, split: [4, 2], sizes: [4, 2] },
  ];
  for (const c of cases) {
    it(`splits [${c.shape}] on axis ${c.axis} into ${JSON.stringify(c.split)} like an index-by-index reference`, async () => {
      const n = c.shape.reduce((p, d) => p * d, 1);
      const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 10 + i / 100);
      const x = tf.tensor(values, c.shape);
      const before = tf.memory().numTensors;
      const parts = tf.split(x, c.split, c.axis);
      expect(tf.memory().numTensors).toBe(before + c.sizes.length);
      const axis = c.axis < 0 ? c.shape.length + c.axis : c.axis;
      const ref = splitRef(values, c.shape, axis, c.sizes);
      for (let i = 0; i < parts.length; i++) {
        const want = [...c.shape];
        want[axis] = c.sizes[i];
        expect(parts[i].shape).toEqual(want);
        expect(Array.from(await read(parts[i]))).toEqual(Array.from(ref[i]));
      }
      tf.dispose([x, ...parts]);
      expect(tf.memory().numTensors).toBe(before - 1);
    });
  }

  it('gives Concat the same gradient on wasm as on cpu (a weighted sum, so every element is checked)', async () => {
    const grad = async (backend: 'wasm' | 'cpu') => {
      await useBackend(backend);
      const a = tf.tensor4d(Float32Array.from({ length: 2 * 3 * 3 * 5 }, (_, i) => Math.cos(i)), [2, 3, 3, 5]);
      const b = tf.tensor4d(Float32Array.from({ length: 2 * 3 * 3 * 70 }, (_, i) => Math.sin(i)), [2, 3, 3, 70]);
      const w = tf.tensor4d(Float32Array.from({ length: 2 * 3 * 3 * 75 }, (_, i) => (i % 13) - 6), [2, 3, 3, 75]);
      const g = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.concat([p, q], 3), w)))([a, b]);
      const out = [Array.from(await read(g[0])), Array.from(await read(g[1]))];
      tf.dispose([a, b, w, ...g]);
      return out;
    };
    const onCpu = await grad('cpu');
    const onWasm = await grad('wasm');
    expect(onWasm).toEqual(onCpu);
  });
});
