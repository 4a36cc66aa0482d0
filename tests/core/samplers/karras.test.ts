import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { makeNoise } from '../../../src/core/noise';
import {
  ddim,
  euler,
  heun,
  karrasGrid,
  karrasSigmas,
  karrasTimesteps,
  nfeOf,
  samplers,
  SAMPLER_LABELS,
  sigmaOf,
  spacedTimesteps,
  timestepOfSigma,
} from '../../../src/core/samplers';
import { makeSchedule } from '../../../src/core/schedules';
import type { Denoiser } from '../../../src/core/types';
import { countingNoise, gaussianDenoiser, gaussianEps64 } from '../../helpers/analytic';
import { maxAbsDiff, read, useBackend } from '../../helpers/backends';
import { checkTensorDiscipline } from '../../helpers/samplerDiscipline';

const schedule = makeSchedule('linear', 1000);
const SHAPE: [number, number, number, number] = [2, 4, 4, 1];
const SIZE = 32;

/** ᾱ_t in float64 from β, independent of the schedule's own alphaBar. */
const AB = (() => {
  const out = [1];
  for (let t = 1; t <= 1000; t++) out.push(out[t - 1] * (1 - schedule.beta[t]));
  return out;
})();
const SIG = AB.map((a) => Math.sqrt((1 - a) / a));

// np.linspace(0, 999, n).round()[::-1] + 1 (diffusers DDIM 'linspace', and the rounding of Euler/Heun's float grid).
const LINSPACE_10 = [1000, 889, 778, 667, 556, 445, 334, 223, 112, 1];

/**
 * Karras et al. 2022, Algorithm 1 (S_churn = 0) in float64, on y = x/√ᾱ with D(y; σ) = y − σ ε̂(x_t, t), written
 * straight from the paper: d = (y − D)/σ, y′ = y + (σ′−σ) d, and for Heun the trapezoid with d′ at the Euler point
 * unless σ′ = 0.
 */
