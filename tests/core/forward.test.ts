import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  coefficientTensor,
  epsFromX0,
  posteriorCoefficients,
  posteriorMean,
  posteriorVariance,
  qSample,
  x0FromEps,
} from '../../src/core/forward';
import { makeNoise } from '../../src/core/noise';
import { makeSchedule } from '../../src/core/schedules';
import { maxAbsDiff, meanStd, read, useBackend } from '../helpers/backends';

const schedule = makeSchedule('linear', 1000);

/** ᾱ_t as a float64 product of (1 − β_s), written here rather than read from the schedule. */
function alphaBar(t: number): number {
  let p = 1;
  for (let s = 1; s <= t; s++) p *= 1 - schedule.beta[s];
  return p;
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('qSample', () => {
  test('matches x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε in float64 with a different t per example', async () => {
    const before = tf.memory().numTensors;
    const shape: [number, number, number, number] = [4, 3, 3, 1];
    const x0v = makeNoise(1).normalArray(36);
    const epsv = makeNoise(2).normalArray(36);
    const ts = [0, 1, 500, 1000];
    const x0 = tf.tensor4d(x0v, shape);
    const eps = tf.tensor4d(epsv, shape);
    const xt = qSample(schedule, x0, ts, eps);
    const got = await read(xt);
    const want = Array.from(x0v, (v, i) => {
      const t = ts[Math.floor(i / 9)];
      return Math.sqrt(alphaBar(t)) * v + Math.sqrt(1 - alphaBar(t)) * epsv[i];
    });
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    // t = 0 is the clean image itself.
    expect(maxAbsDiff(got.slice(0, 9), x0v.slice(0, 9))).toBeLessThan(1e-7);
    tf.dispose([x0, eps, xt]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a single t is broadcast to every example', async () => {
    const x0 = tf.ones([3, 2, 2, 1]) as tf.Tensor4D;
    const eps = tf.zeros([3, 2, 2, 1]) as tf.Tensor4D;
    const xt = qSample(schedule, x0, 250, eps);
    const got = await read(xt);
    for (const v of got) expect(v).toBeCloseTo(Math.sqrt(alphaBar(250)), 6);
    tf.dispose([x0, eps, xt]);
  });

  test('samples of q(x_t | x_0) have mean √ᾱ_t x_0 and variance 1 − ᾱ_t', async () => {
    const n = 20_000;
    for (const t of [10, 300, 900]) {
      const x0 = tf.fill([n, 1, 1, 1], 0.7) as tf.Tensor4D;
      const eps = makeNoise(t).normal([n, 1, 1, 1]) as tf.Tensor4D;
      const xt = qSample(schedule, x0, new Array(n).fill(t), eps);
      const { mean, std } = meanStd(await read(xt));
      const a = alphaBar(t);
      const sd = Math.sqrt(1 - a);
      expect(Math.abs(mean - Math.sqrt(a) * 0.7)).toBeLessThan((5 * sd) / Math.sqrt(n));
      expect(Math.abs(std * std - (1 - a))).toBeLessThan(5 * (1 - a) * Math.sqrt(2 / n));
      tf.dispose([x0, eps, xt]);
    }
  });

  test('rejects a wrong number of timesteps and out-of-range t', () => {
    const x = tf.zeros([2, 2, 2, 1]) as tf.Tensor4D;
    expect(() => qSample(schedule, x, [1, 2, 3], x)).toThrow(RangeError);
    expect(() => qSample(schedule, x, [1, 1001], x)).toThrow(RangeError);
    expect(() => qSample(schedule, x, [1.5, 2], x)).toThrow(RangeError);
    x.dispose();
  });

  test('coefficientTensor gathers values[t_i] into an [N, 1, 1, 1] tensor', async () => {
    const c = coefficientTensor(schedule.sqrtAlphaBar, [3, 700]);
    expect(c.shape).toEqual([2, 1, 1, 1]);
    const got = await read(c);
    expect(got[0]).toBeCloseTo(Math.sqrt(alphaBar(3)), 7);
    expect(got[1]).toBeCloseTo(Math.sqrt(alphaBar(700)), 7);
    c.dispose();
  });
});

describe('x0FromEps and epsFromX0', () => {
  test('invert qSample given the true noise or the true image', async () => {
    const before = tf.memory().numTensors;
    const shape: [number, number, number, number] = [3, 4, 4, 1];
    const x0 = tf.tensor4d(makeNoise(5).normalArray(48), shape);
    const eps = tf.tensor4d(makeNoise(6).normalArray(48), shape);
    const ts = [1, 400, 800];
    const xt = qSample(schedule, x0, ts, eps);
    const x0Back = x0FromEps(schedule, xt, ts, eps);
    const epsBack = epsFromX0(schedule, xt, ts, x0);
    // x̂_0 = (x_t − √(1−ᾱ)ε)/√ᾱ amplifies float32 rounding by 1/√ᾱ_800 ≈ 30.
    expect(maxAbsDiff(await read(x0Back), await read(x0))).toBeLessThan(1e-4);
    expect(maxAbsDiff(await read(epsBack), await read(eps))).toBeLessThan(1e-3);
    tf.dispose([x0, eps, xt, x0Back, epsBack]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('epsFromX0 refuses t = 0, where ε does not enter x_t', () => {
    const x = tf.zeros([1, 1, 1, 1]) as tf.Tensor4D;
    expect(() => epsFromX0(schedule, x, 0, x)).toThrow(RangeError);
    x.dispose();
  });
});

describe('posterior q(x_{t−1} | x_t, x_0)', () => {
  /** Bayes' rule for Gaussians: combine q(x_t | x_{t−1}) = N(√α_t x_{t−1}, β_t) with q(x_{t−1} | x_0) = N(√ᾱ_{t−1} x_0, 1 − ᾱ_{t−1}). */
  function bayesPosterior(t: number, x0: number, xt: number) {
    const beta = schedule.beta[t];
    const abPrev = alphaBar(t - 1);
    const precision = (1 - beta) / beta + 1 / (1 - abPrev);
    const variance = 1 / precision;
    const mean = variance * ((Math.sqrt(1 - beta) * xt) / beta + (Math.sqrt(abPrev) * x0) / (1 - abPrev));
    return { mean, variance };
  }

  test('coefficients and variance equal Ho et al. eq. 7 and an independent Bayes-rule derivation', () => {
    for (const kind of ['linear', 'cosine'] as const) {
      const s = makeSchedule(kind);
      for (const t of [2, 3, 50, 500, 999]) {
        const c = posteriorCoefficients(s, t);
        const ab = s.alphaBar;
        expect(c.coefX0).toBeCloseTo((Math.sqrt(ab[t - 1]) * s.beta[t]) / (1 - ab[t]), 12);
        expect(c.coefXt).toBeCloseTo((Math.sqrt(1 - s.beta[t]) * (1 - ab[t - 1])) / (1 - ab[t]), 12);
        expect(posteriorVariance(s, t)).toBeCloseTo((s.beta[t] * (1 - ab[t - 1])) / (1 - ab[t]), 14);
      }
    }
    for (const t of [2, 10, 500, 1000]) {
      const c = posteriorCoefficients(schedule, t);
      const x0 = 0.3;
      const xt = -1.2;
      const b = bayesPosterior(t, x0, xt);
      expect(Math.abs(c.coefX0 * x0 + c.coefXt * xt - b.mean)).toBeLessThan(1e-10);
      expect(Math.abs(c.variance - b.variance) / b.variance).toBeLessThan(1e-9);
    }
  });

  test('at t = 1 the posterior is the point mass at x_0', () => {
    const c = posteriorCoefficients(schedule, 1);
    expect(c.coefX0).toBeCloseTo(1, 12);
    expect(c.coefXt).toBe(0);
    expect(c.variance).toBe(0);
    expect(() => posteriorCoefficients(schedule, 0)).toThrow(RangeError);
  });

  test('posteriorMean matches the float64 reference per example', async () => {
    const before = tf.memory().numTensors;
    const shape: [number, number, number, number] = [3, 2, 2, 1];
    const x0v = makeNoise(31).normalArray(12);
    const xtv = makeNoise(32).normalArray(12);
    const ts = [1, 200, 1000];
    const x0 = tf.tensor4d(x0v, shape);
    const xt = tf.tensor4d(xtv, shape);
    const mu = posteriorMean(schedule, x0, xt, ts);
    const want = Array.from(x0v, (v, i) => bayesPosterior(ts[Math.floor(i / 4)], v, xtv[i]).mean);
    // t = 1 is outside Bayes' formula (1 − ᾱ_0 = 0): the mean is x_0 there.
    for (let i = 0; i < 4; i++) want[i] = x0v[i];
    expect(maxAbsDiff(await read(mu), want)).toBeLessThan(1e-5);
    tf.dispose([x0, xt, mu]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
