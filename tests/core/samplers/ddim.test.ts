import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { makeNoise } from '../../../src/core/noise';
import { ddim, ddimSigma, ddimStep, ddimTimesteps, ddpm, samplers } from '../../../src/core/samplers';
import { makeSchedule } from '../../../src/core/schedules';
import { countingNoise, gaussianDenoiser, gaussianEps64 } from '../../helpers/analytic';
import { maxAbsDiff, meanStd, read, useBackend } from '../../helpers/backends';
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

const abPrevOf = (tPrev: number, finalOne: boolean) => (tPrev === 0 ? (finalOne ? 1 : AB[1]) : AB[tPrev]);

/** Song et al. 2021 eq. 12 with σ from eq. 16, in float64; with clip, ε̂ is re-derived from the clipped x̂_0. */
function refStep(
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  z: ArrayLike<number> | null,
  t: number,
  tPrev: number,
  eta: number,
  clip: boolean,
  finalOne: boolean,
  keepEps = false,
) {
  const ab = AB[t];
  const abP = abPrevOf(tPrev, finalOne);
  const sigma = eta * Math.sqrt((1 - abP) / (1 - ab)) * Math.sqrt(1 - ab / abP);
  const out = new Float64Array(x.length);
  const x0 = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    x0[i] = (x[i] - Math.sqrt(1 - ab) * eps[i]) / Math.sqrt(ab);
    let e = eps[i];
    if (clip) {
      x0[i] = Math.min(1, Math.max(-1, x0[i]));
      if (!keepEps) e = (x[i] - Math.sqrt(ab) * x0[i]) / Math.sqrt(1 - ab);
    }
    out[i] =
      Math.sqrt(abP) * x0[i] + Math.sqrt(Math.max(0, 1 - abP - sigma * sigma)) * e + (sigma > 0 ? sigma * z![i] : 0);
  }
  return { x: out, x0, sigma };
}

// Expected timesteps: numpy's diffusers formulas, 0-based, printed and shifted by +1 to our t.
const LEADING_10 = [901, 801, 701, 601, 501, 401, 301, 201, 101, 1];
const TRAILING_10 = [1000, 900, 800, 700, 600, 500, 400, 300, 200, 100];
// np.round(np.arange(1000, 0, -1000/16)) (round half to even) = 0-based + 1.
const TRAILING_16 = [1000, 938, 875, 812, 750, 688, 625, 562, 500, 438, 375, 312, 250, 188, 125, 62];
// (np.arange(0, 7) * (1000 // 7)).round()[::-1] + 1.
const LEADING_7 = [853, 711, 569, 427, 285, 143, 1];
const TRAILING_7 = [1000, 857, 714, 571, 429, 286, 143];

beforeAll(async () => {
  await useBackend('cpu');
});

describe('ddimTimesteps', () => {
  test('leading and trailing spacings match diffusers (shifted to our 1-based t)', () => {
    expect(ddimTimesteps(1000, 10, 'leading')).toEqual(LEADING_10);
    expect(ddimTimesteps(1000, 10, 'trailing')).toEqual(TRAILING_10);
    expect(ddimTimesteps(1000, 16, 'trailing')).toEqual(TRAILING_16);
    expect(ddimTimesteps(1000, 7, 'leading')).toEqual(LEADING_7);
    expect(ddimTimesteps(1000, 7, 'trailing')).toEqual(TRAILING_7);
    expect(ddimTimesteps(1000, 10)).toEqual(LEADING_10);
  });

  test('with steps = T both spacings visit every t from T down to 1', () => {
    const all = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(ddimTimesteps(1000, 1000, 'leading')).toEqual(all);
    expect(ddimTimesteps(1000, 1000, 'trailing')).toEqual(all);
  });

  test('rejects step counts outside 1…T and unknown spacings', () => {
    expect(() => ddimTimesteps(1000, 0)).toThrow(RangeError);
    expect(() => ddimTimesteps(1000, 1001)).toThrow(RangeError);
    expect(() => ddimTimesteps(1000, 2.5)).toThrow(RangeError);
    expect(() => ddimTimesteps(1000, 10, 'bogus' as never)).toThrow(RangeError);
  });

  test('linspace is diffusers DDIM np.linspace(0, T−1, n).round(), and stepsOffset shifts only leading grids', () => {
    // np.linspace(0, 999, n).round()[::-1] + 1
    expect(ddimTimesteps(1000, 10, 'linspace')).toEqual([1000, 889, 778, 667, 556, 445, 334, 223, 112, 1]);
    expect(ddimTimesteps(1000, 7, 'linspace')).toEqual([1000, 833, 667, 501, 334, 167, 1]);
    expect(ddimTimesteps(1000, 1, 'linspace')).toEqual([1]);
    expect(ddimTimesteps(1000, 10, 'leading', 1)).toEqual(LEADING_10.map((t) => t + 1));
    expect(ddimTimesteps(1000, 10, 'trailing', 1)).toEqual(TRAILING_10);
    expect(ddimTimesteps(1000, 10, 'linspace', 1)).toEqual(ddimTimesteps(1000, 10, 'linspace'));
    expect(() => ddimTimesteps(1000, 1000, 'leading', 1)).toThrow(RangeError);
    expect(() => ddimTimesteps(1000, 10, 'leading', -1)).toThrow(RangeError);
  });
});