function refKarras(
  xT: ArrayLike<number>,
  eps64: (x: Float64Array, t: number) => Float64Array,
  ts: number[],
  second: boolean,
  clip = false,
): Float64Array {
  const grid = [...ts, 0];
  const D = (y: Float64Array, t: number) => {
    const x = y.map((v) => v * Math.sqrt(AB[t]));
    const e = eps64(x, t);
    return y.map((v, k) => {
      const d0 = v - SIG[t] * e[k];
      return clip ? Math.min(1, Math.max(-1, d0)) : d0;
    });
  };
  let y = Float64Array.from(xT, (v) => v / Math.sqrt(AB[ts[0]]));
  for (let i = 0; i + 1 < grid.length; i++) {
    const s = SIG[grid[i]];
    const sn = grid[i + 1] === 0 ? 0 : SIG[grid[i + 1]];
    const den = D(y, grid[i]);
    const d = y.map((v, k) => (v - den[k]) / s);
    const yE = y.map((v, k) => v + (sn - s) * d[k]);
    if (!second || sn === 0) {
      y = yE;
      continue;
    }
    const den2 = D(yE, grid[i + 1]);
    const d2 = yE.map((v, k) => (v - den2[k]) / sn);
    y = y.map((v, k) => v + (sn - s) * 0.5 * (d[k] + d2[k]));
  }
  return y; // σ = 0 at the end: x = y
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('σ and Karras grids', () => {
  test('sigmaOf is √((1−ᾱ)/ᾱ) and timestepOfSigma inverts it at integers and interpolates in log σ between them', () => {
    for (const t of [1, 2, 37, 500, 999, 1000]) {
      expect(sigmaOf(schedule, t)).toBeCloseTo(SIG[t], 10);
      expect(timestepOfSigma(schedule, SIG[t])).toBeCloseTo(t, 8);
    }
    expect(sigmaOf(schedule, 0)).toBe(0);
    const mid = Math.exp(0.25 * Math.log(SIG[300]) + 0.75 * Math.log(SIG[301]));
    expect(timestepOfSigma(schedule, mid)).toBeCloseTo(300.75, 8);
    expect(timestepOfSigma(schedule, 1e-6)).toBe(1);
    expect(timestepOfSigma(schedule, 1e6)).toBe(1000);
  });

  test('karrasSigmas is eq. 5 with ρ = 7 from σ_max to σ_min', () => {
    const sig = karrasSigmas(80, 0.002, 5);
    const a = 80 ** (1 / 7);
    const b = 0.002 ** (1 / 7);
    sig.forEach((v, i) => expect(v).toBeCloseTo((a + (i / 4) * (b - a)) ** 7, 10));
    expect(sig[0]).toBeCloseTo(80, 10);
    expect(sig[4]).toBeCloseTo(0.002, 12);
  });

  test('a Karras grid with room to spare is each σ_i rounded to the nearest integer timestep in log σ', () => {
    for (const steps of [5, 10, 20]) {
      const base = spacedTimesteps(1000, steps, 'linspace');
      const ts = karrasTimesteps(schedule, base);
      const sig = karrasSigmas(SIG[base[0]], SIG[base.at(-1)!], steps);
      const want = sig.map((s) => {
        // nearest in log σ among integers (independent of timestepOfSigma: brute force)
        let best = 1;
        for (let t = 1; t <= 1000; t++) if (Math.abs(Math.log(SIG[t] / s)) < Math.abs(Math.log(SIG[best] / s))) best = t;
        return best;
      });
      // Rounding the interpolated timestep and picking the nearest log σ agree except within half a step of a tie.
      ts.forEach((t, i) => expect(Math.abs(t - want[i])).toBeLessThanOrEqual(1));
      expect(ts[0]).toBe(1000);
      expect(ts.at(-1)).toBe(1);
      expect(ts).not.toEqual(base);
    }
    // diffusers' _convert_to_karras and _sigma_to_t in numpy (float64 ᾱ), rounded, + 1.
    expect(karrasTimesteps(schedule, LINSPACE_10)).toEqual([1000, 938, 865, 776, 664, 512, 302, 103, 19, 1]);
  });

  test('where rounding would repeat a timestep, the grid stays strictly decreasing with every step kept', () => {
    for (const steps of [100, 300, 1000]) {
      const ts = karrasGrid(schedule, { steps, sigmas: 'karras', spacing: 'trailing' });
      expect(ts).toHaveLength(steps);
      for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeLessThan(ts[i - 1]);
      expect(ts[0]).toBe(1000);
    }
    expect(karrasGrid(schedule, { steps: 1000, sigmas: 'karras', spacing: 'trailing' })).toEqual(
      Array.from({ length: 1000 }, (_, i) => 1000 - i),
    );
    expect(() => karrasGrid(schedule, { steps: 10, sigmas: 'bogus' as never })).toThrow(RangeError);
  });
});

describe('Euler and Heun samplers', () => {
  test('are registered as euler and heun with reader-facing labels', () => {
    expect(samplers.euler).toBe(euler);
    expect(samplers.heun).toBe(heun);
    expect([SAMPLER_LABELS.euler, SAMPLER_LABELS.heun]).toEqual(['Euler', 'Heun']);
  });

  const mu = 0.3;
  const s = 0.6;
  for (const [name, sampler, second] of [
    ['euler', euler, false],
    ['heun', heun, true],
  ] as const) {
    for (const spacing of ['linspace', 'leading', 'trailing'] as const) {
      for (const sigmas of ['timesteps', 'karras'] as const) {
        test(`${name}, ${spacing}, ${sigmas} σ, 10 steps, equals Karras et al.'s Algorithm 1 in float64`, async () => {
          const xTv = makeNoise(50).normalArray(SIZE);
          const xT = tf.tensor4d(xTv, SHAPE);
          const visited: Array<[number, number]> = [];
          const noise = countingNoise(makeNoise(1));
          const x0 = await sampler(gaussianDenoiser(schedule, mu, s), xT, schedule, {
            noise,
            steps: 10,
            spacing,
            sigmas,
            onStep: (info) => {
              visited.push([info.t, info.tPrev]);
            },
          });
          const base = spacedTimesteps(1000, 10, spacing);
          const ts = sigmas === 'karras' ? karrasTimesteps(schedule, base) : base;
          if (spacing === 'linspace') expect(base).toEqual(LINSPACE_10);
          expect(visited).toEqual(ts.map((t, i) => [t, i + 1 < ts.length ? ts[i + 1] : 0]));
          expect(noise.draws.length).toBe(0);
          const want = refKarras(xTv, gaussianEps64(schedule, mu, s), ts, second);
          expect(maxAbsDiff(await read(x0), want)).toBeLessThan(2e-5);
          tf.dispose([xT, x0]);
        });
      }
    }
    test(`${name} with clipping equals the reference that clips D(y; σ)`, async () => {
      const xTv = makeNoise(51).normalArray(SIZE);
      const xT = tf.tensor4d(xTv, SHAPE);
      const x0 = await sampler(gaussianDenoiser(schedule, 0.5, 1.5), xT, schedule, { noise: makeNoise(1), steps: 15, clipX0: true });
      const want = refKarras(xTv, gaussianEps64(schedule, 0.5, 1.5), spacedTimesteps(1000, 15, 'linspace'), second, true);
      expect(maxAbsDiff(await read(x0), want)).toBeLessThan(2e-5);
      for (const v of await read(x0)) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-6);
      tf.dispose([xT, x0]);
    });
  }

  for (const spacing of ['linspace', 'leading', 'trailing'] as const) {
    test(`Euler equals DDIM with η = 0 on the same ${spacing} grid`, async () => {
      const xT = makeNoise(60).normal(SHAPE) as tf.Tensor4D;
      const d = gaussianDenoiser(schedule, -0.4, 0.8);
      for (const steps of [4, 25]) {
        const a = await euler(d, xT, schedule, { noise: makeNoise(1), steps, spacing });
        const b = await ddim(d, xT, schedule, { noise: makeNoise(1), steps, spacing, eta: 0 });
        expect(maxAbsDiff(await read(a), await read(b))).toBeLessThan(1e-5);
        tf.dispose([a, b]);
      }
      xT.dispose();
    });
  }

  test('Heun is not Euler: the correction changes the result', async () => {
    const xT = makeNoise(61).normal(SHAPE) as tf.Tensor4D;
    const d = gaussianDenoiser(schedule, 0.2, 0.7);
    const a = await euler(d, xT, schedule, { noise: makeNoise(1), steps: 10 });
    const b = await heun(d, xT, schedule, { noise: makeNoise(1), steps: 10 });
    expect(maxAbsDiff(await read(a), await read(b))).toBeGreaterThan(1e-3);
    tf.dispose([xT, a, b]);
  });

  test('count network evaluations as nfeOf says (Heun 2 per step, 1 on the last), always at integer timesteps', async () => {
    const xT = tf.zeros(SHAPE) as tf.Tensor4D;
    for (const name of ['euler', 'heun'] as const) {
      for (const sigmas of ['timesteps', 'karras'] as const) {
        for (const steps of [1, 2, 10, 20]) {
          const ts: number[] = [];
          const inner = gaussianDenoiser(schedule, 0, 1);
          const d: Denoiser = (x, t) => {
            ts.push(t);
            return inner(x, t);
          };
          const x0 = await samplers[name](d, xT, schedule, { noise: makeNoise(1), steps, sigmas });
          expect(ts.length).toBe(nfeOf(name, steps));
          for (const t of ts) expect(Number.isInteger(t) && t >= 1 && t <= 1000).toBe(true);
          if (name === 'heun') {
            const grid = karrasGrid(schedule, { steps, sigmas });
            // t_0, then (t_1, t_1), (t_2, t_2), …: the corrector of step i evaluates at t_{i+1}, the next step again.
            expect(ts).toEqual([grid[0], ...grid.slice(1).flatMap((t) => [t, t])]);
          }
          x0.dispose();
        }
      }
    }
    xT.dispose();
  });

  test('leave numTensors unchanged, reject an abort with an AbortError, never dispose x_T', async () => {
    const xT = makeNoise(1).normal(SHAPE) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (const sampler of [euler, heun]) {
      expect(await checkTensorDiscipline(sampler, schedule, xT, { steps: 12, sigmas: 'karras', clipX0: true }, 3)).toBe(sampler === heun ? 8 : 4);
    }
    const boom = new Error('boom');
    let calls = 0;
    const failing: Denoiser = (x) => {
      if (++calls === 4) throw boom;
      return tf.mul(x, 0.1) as tf.Tensor4D;
    };
    await expect(heun(failing, xT, schedule, { noise: makeNoise(2), steps: 10 })).rejects.toBe(boom);
    expect(tf.memory().numTensors).toBe(before);
    xT.dispose();
  });
});
