import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { halfMask, img2img, inpaint, KEEP_HALVES } from '../../src/core/img2img';
import { makeNoise } from '../../src/core/noise';
import { gridTransitions, img2imgStart, img2imgTimesteps } from '../../src/core/samplers/partial';
import { makeSchedule } from '../../src/core/schedules';
import type { Denoiser, Schedule } from '../../src/core/types';
import { maxAbsDiff, read, useBackend } from '../helpers/backends';

const schedule = makeSchedule('linear', 1000);
const H = 6;
const W = 6;
const SHAPE: [number, number, number, number] = [2, H, W, 1];
const SIZE = 2 * H * W;

/** ᾱ_t in float64 from β, independent of the schedule's own alphaBar. */
function alphaBar64(s: Schedule): number[] {
  const out = [1];
  for (let t = 1; t <= s.T; t++) out.push(out[t - 1] * (1 - s.beta[t]));
  return out;
}
const AB = alphaBar64(schedule);

/** A fixed "clean image" in [−0.9, 0.9]. */
const X0 = Float32Array.from({ length: SIZE }, (_, i) => 0.9 * Math.sin(0.7 * i + 0.3));

/** The oracle: the exact noise for this x_0, ε = (x_t − √ᾱ_t x_0)/√(1−ᾱ_t). */
function oracle(x0: tf.Tensor4D): Denoiser & { calls: number } {
  const f = ((x: tf.Tensor4D, t: number) => {
    f.calls++;
    const ab = AB[t];
    return tf.tidy(() => tf.div(tf.sub(x, tf.mul(x0, Math.sqrt(ab))), Math.sqrt(1 - ab)));
  }) as Denoiser & { calls: number };
  f.calls = 0;
  return f;
}

/** A deliberately wrong but simple denoiser, ε̂ = a·x_t + b, with its float64 twin. */
const A = 0.6;
const B = -0.05;
const affine: Denoiser = (x) => tf.tidy(() => tf.add(tf.mul(x, A), B));

beforeAll(async () => {
  await useBackend('cpu');
});

describe('img2imgStart and img2imgTimesteps', () => {
  test('t0 = round(s·T), clamped', () => {
    expect(img2imgStart(0, 1000)).toBe(0);
    expect(img2imgStart(0.5, 1000)).toBe(500);
    expect(img2imgStart(0.7504, 1000)).toBe(750);
    expect(img2imgStart(1, 1000)).toBe(1000);
    expect(img2imgStart(1.7, 1000)).toBe(1000);
    expect(img2imgStart(-0.2, 1000)).toBe(0);
    expect(() => img2imgStart(Number.NaN, 1000)).toThrow(RangeError);
  });

  test('the grid starts at t0, ends at 0, is strictly decreasing and has min(steps, t0) steps', () => {
    for (const t0 of [1, 2, 3, 7, 19, 20, 21, 250, 333, 999, 1000]) {
      for (const steps of [1, 2, 5, 20, 50, 1000]) {
        const g = img2imgTimesteps(t0, steps);
        expect(g[0]).toBe(t0);
        expect(g[g.length - 1]).toBe(0);
        expect(g.length).toBe(Math.min(steps, t0) + 1);
        for (let i = 1; i < g.length; i++) expect(g[i]).toBeLessThan(g[i - 1]);
        for (const t of g) expect(Number.isInteger(t)).toBe(true);
      }
    }
    expect(img2imgTimesteps(1000, 20)).toEqual(Array.from({ length: 21 }, (_, k) => 1000 - 50 * k));
    expect(img2imgTimesteps(500, 4)).toEqual([500, 375, 250, 125, 0]);
    expect(img2imgTimesteps(0, 20)).toEqual([0]);
    expect(() => img2imgTimesteps(10, 0)).toThrow(RangeError);
    expect(() => img2imgTimesteps(-1, 5)).toThrow(RangeError);
    expect(() => img2imgTimesteps(10.5, 5)).toThrow(RangeError);
  });

  test('gridTransitions pairs neighbours with σ = 0 and refuses a non-decreasing grid', () => {
    expect(gridTransitions([10, 5, 0])).toEqual([
      { t: 10, tPrev: 5, sigma: 0 },
      { t: 5, tPrev: 0, sigma: 0 },
    ]);
    expect(gridTransitions([0])).toEqual([]);
    expect(() => gridTransitions([5, 5, 0])).toThrow(RangeError);
  });
});

