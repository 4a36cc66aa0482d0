import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeNoise } from '../../src/core/noise';
import { read, useBackend } from '../helpers/backends';

describe('makeNoise', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  afterAll(async () => {
    await useBackend('cpu');
  });

  test('normal samples have mean 0, variance 1, kurtosis 3 and the 68 % rule', () => {
    const z = makeNoise(123).normalArray(200_000);
    const n = z.length;
    let s = 0;
    for (const v of z) s += v;
    const mean = s / n;
    let m2 = 0;
    let m4 = 0;
    let within1 = 0;
    for (const v of z) {
      m2 += (v - mean) ** 2;
      m4 += (v - mean) ** 4;
      if (Math.abs(v) < 1) within1++;
    }
    const variance = m2 / n;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(m4 / n / variance ** 2 - 3)).toBeLessThan(0.05);
    expect(Math.abs(within1 / n - 0.682689)).toBeLessThan(0.005);
  });

  test('normal samples pass a Kolmogorov–Smirnov test and neighbours (both halves of a Box–Muller pair) are uncorrelated', () => {
    const n = 100_000;
    const z = makeNoise(456).normalArray(n);
    // Φ via erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
    const erf = (x: number) => {
      const s = Math.sign(x);
      const a = Math.abs(x);
      const k = 1 / (1 + 0.3275911 * a);
      const poly = k * (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429))));
      return s * (1 - poly * Math.exp(-a * a));
    };
    const phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
    const sorted = Float64Array.from(z).sort();
    let d = 0;
    for (let i = 0; i < n; i++) {
      const f = phi(sorted[i]);
      d = Math.max(d, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
    }
    expect(d).toBeLessThan(1.63 / Math.sqrt(n)); // 1 % critical value
    let lag1 = 0;
    let pair = 0;
    for (let i = 0; i + 1 < n; i++) lag1 += z[i] * z[i + 1];
    for (let i = 0; i + 1 < n; i += 2) pair += z[i] * z[i + 1];
    expect(Math.abs(lag1 / (n - 1))).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(pair / (n / 2))).toBeLessThan(5 / Math.sqrt(n / 2));
  });

  test('consecutive normalArray calls continue one stream regardless of how it is split', () => {
    const whole = makeNoise(9).normalArray(11);
    const split = makeNoise(9);
    const parts = [...split.normalArray(3), ...split.normalArray(1), ...split.normalArray(7)];
    expect(parts).toEqual(Array.from(whole));
  });

  test('normal(shape) is the same stream uploaded as a float32 tensor of that shape', async () => {
    const before = tf.memory().numTensors;
    const t = makeNoise(21).normal([2, 3, 4, 1]);
    expect(t.shape).toEqual([2, 3, 4, 1]);
    expect(t.dtype).toBe('float32');
    expect(Array.from(await t.data())).toEqual(Array.from(makeNoise(21).normalArray(24)));
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('the same seed gives bit-identical tensors on the cpu and wasm backends', async () => {
    const values: Float64Array[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const t = makeNoise(77).normal([2, 4, 4, 1]);
      values.push(await read(t));
      t.dispose();
    }
    expect(Array.from(values[1])).toEqual(Array.from(values[0]));
  });
});
