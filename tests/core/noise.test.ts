import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fork, makeNoise, makeRng, splitmix32, xoshiro128ss } from '../../src/core/noise';
import { read, useBackend } from '../helpers/backends';

/** xoshiro128** written with BigInt straight from Blackman & Vigna's reference C code. */
function bigXoshiro(state: [number, number, number, number]) {
  const M = (1n << 32n) - 1n;
  const s = state.map((v) => BigInt(v)) as bigint[];
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
  return () => {
    const result = (rotl((s[1] * 5n) & M, 7n) * 9n) & M;
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    return Number(result);
  };
}

/** splitmix32 with BigInt: golden-ratio increment, then the murmur3 finaliser. */
function bigSplitmix32(seed: number) {
  const M = (1n << 32n) - 1n;
  let state = BigInt(seed >>> 0);
  return () => {
    state = (state + 0x9e3779b9n) & M;
    let z = state;
    z = ((z ^ (z >> 16n)) * 0x85ebca6bn) & M;
    z = ((z ^ (z >> 13n)) * 0xc2b2ae35n) & M;
    return Number(z ^ (z >> 16n));
  };
}

describe('generators', () => {
  test('xoshiro128** matches a BigInt transcription of the reference algorithm', () => {
    for (const state of [
      [1, 2, 3, 4],
      [0xdeadbeef, 0x12345678, 0xffffffff, 7],
    ] as [number, number, number, number][]) {
      const ours = xoshiro128ss(...state);
      const ref = bigXoshiro(state);
      for (let i = 0; i < 1000; i++) expect(ours()).toBe(ref());
    }
    // First output for state (1, 2, 3, 4): rotl(2·5, 7)·9 = 1280·9.
    expect(xoshiro128ss(1, 2, 3, 4)()).toBe(11520);
  });

  test('splitmix32 matches a BigInt transcription', () => {
    for (const seed of [0, 1, 42, 0xffffffff]) {
      const ours = splitmix32(seed);
      const ref = bigSplitmix32(seed);
      for (let i = 0; i < 100; i++) expect(ours()).toBe(ref());
    }
  });

  test('an all-zero xoshiro state is rejected', () => {
    expect(() => xoshiro128ss(0, 0, 0, 0)).toThrow(RangeError);
  });
});

describe('makeRng', () => {
  test('the same seed gives the same stream and different seeds differ', () => {
    const a = makeRng(7);
    const b = makeRng(7);
    const c = makeRng(8);
    const xs = Array.from({ length: 50 }, () => a.nextUint32());
    expect(Array.from({ length: 50 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 50 }, () => c.nextUint32())).not.toEqual(xs);
  });

  test('seeds beyond 2^32, negative and fractional seeds give distinct streams', () => {
    const first = (seed: number) => makeRng(seed).nextUint32();
    const values = [0, 1, -1, 2 ** 32, 2 ** 32 + 1, 2 ** 40, 0.5, 1.5].map(first);
    expect(new Set(values).size).toBe(values.length);
    expect(() => makeRng(NaN)).toThrow(RangeError);
  });

  test('uniform lies in [0, 1) with mean ½ and variance 1/12', () => {
    const rng = makeRng(3);
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      s += u;
      s2 += u * u;
    }
    const mean = s / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(s2 / n - mean * mean - 1 / 12)).toBeLessThan(0.002);
  });

  test('uniformInt(n) covers 0…n−1 evenly (chi-square) and rejects bad n', () => {
    const rng = makeRng(11);
    const n = 10;
    const counts = new Array(n).fill(0);
    const draws = 50_000;
    for (let i = 0; i < draws; i++) {
      const k = rng.uniformInt(n);
      expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true);
      counts[k]++;
    }
    const expected = draws / n;
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(30); // 9 degrees of freedom: P(χ² > 30) ≈ 4e-4
    expect(rng.uniformInt(1)).toBe(0);
    expect(() => rng.uniformInt(0)).toThrow(RangeError);
    expect(() => rng.uniformInt(2.5)).toThrow(RangeError);
  });

  test('fork derives distinct, reproducible sub-stream seeds', () => {
    expect(fork(1, 'timesteps')).toBe(fork(1, 'timesteps'));
    const seeds = [fork(1, 'timesteps'), fork(1, 'batch'), fork(2, 'timesteps'), fork(1, 0), fork(1, 1), 1];
    expect(new Set(seeds).size).toBe(seeds.length);
    const a = makeRng(fork(5, 'a'));
    const b = makeRng(fork(5, 'b'));
    let agree = 0;
    for (let i = 0; i < 1000; i++) if (a.nextUint32() === b.nextUint32()) agree++;
    expect(agree).toBeLessThan(3);
  });
});

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