describe('img2img', () => {
  test('with the oracle denoiser it returns x_0 (1e-4) at every strength, visiting the grid from t0', async () => {
    const x0 = tf.tensor4d(X0, SHAPE);
    for (const strength of [0.05, 0.25, 0.5, 0.8, 1]) {
      for (const steps of [1, 7, 20]) {
        const before = tf.memory().numTensors;
        const den = oracle(x0);
        const visited: number[] = [];
        const r = await img2img(den, schedule, x0, {
          strength,
          steps,
          noise: makeNoise(3),
          onStep: (info) => {
            visited.push(info.t);
            if (info.index === info.steps - 1) visited.push(info.tPrev);
          },
        });
        expect(r.t0).toBe(Math.round(strength * 1000));
        expect(r.timesteps).toEqual(img2imgTimesteps(r.t0, steps));
        expect(visited).toEqual(r.timesteps);
        expect(den.calls).toBe(r.timesteps.length - 1);
        expect(maxAbsDiff(await read(r.x), X0)).toBeLessThan(1e-4);
        r.x.dispose();
        r.xStart.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
    }
    x0.dispose();
  });

  test('x_{t0} is √ᾱ_{t0} x_0 + √(1−ᾱ_{t0}) ε with ε the first draw of the noise source', async () => {
    const x0 = tf.tensor4d(X0, SHAPE);
    const r = await img2img(affine, schedule, x0, { strength: 0.6, steps: 3, noise: makeNoise(42) });
    const eps = makeNoise(42).normalArray(SIZE);
    const want = Array.from(X0, (v, i) => Math.sqrt(AB[600]) * v + Math.sqrt(1 - AB[600]) * eps[i]);
    expect(maxAbsDiff(await read(r.xStart), want)).toBeLessThan(1e-5);
    tf.dispose([x0, r.x, r.xStart]);
  });

  test('strength 0 returns the input unchanged without calling the denoiser', async () => {
    const x0 = tf.tensor4d(X0, SHAPE);
    const before = tf.memory().numTensors;
    const den = oracle(x0);
    const r = await img2img(den, schedule, x0, { strength: 0, steps: 20, noise: makeNoise(1) });
    expect(den.calls).toBe(0);
    expect(r.t0).toBe(0);
    expect(r.timesteps).toEqual([0]);
    expect(Array.from(await read(r.x))).toEqual(Array.from(X0, (v) => v));
    expect(r.x).not.toBe(x0);
    tf.dispose([r.x, r.xStart]);
    expect(tf.memory().numTensors).toBe(before);
    x0.dispose();
  });

  test('one step matches DDIM (η = 0, Song et al. 2021 eq. 12) written out in float64', async () => {
    const x0 = tf.tensor4d(X0, SHAPE);
    const snapshots: { t: number; tPrev: number; x: Float32Array }[] = [];
    const r = await img2img(affine, schedule, x0, {
      strength: 0.7,
      steps: 4,
      noise: makeNoise(9),
      onStep: async (info) => {
        if (info.index === 0) snapshots.push({ t: info.t, tPrev: info.tPrev, x: (await info.x.data()) as Float32Array });
      },
    });
    const [{ t, tPrev, x }] = snapshots;
    expect([t, tPrev]).toEqual([700, 525]);
    const xt = await read(r.xStart);
    const want = Array.from(xt, (v) => {
      const eps = A * v + B;
      const x0Pred = (v - Math.sqrt(1 - AB[t]) * eps) / Math.sqrt(AB[t]);
      return Math.sqrt(AB[tPrev]) * x0Pred + Math.sqrt(1 - AB[tPrev]) * eps;
    });
    expect(maxAbsDiff(x, want)).toBeLessThan(2e-5);
    tf.dispose([x0, r.x, r.xStart]);
  });

  test('an AbortSignal stops the run with an AbortError and leaks nothing', async () => {
    const x0 = tf.tensor4d(X0, SHAPE);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const den = oracle(x0);
    await expect(
      img2img(den, schedule, x0, {
        strength: 0.9,
        steps: 20,
        noise: makeNoise(5),
        signal: controller.signal,
        onStep: (info) => {
          if (info.index === 2) controller.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(den.calls).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    const aborted = new AbortController();
    aborted.abort();
    await expect(img2img(den, schedule, x0, { strength: 0.5, noise: makeNoise(5), signal: aborted.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(before);
    x0.dispose();
  });
});

describe('inpaint', () => {
  test('halfMask keeps the named half', () => {
    const m = halfMask('left', 2, 4);
    expect(Array.from(m)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    expect(Array.from(halfMask('top', 2, 2))).toEqual([1, 1, 0, 0]);
    expect(Array.from(halfMask('bottom', 2, 2))).toEqual([0, 0, 1, 1]);
    expect(Array.from(halfMask('right', 1, 4))).toEqual([0, 0, 1, 1]);
    for (const k of KEEP_HALVES) expect(halfMask(k, 28, 28).reduce((a, b) => a + b, 0)).toBe(392);
    expect(() => halfMask('middle' as never, 2, 2)).toThrow(RangeError);
  });

  test('the kept region equals x_0 at the end and the hole is regenerated; no tensors leak', async () => {
    const x0 = tf.tensor4d(X0, SHAPE);
    const mask = halfMask('top', H, W);
    const keep = tf.tensor4d(mask, [1, H, W, 1]);
    const before = tf.memory().numTensors;
    const visited: number[] = [];
    const r = await inpaint(affine, schedule, x0, {
      keep,
      steps: 10,
      noise: makeNoise(17),
      onStep: (info) => {
        visited.push(info.tPrev);
      },
    });
    expect(r.timesteps).toEqual(img2imgTimesteps(1000, 10));
    expect(visited).toEqual(r.timesteps.slice(1));
    const out = await read(r.x);
    let holeDiff = 0;
    for (let i = 0; i < SIZE; i++) {
      if (mask[i % (H * W)] === 1) expect(out[i]).toBe(X0[i]);
      else holeDiff = Math.max(holeDiff, Math.abs(out[i] - X0[i]));
    }
    expect(holeDiff).toBeGreaterThan(1e-2);
    r.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x0, keep]);
  });

  test('in the middle of the run the kept region is x_0 noised to the current level', async () => {
    const x0 = tf.tensor4d(X0, SHAPE);
    const mask = halfMask('right', H, W);
    const keep = tf.tensor4d(mask, [1, H, W, 1]);
    // Draw order: x_T, then one fresh ε per step with t′ > 0.
    const replica = makeNoise(23);
    replica.normalArray(SIZE);
    const eps1 = replica.normalArray(SIZE);
    let seen: Float32Array | null = null;
    const r = await inpaint(affine, schedule, x0, {
      keep,
      steps: 4,
      noise: makeNoise(23),
      onStep: async (info) => {
        if (info.index === 0) seen = (await info.x.data()) as Float32Array;
      },
    });
    expect(seen).not.toBeNull();
    for (let i = 0; i < SIZE; i++) {
      if (mask[i % (H * W)] !== 1) continue;
      expect(seen![i]).toBeCloseTo(Math.sqrt(AB[750]) * X0[i] + Math.sqrt(1 - AB[750]) * eps1[i], 5);
    }
    tf.dispose([x0, keep, r.x]);
  });

  test('with the oracle denoiser the hole is filled with x_0 as well', async () => {
    const x0 = tf.tensor4d(X0, SHAPE);
    const keep = tf.tensor4d(halfMask('left', H, W), [1, H, W, 1]);
    const r = await inpaint(oracle(x0), schedule, x0, { keep, steps: 20, noise: makeNoise(2) });
    expect(maxAbsDiff(await read(r.x), X0)).toBeLessThan(1e-3);
    tf.dispose([x0, keep, r.x]);
  });

  test('an AbortSignal stops inpainting with an AbortError and leaks nothing', async () => {
    const x0 = tf.tensor4d(X0, SHAPE);
    const keep = tf.tensor4d(halfMask('bottom', H, W), [1, H, W, 1]);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    await expect(
      inpaint(affine, schedule, x0, {
        keep,
        steps: 10,
        noise: makeNoise(4),
        signal: controller.signal,
        onStep: (info) => {
          if (info.index === 4) controller.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x0, keep]);
  });
});
