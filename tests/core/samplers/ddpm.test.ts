import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { makeNoise } from '../../../src/core/noise';
import { ddpm, ddpmSigma, ddpmStep, samplers } from '../../../src/core/samplers';
import { makeSchedule } from '../../../src/core/schedules';
import type { StepInfo } from '../../../src/core/types';
import { countingNoise, gaussianDenoiser, gaussianEps64 } from '../../helpers/analytic';
import { maxAbsDiff, meanStd, read, useBackend } from '../../helpers/backends';

const schedule = makeSchedule('linear', 1000);
const SHAPE: [number, number, number, number] = [2, 4, 4, 1];
const SIZE = 32;

/** ᾱ_t in float64 from β, independent of the schedule's own alphaBar. */
function alphaBar(t: number): number {
  let p = 1;
  for (let s = 1; s <= t; s++) p *= 1 - schedule.beta[s];
  return p;
}

type Variance = 'beta' | 'betaTilde';

/** Ho et al. 2020 eq. 11 (or the eq. 7 posterior mean with x̂_0 clipped), in float64. */
function refStep(
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  z: ArrayLike<number> | null,
  t: number,
  variance: Variance,
  clip: boolean,
) {
  const ab = alphaBar(t);
  const abPrev = alphaBar(t - 1);
  const beta = schedule.beta[t];
  const alpha = 1 - beta;
  const sigma2 = t === 1 ? 0 : variance === 'beta' ? beta : (beta * (1 - abPrev)) / (1 - ab);
  const out = new Float64Array(x.length);
  const x0 = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    x0[i] = (x[i] - Math.sqrt(1 - ab) * eps[i]) / Math.sqrt(ab);
    let mean: number;
    if (clip) {
      x0[i] = Math.min(1, Math.max(-1, x0[i]));
      mean = ((Math.sqrt(abPrev) * beta) / (1 - ab)) * x0[i] + ((Math.sqrt(alpha) * (1 - abPrev)) / (1 - ab)) * x[i];
    } else {
      mean = (x[i] - (beta / Math.sqrt(1 - ab)) * eps[i]) / Math.sqrt(alpha);
    }
    out[i] = mean + (sigma2 > 0 && z !== null ? Math.sqrt(sigma2) * z[i] : 0);
  }
  return { x: out, x0 };
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('ddpmStep', () => {
  for (const variance of ['beta', 'betaTilde'] as const) {
    for (const clip of [false, true]) {
      test(`matches the float64 reference step with σ² = ${variance}, clipping ${clip ? 'on' : 'off'}`, async () => {
        const before = tf.memory().numTensors;
        for (const t of [1000, 500, 37, 2, 1]) {
          const xv = makeNoise(t).normalArray(SIZE);
          const ev = makeNoise(t + 1).normalArray(SIZE);
          const zv = makeNoise(t + 2).normalArray(SIZE);
          const x = tf.tensor4d(xv, SHAPE);
          const eps = tf.tensor4d(ev, SHAPE);
          const z = tf.tensor4d(zv, SHAPE);
          const out = ddpmStep(x, eps, schedule, t, { variance, clipX0: clip, z });
          const want = refStep(xv, ev, t === 1 ? null : zv, t, variance, clip);
          expect(maxAbsDiff(await read(out.x), want.x)).toBeLessThan(2e-5);
          const x0Got = await read(out.x0Pred);
          const x0Scale = Math.max(1, ...Array.from(want.x0, Math.abs));
          expect(maxAbsDiff(x0Got, want.x0) / x0Scale).toBeLessThan(1e-5);
          if (clip) for (const v of x0Got) expect(Math.abs(v)).toBeLessThanOrEqual(1);
          tf.dispose([x, eps, z, out.x, out.x0Pred]);
        }
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  test('the eq. 11 update equals the posterior-mean form when no clipping is needed', async () => {
    // Choose x_t and ε̂ so that x̂_0 lies inside [−1, 1]; then clipping is a no-op and both forms must agree.
    const t = 300;
    const x0v = makeNoise(40)
      .normalArray(SIZE)
      .map((v) => Math.tanh(v) * 0.9);
    const ev = makeNoise(41).normalArray(SIZE);
    const xv = x0v.map((v, i) => Math.sqrt(alphaBar(t)) * v + Math.sqrt(1 - alphaBar(t)) * ev[i]);
    const x = tf.tensor4d(xv, SHAPE);
    const eps = tf.tensor4d(ev, SHAPE);
    const z = tf.zeros(SHAPE) as tf.Tensor4D;
    const a = ddpmStep(x, eps, schedule, t, { clipX0: false, z });
    const b = ddpmStep(x, eps, schedule, t, { clipX0: true, z });
    expect(maxAbsDiff(await read(a.x), await read(b.x))).toBeLessThan(1e-5);
    tf.dispose([x, eps, z, a.x, a.x0Pred, b.x, b.x0Pred]);
  });

  test('σ_t is √β_t or √β̃_t, and 0 at the last step t = 1', () => {
    expect(ddpmSigma(schedule, 1, 'beta')).toBe(0);
    expect(ddpmSigma(schedule, 1, 'betaTilde')).toBe(0);
    for (const t of [2, 500, 1000]) {
      expect(ddpmSigma(schedule, t, 'beta')).toBeCloseTo(Math.sqrt(schedule.beta[t]), 14);
      const bt = (schedule.beta[t] * (1 - alphaBar(t - 1))) / (1 - alphaBar(t));
      expect(ddpmSigma(schedule, t, 'betaTilde')).toBeCloseTo(Math.sqrt(bt), 12);
    }
    expect(ddpmSigma(schedule, 10)).toBe(ddpmSigma(schedule, 10, 'beta'));
  });

  test('demands z exactly when σ > 0', () => {
    const x = tf.zeros(SHAPE) as tf.Tensor4D;
    expect(() => ddpmStep(x, x, schedule, 10, {})).toThrow(TypeError);
    const out = ddpmStep(x, x, schedule, 1, {});
    tf.dispose([x, out.x, out.x0Pred]);
  });
});

describe('ddpm sampler', () => {
  test('is registered as samplers.ddpm', () => {
    expect(samplers.ddpm).toBe(ddpm);
  });

  for (const variance of ['beta', 'betaTilde'] as const) {
    test(`a 1000-step run with σ² = ${variance} equals a float64 reference loop fed the same noise`, async () => {
      const mu = 0.5;
      const s = 0.3;
      const denoiser = gaussianDenoiser(schedule, mu, s);
      const eps64 = gaussianEps64(schedule, mu, s);
      const xTv = makeNoise(100).normalArray(SIZE);
      const xT = tf.tensor4d(xTv, SHAPE);
      const x0 = await ddpm(denoiser, xT, schedule, { noise: makeNoise(101), variance });
      // Reference: z drawn from the same seed, one array per step exactly when σ_t > 0 (t ≥ 2).
      const refNoise = makeNoise(101);
      let x: Float64Array = Float64Array.from(xTv);
      for (let t = 1000; t >= 1; t--) {
        const z = t > 1 ? refNoise.normalArray(SIZE) : null;
        x = refStep(x, eps64(x, t), z, t, variance, false).x;
      }
      expect(maxAbsDiff(await read(x0), x)).toBeLessThan(1e-4);
      expect(denoiser.calls).toBe(1000);
      tf.dispose([xT, x0]);
    });
  }

  for (const variance of ['beta', 'betaTilde'] as const) {
    test(`with the optimal denoiser for N(μ, s²) data, σ² = ${variance} samples have mean ≈ μ and std ≈ s`, async () => {
      const mu = 0.5;
      const s = 0.3;
      const shape: [number, number, number, number] = [64, 4, 4, 1];
      const xT = makeNoise(7).normal(shape) as tf.Tensor4D;
      const x0 = await ddpm(gaussianDenoiser(schedule, mu, s), xT, schedule, { noise: makeNoise(8), variance });
      const stats = meanStd(await read(x0));
      const n = 64 * 16;
      expect(Math.abs(stats.mean - mu)).toBeLessThan((4 * s) / Math.sqrt(n));
      expect(Math.abs(stats.std - s)).toBeLessThan(0.03);
      tf.dispose([xT, x0]);
    });
  }

  test('draws noise shaped like x exactly T − 1 times (never at the last step)', async () => {
    for (const variance of ['beta', 'betaTilde'] as const) {
      const noise = countingNoise(makeNoise(3));
      const xT = tf.zeros(SHAPE) as tf.Tensor4D;
      const x0 = await ddpm(gaussianDenoiser(schedule, 0, 1), xT, schedule, { noise, variance });
      expect(noise.draws.length).toBe(999);
      for (const d of noise.draws) expect(d).toEqual(SHAPE);
      tf.dispose([xT, x0]);
    }
  });

  test('leaves numTensors unchanged across a full 1000-step run with onStep, and never disposes x_T', async () => {
    const xT = makeNoise(1).normal(SHAPE) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const seen: Array<Pick<StepInfo, 'index' | 't' | 'tPrev' | 'steps'>> = [];
    let lastX0Pred: Float64Array | null = null;
    const x0 = await ddpm(gaussianDenoiser(schedule, 0.2, 0.5), xT, schedule, {
      noise: makeNoise(2),
      clipX0: true,
      onStep: async (info) => {
        seen.push({ index: info.index, t: info.t, tPrev: info.tPrev, steps: info.steps });
        expect(info.x.shape).toEqual(SHAPE);
        expect(info.eps.shape).toEqual(SHAPE);
        if (info.index % 250 === 0 || info.index === 999) lastX0Pred = await read(info.x0Pred);
      },
    });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(xT.isDisposed).toBe(false);
    expect(seen.length).toBe(1000);
    seen.forEach((s, i) => expect(s).toEqual({ index: i, t: 1000 - i, tPrev: 999 - i, steps: 1000 }));
    // At the last step x̂_0 is the clipped prediction at t = 1 and the output lies close to it.
    expect(maxAbsDiff(await read(x0), lastX0Pred!)).toBeLessThan(0.05);
    tf.dispose([xT, x0]);
  });

  test('aborting mid-run rejects with an AbortError and leaks nothing', async () => {
    const xT = makeNoise(1).normal(SHAPE) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const denoiser = gaussianDenoiser(schedule, 0, 1);
    const run = ddpm(denoiser, xT, schedule, {
      noise: makeNoise(2),
      signal: controller.signal,
      onStep: (info) => {
        if (info.index === 5) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(denoiser.calls).toBe(6);
    expect(tf.memory().numTensors).toBe(before);
    expect(xT.isDisposed).toBe(false);

    const pre = new AbortController();
    pre.abort();
    const d2 = gaussianDenoiser(schedule, 0, 1);
    await expect(ddpm(d2, xT, schedule, { noise: makeNoise(2), signal: pre.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(d2.calls).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    xT.dispose();
  });

  test('an error thrown by onStep or the denoiser rejects the run and leaks nothing', async () => {
    const xT = makeNoise(1).normal(SHAPE) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const boom = new Error('boom');
    await expect(
      ddpm(gaussianDenoiser(schedule, 0, 1), xT, schedule, {
        noise: makeNoise(2),
        onStep: (info) => {
          if (info.index === 3) throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(tf.memory().numTensors).toBe(before);
    let calls = 0;
    const failing = (x: tf.Tensor4D) => {
      if (++calls === 4) throw boom;
      return tf.mul(x, 0.1) as tf.Tensor4D;
    };
    await expect(ddpm(failing, xT, schedule, { noise: makeNoise(2) })).rejects.toBe(boom);
    expect(tf.memory().numTensors).toBe(before);
    xT.dispose();
  });

  test('gives the same samples on the cpu and wasm backends', async () => {
    const results: Float64Array[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const xT = makeNoise(55).normal(SHAPE) as tf.Tensor4D;
      const x0 = await ddpm(gaussianDenoiser(schedule, 0.1, 0.6), xT, schedule, {
        noise: makeNoise(56),
        variance: 'betaTilde',
        clipX0: true,
      });
      results.push(await read(x0));
      tf.dispose([xT, x0]);
    }
    await useBackend('cpu');
    expect(maxAbsDiff(results[0], results[1])).toBeLessThan(1e-4);
  });
});
