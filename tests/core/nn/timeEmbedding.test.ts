import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend } from '../../helpers/backends';
import { embeddingFrequencies, timestepEmbedding } from '../../../src/core/nn/timeEmbedding';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('timestepEmbedding', () => {
  it('is [sin(t ω_i), cos(t ω_i)] with ω_i = 10000^(−i/(d/2 − 1)), as in the DDPM reference code', async () => {
    const dim = 8;
    const ts = [0, 1, 37, 999];
    const t = tf.tensor1d(ts, 'int32');
    const e = timestepEmbedding(t, dim);
    expect(e.shape).toEqual([4, dim]);
    const ref: number[] = [];
    for (const tv of ts) {
      const row: number[] = [];
      for (let i = 0; i < dim / 2; i++) row.push(Math.sin(tv * 10000 ** (-i / (dim / 2 - 1))));
      for (let i = 0; i < dim / 2; i++) row.push(Math.cos(tv * 10000 ** (-i / (dim / 2 - 1))));
      ref.push(...row);
    }
    // float32 arguments up to ~1000 rad: absolute error of order 1e-4.
    expect(maxAbsDiff(await read(e), ref)).toBeLessThan(5e-4);
    tf.dispose([t, e]);
  });

  it('has the slowest frequency 1/10000 and the fastest 1, and rejects odd widths', () => {
    const f = embeddingFrequencies(16);
    expect(f[0]).toBe(1);
    expect(f[7]).toBeCloseTo(1e-4, 9);
    expect(() => embeddingFrequencies(7)).toThrow();
  });

  it('gives different embeddings for neighbouring timesteps', async () => {
    const t = tf.tensor1d([500, 501], 'int32');
    const e = await read(timestepEmbedding(t, 32));
    let d = 0;
    for (let i = 0; i < 32; i++) d += Math.abs(e[i] - e[32 + i]);
    expect(d).toBeGreaterThan(0.1);
    t.dispose();
  });
});