describe('ddimSigma', () => {
  test('is η √((1−ᾱ_t′)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_t′) and with η = 1 over one step equals √β̃_t', () => {
    expect(ddimSigma(AB[500], AB[400], 0)).toBe(0);
    const want = 0.5 * Math.sqrt((1 - AB[400]) / (1 - AB[500])) * Math.sqrt(1 - AB[500] / AB[400]);
    expect(ddimSigma(AB[500], AB[400], 0.5)).toBeCloseTo(want, 14);
    for (const t of [2, 100, 1000]) {
      const betaTilde = (schedule.beta[t] * (1 - AB[t - 1])) / (1 - AB[t]);
      expect(ddimSigma(AB[t], AB[t - 1], 1) ** 2).toBeCloseTo(betaTilde, 12);
    }
    expect(ddimSigma(AB[7], 1, 1)).toBe(0);
  });
});

describe('ddimStep', () => {
  const cases: Array<{ t: number; tPrev: number; finalOne: boolean }> = [
    { t: 1000, tPrev: 900, finalOne: true },
    { t: 501, tPrev: 401, finalOne: true },
    { t: 101, tPrev: 1, finalOne: true },
    { t: 100, tPrev: 0, finalOne: true },
    { t: 100, tPrev: 0, finalOne: false },
    { t: 2, tPrev: 1, finalOne: false },
  ];
  for (const eta of [0, 0.5, 1]) {
    for (const clip of [false, true]) {
      test(`matches the float64 reference step at η = ${eta}, clipping ${clip ? 'on' : 'off'}, with ᾱ after t′ = 0 of 1 or ᾱ_1`, async () => {
        const before = tf.memory().numTensors;
        for (const { t, tPrev, finalOne } of cases) {
          const xv = makeNoise(t).normalArray(SIZE);
          const ev = makeNoise(t + 1).normalArray(SIZE);
          const zv = makeNoise(t + 2).normalArray(SIZE);
          const x = tf.tensor4d(xv, SHAPE);
          const eps = tf.tensor4d(ev, SHAPE);
          const z = tf.tensor4d(zv, SHAPE);
          const out = ddimStep(x, eps, schedule, t, tPrev, { eta, clipX0: clip, finalAlphaBarOne: finalOne, z });
          const want = refStep(xv, ev, zv, t, tPrev, eta, clip, finalOne);
          expect(maxAbsDiff(await read(out.x), want.x)).toBeLessThan(5e-5);
          const scale = Math.max(1, ...Array.from(want.x0, Math.abs));
          expect(maxAbsDiff(await read(out.x0Pred), want.x0) / scale).toBeLessThan(1e-5);
          tf.dispose([x, eps, z, out.x, out.x0Pred]);
        }
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  for (const eta of [0, 0.5]) {
    test(`with clipRule 'keepEps' (diffusers clip_sample) at η = ${eta} clips x̂_0 but keeps the network's ε̂`, async () => {
      for (const { t, tPrev, finalOne } of cases) {
        const xv = makeNoise(t + 5).normalArray(SIZE).map((v) => 3 * v);
        const ev = makeNoise(t + 6).normalArray(SIZE);
        const zv = makeNoise(t + 7).normalArray(SIZE);
        const [x, eps, z] = [xv, ev, zv].map((v) => tf.tensor4d(v, SHAPE));
        const out = ddimStep(x, eps, schedule, t, tPrev, { eta, clipX0: true, clipRule: 'keepEps', finalAlphaBarOne: finalOne, z });
        const want = refStep(xv, ev, zv, t, tPrev, eta, true, finalOne, true);
        const ours = refStep(xv, ev, zv, t, tPrev, eta, true, finalOne, false);
        expect(maxAbsDiff(await read(out.x), want.x)).toBeLessThan(5e-5);
        if (tPrev !== 0 || !finalOne) expect(maxAbsDiff(want.x, ours.x)).toBeGreaterThan(1e-3);
        tf.dispose([x, eps, z, out.x, out.x0Pred]);
      }
      const x = tf.zeros(SHAPE) as tf.Tensor4D;
      expect(() => ddimStep(x, x, schedule, 500, 400, { clipX0: true, clipRule: 'bogus' as never })).toThrow(RangeError);
      x.dispose();
    });
  }

  test('demands z exactly when σ > 0 and rejects bad timesteps or η', () => {
    const x = tf.zeros(SHAPE) as tf.Tensor4D;
    expect(() => ddimStep(x, x, schedule, 500, 400, { eta: 1 })).toThrow(TypeError);
    expect(() => ddimStep(x, x, schedule, 500, 500)).toThrow(RangeError);
    expect(() => ddimStep(x, x, schedule, 0, 0)).toThrow(RangeError);
    expect(() => ddimStep(x, x, schedule, 500, 400, { eta: -1 })).toThrow(RangeError);
    const out = ddimStep(x, x, schedule, 500, 400, { eta: 0 });
    tf.dispose([x, out.x, out.x0Pred]);
  });

  test('η > 1 stays finite: the ε̂ term is dropped where 1 − ᾱ_t′ − σ² < 0', async () => {
    const x = tf.tensor4d(makeNoise(1).normalArray(SIZE), SHAPE);
    const z = tf.tensor4d(makeNoise(2).normalArray(SIZE), SHAPE);
    const out = ddimStep(x, x, schedule, 900, 100, { eta: 3, z });
    for (const v of await read(out.x)) expect(Number.isFinite(v)).toBe(true);
    tf.dispose([x, z, out.x, out.x0Pred]);
  });
});

describe('ddim sampler', () => {
  test('is registered as samplers.ddim and defaults to 50 steps', async () => {
    expect(samplers.ddim).toBe(ddim);
    const d = gaussianDenoiser(schedule, 0, 1);
    const xT = tf.zeros(SHAPE) as tf.Tensor4D;
    const x0 = await ddim(d, xT, schedule, { noise: makeNoise(1) });
    expect(d.calls).toBe(50);
    tf.dispose([xT, x0]);
  });

  const runs = [
    { spacing: 'leading', ts: LEADING_10 },
    { spacing: 'trailing', ts: TRAILING_10 },
  ] as const;
  for (const { spacing, ts } of runs) {
    for (const finalOne of [true, false]) {
      for (const eta of [0, 0.5]) {
        for (const clip of [false, true]) {
          test(`a 10-step ${spacing} run (η = ${eta}, finalAlphaBarOne ${finalOne}, clip ${clip}) equals a float64 reference loop`, async () => {
            const mu = 0.3;
            const s = 0.8;
            const xTv = makeNoise(10).normalArray(SIZE);
            const xT = tf.tensor4d(xTv, SHAPE);
            const noise = countingNoise(makeNoise(11));
            const visited: Array<[number, number]> = [];
            const x0 = await ddim(gaussianDenoiser(schedule, mu, s), xT, schedule, {
              noise,
              steps: 10,
              eta,
              spacing,
              finalAlphaBarOne: finalOne,
              clipX0: clip,
              onStep: (info) => {
                visited.push([info.t, info.tPrev]);
              },
            });
            const eps64 = gaussianEps64(schedule, mu, s);
            const refNoise = makeNoise(11);
            let x: Float64Array = Float64Array.from(xTv);
            let draws = 0;
            const pairs: Array<[number, number]> = ts.map((t, i) => [t, i + 1 < ts.length ? ts[i + 1] : 0]);
            for (const [t, tPrev] of pairs) {
              const sigma =
                eta *
                Math.sqrt((1 - abPrevOf(tPrev, finalOne)) / (1 - AB[t])) *
                Math.sqrt(1 - AB[t] / abPrevOf(tPrev, finalOne));
              const z = sigma > 0 ? refNoise.normalArray(SIZE) : null;
              if (z) draws++;
              x = refStep(x, eps64(x, t), z, t, tPrev, eta, clip, finalOne).x;
            }
            expect(visited).toEqual(pairs);
            expect(noise.draws.length).toBe(draws);
            expect(maxAbsDiff(await read(x0), x)).toBeLessThan(1e-4);
            tf.dispose([xT, x0]);
          });
        }
      }
    }
  }

  test('η = 0 is deterministic: different noise seeds give identical samples and no noise is drawn', async () => {
    const xT = makeNoise(5).normal(SHAPE) as tf.Tensor4D;
    const a = countingNoise(makeNoise(1));
    const b = countingNoise(makeNoise(2));
    const xa = await ddim(gaussianDenoiser(schedule, 0, 1), xT, schedule, { noise: a, steps: 20, eta: 0 });
    const xb = await ddim(gaussianDenoiser(schedule, 0, 1), xT, schedule, { noise: b, steps: 20, eta: 0 });
    expect(Array.from(await read(xa))).toEqual(Array.from(await read(xb)));
    expect(a.draws.length + b.draws.length).toBe(0);
    // …whereas η = 0.5 does depend on the seed.
    const xc = await ddim(gaussianDenoiser(schedule, 0, 1), xT, schedule, { noise: makeNoise(1), steps: 20, eta: 0.5 });
    const xd = await ddim(gaussianDenoiser(schedule, 0, 1), xT, schedule, { noise: makeNoise(2), steps: 20, eta: 0.5 });
    expect(maxAbsDiff(await read(xc), await read(xd))).toBeGreaterThan(1e-3);
    tf.dispose([xT, xa, xb, xc, xd]);
  });

  for (const spacing of ['leading', 'trailing'] as const) {
    for (const clip of [false, true]) {
      test(`all T steps with η = 1 and ᾱ = 1 at the end (${spacing}, clip ${clip}) equal DDPM with σ² = β̃ and the same seed`, async () => {
        const xT = makeNoise(20).normal(SHAPE) as tf.Tensor4D;
        const denoiser = gaussianDenoiser(schedule, 0.4, 0.7);
        const nDdim = countingNoise(makeNoise(21));
        const nDdpm = countingNoise(makeNoise(21));
        const a = await ddim(denoiser, xT, schedule, {
          noise: nDdim,
          steps: 1000,
          eta: 1,
          spacing,
          finalAlphaBarOne: true,
          clipX0: clip,
        });
        const b = await ddpm(denoiser, xT, schedule, { noise: nDdpm, variance: 'betaTilde', clipX0: clip });
        expect(nDdim.draws.length).toBe(nDdpm.draws.length);
        expect(maxAbsDiff(await read(a), await read(b))).toBeLessThan(1e-4);
        tf.dispose([xT, a, b]);
      });
    }
  }

  test('with finalAlphaBarOne off and leading spacing the last step (t = 1 → ᾱ_1) returns x_1 unchanged', async () => {
    const xT = makeNoise(3).normal(SHAPE) as tf.Tensor4D;
    let xBeforeLast: Float64Array | null = null;
    const x0 = await ddim(gaussianDenoiser(schedule, 0, 1), xT, schedule, {
      noise: makeNoise(4),
      steps: 10,
      eta: 0.5,
      finalAlphaBarOne: false,
      onStep: async (info) => {
        if (info.index === info.steps - 2) xBeforeLast = await read(info.x);
      },
    });
    expect(maxAbsDiff(await read(x0), xBeforeLast!)).toBeLessThan(1e-6);
    tf.dispose([xT, x0]);
  });

  test('with the optimal denoiser for N(μ, s²) data, η = 0 maps x_T linearly with the closed-form std factor and reaches std ≈ s at 1000 steps', async () => {
    // Per step, centred x_t′ = k·(centred x_t) with k = (√(ᾱ_t ᾱ_t′) s² + √((1−ᾱ_t)(1−ᾱ_t′)))/(ᾱ_t s² + 1 − ᾱ_t) ≤ √(v_t′/v_t):
    // deterministic DDIM with few steps shrinks the spread of Gaussian data (Cauchy–Schwarz).
    const mu = -0.2;
    const s = 0.4;
    const shape: [number, number, number, number] = [64, 4, 4, 1];
    const xT = makeNoise(30).normal(shape) as tf.Tensor4D;
    const xTStats = meanStd(await read(xT));
    for (const [steps, spacing] of [
      [10, 'trailing'],
      [50, 'leading'],
      [50, 'trailing'],
      [1000, 'leading'],
    ] as const) {
      const ts =
        spacing === 'leading'
          ? Array.from({ length: steps }, (_, i) => 1 + (steps - 1 - i) * Math.floor(1000 / steps))
          : steps === 10
            ? TRAILING_10
            : Array.from({ length: steps }, (_, i) => 1000 - i * (1000 / steps));
      let k = 1;
      ts.forEach((t, i) => {
        const a = AB[t];
        const ap = i + 1 < ts.length ? AB[ts[i + 1]] : 1;
        k *= (Math.sqrt(a * ap) * s * s + Math.sqrt((1 - a) * (1 - ap))) / (a * s * s + 1 - a);
      });
      const x0 = await ddim(gaussianDenoiser(schedule, mu, s), xT, schedule, { noise: makeNoise(31), steps, spacing });
      const stats = meanStd(await read(x0));
      expect(Math.abs(stats.std / xTStats.std - k)).toBeLessThan(1e-4);
      expect(Math.abs(stats.mean - mu)).toBeLessThan((4 * s) / Math.sqrt(1024));
      if (steps === 1000) expect(Math.abs(stats.std - s)).toBeLessThan(0.03);
      x0.dispose();
    }
    xT.dispose();
  });

  test('leaves numTensors unchanged across a run with onStep and rejects an abort with an AbortError', async () => {
    const xT = makeNoise(1).normal(SHAPE) as tf.Tensor4D;
    expect(await checkTensorDiscipline(ddim, schedule, xT, { steps: 25, eta: 0.7, clipX0: true }, 9)).toBe(10);
    xT.dispose();
  });

  test('rejects η < 0 and a step count above T without touching tensors', async () => {
    const xT = tf.zeros(SHAPE) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    await expect(
      ddim(gaussianDenoiser(schedule, 0, 1), xT, schedule, { noise: makeNoise(1), eta: -0.1 }),
    ).rejects.toThrow(RangeError);
    await expect(
      ddim(gaussianDenoiser(schedule, 0, 1), xT, schedule, { noise: makeNoise(1), steps: 2000 }),
    ).rejects.toThrow(RangeError);
    expect(tf.memory().numTensors).toBe(before);
    xT.dispose();
  });

  test('gives the same samples on the cpu and wasm backends', async () => {
    const results: Float64Array[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const xT = makeNoise(65).normal(SHAPE) as tf.Tensor4D;
      const x0 = await ddim(gaussianDenoiser(schedule, 0.1, 0.6), xT, schedule, {
        noise: makeNoise(66),
        steps: 50,
        eta: 0.5,
        spacing: 'trailing',
        clipX0: true,
      });
      results.push(await read(x0));
      tf.dispose([xT, x0]);
    }
    await useBackend('cpu');
    expect(maxAbsDiff(results[0], results[1])).toBeLessThan(1e-4);
  });
});
