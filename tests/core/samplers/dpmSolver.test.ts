import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { makeNoise } from '../../../src/core/noise';
import {
  ddim,
  dpmPlan,
  dpmStepOrder,
  dpmTimesteps,
  dpmpp1,
  dpmpp2m,
  dpmpp2mSde,
  dpmpp3m,
  nfeOf,
  samplers,
  SAMPLER_LABELS,
  type Spacing,
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

// diffusers DPMSolverMultistepScheduler.set_timesteps, printed with numpy and shifted by +1 to our t.
const GRIDS: Record<Spacing, Record<number, number[]>> = {
  linspace: {
    10: [1000, 900, 800, 700, 600, 501, 401, 301, 201, 101],
    7: [1000, 857, 715, 572, 429, 286, 144],
  },
  leading: {
    10: [901, 811, 721, 631, 541, 451, 361, 271, 181, 91],
    7: [876, 751, 626, 501, 376, 251, 126],
  },
  trailing: {
    10: [1000, 900, 800, 700, 600, 500, 400, 300, 200, 100],
    7: [1000, 857, 714, 571, 429, 286, 143],
  },
};

/** The order diffusers' step() picks at step i of n (warm-up; lower_order_final; first order into σ = 0). */
function refOrder(p: number, i: number, n: number, finalZero: boolean, lowerOrderFinal: boolean): number {
  if (i === n - 1 && (finalZero || (lowerOrderFinal && n < 15))) return 1;
  const cap = i === n - 2 && lowerOrderFinal && n < 15 ? 2 : 3;
  return Math.min(p, i + 1, cap);
}

/**
 * DPM-Solver++ in float64 written from Lu et al. 2022 (Algorithm 2, data prediction, midpoint 2M; 3M as in their
 * DPM-Solver paper's Algorithm 3 in the data-prediction form diffusers uses), over α = √ᾱ, σ = √(1−ᾱ), λ = log α/σ.
 */
function refDpm(
  xT: ArrayLike<number>,
  eps64: (x: Float64Array, t: number) => Float64Array,
  ts: number[],
  p: number,
  o: { finalZero?: boolean; lowerOrderFinal?: boolean; clip?: boolean; z?: (i: number) => ArrayLike<number> | null } = {},
): Float64Array {
  const finalZero = o.finalZero ?? true;
  const lof = o.lowerOrderFinal ?? true;
  const n = ts.length;
  const abOf = (t: number) => (t === 0 ? (finalZero ? 1 : AB[1]) : AB[t]);
  const al = (t: number) => Math.sqrt(abOf(t));
  const si = (t: number) => Math.sqrt(1 - abOf(t));
  const la = (t: number) => Math.log(al(t) / si(t));
  let x = Float64Array.from(xT);
  const ms: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const s = ts[i];
    const t = i + 1 < n ? ts[i + 1] : 0;
    const e = eps64(x, s);
    let m0 = x.map((v, k) => (v - si(s) * e[k]) / al(s));
    if (o.clip) m0 = m0.map((v) => Math.min(1, Math.max(-1, v)));
    ms.unshift(m0);
    const order = refOrder(p, i, n, finalZero, lof);
    if (si(t) === 0) {
      x = Float64Array.from(m0);
      continue;
    }
    const h = la(t) - la(s);
    const eh = Math.exp(-h);
    const next = new Float64Array(x.length);
    const z = o.z ? o.z(i) : null;
    for (let k = 0; k < x.length; k++) {
      const D0 = ms[0][k];
      if (z) {
        // SDE-DPM-Solver++(2M), Lu et al. 2022 §5.
        let v = (si(t) / si(s)) * eh * x[k] + al(t) * (1 - eh * eh) * D0;
        if (order === 2) {
          const r0 = (la(s) - la(ts[i - 1])) / h;
          v += 0.5 * al(t) * (1 - eh * eh) * ((ms[0][k] - ms[1][k]) / r0);
        }
        next[k] = v + si(t) * Math.sqrt(1 - eh * eh) * z[k];
        continue;
      }
      let v = (si(t) / si(s)) * x[k] - al(t) * (eh - 1) * D0;
      if (order === 2) {
        const r0 = (la(s) - la(ts[i - 1])) / h;
        v += -0.5 * al(t) * (eh - 1) * ((ms[0][k] - ms[1][k]) / r0);
      } else if (order === 3) {
        const r0 = (la(s) - la(ts[i - 1])) / h;
        const r1 = (la(ts[i - 1]) - la(ts[i - 2])) / h;
        const d10 = (ms[0][k] - ms[1][k]) / r0;
        const d11 = (ms[1][k] - ms[2][k]) / r1;
        const D1 = d10 + (r0 / (r0 + r1)) * (d10 - d11);
        const D2 = (d10 - d11) / (r0 + r1);
        v += al(t) * ((eh - 1) / h + 1) * D1 - al(t) * ((eh - 1 + h) / (h * h) - 0.5) * D2;
      }
      next[k] = v;
    }
    x = next;
  }
  return x;
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('dpmTimesteps', () => {
  test('linspace, leading and trailing grids match diffusers DPMSolverMultistepScheduler (shifted to our t)', () => {
    for (const spacing of ['linspace', 'leading', 'trailing'] as const) {
      for (const n of [10, 7]) expect(dpmTimesteps(1000, n, spacing)).toEqual(GRIDS[spacing][n]);
    }
    expect(dpmTimesteps(1000, 10)).toEqual(GRIDS.linspace[10]);
  });

  test('stepsOffset shifts only leading grids, as diffusers steps_offset does', () => {
    expect(dpmTimesteps(1000, 10, 'leading', 1)).toEqual(GRIDS.leading[10].map((t) => t + 1));
    expect(dpmTimesteps(1000, 10, 'trailing', 1)).toEqual(GRIDS.trailing[10]);
    expect(dpmTimesteps(1000, 10, 'linspace', 1)).toEqual(GRIDS.linspace[10]);
  });

  test('rejects grids that would repeat a timestep and step counts outside 1…T', () => {
    expect(() => dpmTimesteps(1000, 1000, 'linspace')).toThrow(RangeError);
    expect(() => dpmTimesteps(1000, 1000, 'leading')).toThrow(RangeError);
    expect(dpmTimesteps(1000, 1000, 'trailing')).toHaveLength(1000);
    expect(() => dpmTimesteps(1000, 0)).toThrow(RangeError);
    expect(() => dpmTimesteps(1000, 1001)).toThrow(RangeError);
  });
});

describe('dpmStepOrder', () => {
  test('warms up 1, 2, 3, drops to first order into σ = 0, and lowers the last two orders below 15 steps', () => {
    const orders = (p: 1 | 2 | 3, n: number, zero: boolean, lof = true) =>
      Array.from({ length: n }, (_, i) => dpmStepOrder(p, i, n, zero, lof));
    expect(orders(3, 10, true)).toEqual([1, 2, 3, 3, 3, 3, 3, 3, 2, 1]);
    expect(orders(3, 20, true)).toEqual([1, 2, ...Array(17).fill(3), 1]);
    expect(orders(3, 20, false)).toEqual([1, 2, ...Array(18).fill(3)]);
    expect(orders(3, 10, false, false)).toEqual([1, 2, ...Array(8).fill(3)]);
    expect(orders(2, 10, true)).toEqual([1, ...Array(8).fill(2), 1]);
    expect(orders(2, 10, false, false)).toEqual([1, ...Array(9).fill(2)]);
    expect(orders(1, 5, false, false)).toEqual([1, 1, 1, 1, 1]);
    expect(orders(3, 1, true)).toEqual([1]);
  });
});

describe('DPM-Solver++ samplers', () => {
  test('are registered as dpmpp1, dpmpp2m, dpmpp3m with reader-facing labels', () => {
    expect(samplers.dpmpp1).toBe(dpmpp1);
    expect(samplers.dpmpp2m).toBe(dpmpp2m);
    expect(samplers.dpmpp3m).toBe(dpmpp3m);
    expect([SAMPLER_LABELS.dpmpp1, SAMPLER_LABELS.dpmpp2m, SAMPLER_LABELS.dpmpp3m]).toEqual([
      'DPM-Solver++ 1',
      'DPM-Solver++ 2M',
      'DPM-Solver++ 3M',
    ]);
  });

  const mu = 0.3;
  const s = 0.6;
  const eps64 = gaussianEps64(schedule, mu, s);
  const orders = [
    { p: 1, sampler: dpmpp1 },
    { p: 2, sampler: dpmpp2m },
    { p: 3, sampler: dpmpp3m },
  ] as const;
  for (const { p, sampler } of orders) {
    for (const spacing of ['linspace', 'leading', 'trailing'] as const) {
      for (const steps of [7, 10]) {
        test(`order ${p}, ${spacing}, ${steps} steps equals the float64 reference loop number by number`, async () => {
          const xTv = makeNoise(40 + steps).normalArray(SIZE);
          const xT = tf.tensor4d(xTv, SHAPE);
          const visited: Array<[number, number]> = [];
          const noise = countingNoise(makeNoise(1));
          const x0 = await sampler(gaussianDenoiser(schedule, mu, s), xT, schedule, {
            noise,
            steps,
            spacing,
            onStep: (info) => {
              visited.push([info.t, info.tPrev]);
            },
          });
          const ts = GRIDS[spacing][steps];
          expect(visited).toEqual(ts.map((t, i) => [t, i + 1 < ts.length ? ts[i + 1] : 0]));
          expect(noise.draws.length).toBe(0);
          const want = refDpm(xTv, eps64, ts, p);
          expect(maxAbsDiff(await read(x0), want)).toBeLessThan(2e-5);
          tf.dispose([xT, x0]);
        });
      }
    }
  }

  for (const { p, sampler } of orders) {
    test(`order ${p} with 20 steps, final ᾱ_1 ("sigma_min"), lowerOrderFinal off or on, and clipping, equals the reference`, async () => {
      const xTv = makeNoise(77).normalArray(SIZE);
      const xT = tf.tensor4d(xTv, SHAPE);
      for (const [finalZero, lof, clip, steps] of [
        [false, false, false, 20],
        [false, true, false, 10],
        [false, false, false, 10],
        [true, true, true, 20],
      ] as const) {
        const x0 = await sampler(gaussianDenoiser(schedule, 0.5, 1.2), xT, schedule, {
          noise: makeNoise(1),
          steps,
          finalAlphaBarOne: finalZero,
          lowerOrderFinal: lof,
          clipX0: clip,
        });
        const ts = dpmTimesteps(1000, steps, 'linspace');
        const want = refDpm(xTv, gaussianEps64(schedule, 0.5, 1.2), ts, p, { finalZero, lowerOrderFinal: lof, clip });
        expect(maxAbsDiff(await read(x0), want)).toBeLessThan(2e-5);
        x0.dispose();
      }
      xT.dispose();
    });
  }

  test('the orders really differ: 2M and 3M leave first order on the same grid', async () => {
    const xT = makeNoise(3).normal(SHAPE) as tf.Tensor4D;
    const d = gaussianDenoiser(schedule, mu, s);
    const outs: Float64Array[] = [];
    for (const sampler of [dpmpp1, dpmpp2m, dpmpp3m]) {
      const x0 = await sampler(d, xT, schedule, { noise: makeNoise(1), steps: 10 });
      outs.push(await read(x0));
      x0.dispose();
    }
    expect(maxAbsDiff(outs[0], outs[1])).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(outs[1], outs[2])).toBeGreaterThan(1e-4);
    xT.dispose();
  });

  for (const steps of [5, 10, 25, 50]) {
    test(`order 1 equals DDIM with η = 0 on the same (trailing) grid, ${steps} steps`, async () => {
      const xT = makeNoise(steps).normal(SHAPE) as tf.Tensor4D;
      const d = gaussianDenoiser(schedule, -0.2, 0.9);
      const a = await dpmpp1(d, xT, schedule, { noise: makeNoise(1), steps, spacing: 'trailing' });
      const b = await ddim(d, xT, schedule, { noise: makeNoise(1), steps, spacing: 'trailing', eta: 0 });
      expect(maxAbsDiff(await read(a), await read(b))).toBeLessThan(1e-5);
      tf.dispose([xT, a, b]);
    });
  }

  test('the plan spells out each step: orders, targets and a final step that returns x̂_0', () => {
    const plan = dpmPlan(schedule, 2, { steps: 10 });
    expect(plan.map((q) => q.order)).toEqual([1, 2, 2, 2, 2, 2, 2, 2, 2, 1]);
    expect(plan.at(-1)!.coefficients).toEqual({ cx: 0, c: [1], cz: 0 });
    expect(plan.map((q) => q.tPrev)).toEqual([...GRIDS.linspace[10].slice(1), 0]);
    expect(() => dpmPlan(schedule, 4 as never, {})).toThrow(RangeError);
  });

  test('count one network evaluation per step, as nfeOf says, each at an integer timestep', async () => {
    const xT = tf.zeros(SHAPE) as tf.Tensor4D;
    for (const name of ['dpmpp1', 'dpmpp2m', 'dpmpp3m'] as const) {
      for (const steps of [1, 2, 3, 10, 20]) {
        const ts: number[] = [];
        const inner = gaussianDenoiser(schedule, 0, 1);
        const d: Denoiser = (x, t) => {
          ts.push(t);
          return inner(x, t);
        };
        const x0 = await samplers[name](d, xT, schedule, { noise: makeNoise(1), steps });
        expect(ts.length).toBe(nfeOf(name, steps));
        for (const t of ts) expect(Number.isInteger(t)).toBe(true);
        x0.dispose();
      }
    }
    xT.dispose();
  });

  test('leave numTensors unchanged across a run with onStep, reject an abort with an AbortError and leak nothing', async () => {
    const xT = makeNoise(1).normal(SHAPE) as tf.Tensor4D;
    for (const sampler of [dpmpp2m, dpmpp3m, dpmpp2mSde]) {
      expect(await checkTensorDiscipline(sampler, schedule, xT, { steps: 12, clipX0: true }, 4)).toBe(5);
    }
    xT.dispose();
  });

  test('a denoiser that throws mid-run rejects the run and frees the multistep history', async () => {
    const xT = makeNoise(1).normal(SHAPE) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const boom = new Error('boom');
    let calls = 0;
    const failing: Denoiser = (x) => {
      if (++calls === 5) throw boom;
      return tf.mul(x, 0.1) as tf.Tensor4D;
    };
    await expect(dpmpp3m(failing, xT, schedule, { noise: makeNoise(2), steps: 10 })).rejects.toBe(boom);
    expect(tf.memory().numTensors).toBe(before);
    xT.dispose();
  });
});

describe('SDE-DPM-Solver++(2M)', () => {
  test('equals its float64 reference fed the same noise, drawing noise on every step but the last', async () => {
    const xTv = makeNoise(90).normalArray(SIZE);
    const xT = tf.tensor4d(xTv, SHAPE);
    for (const steps of [10, 20]) {
      const noise = countingNoise(makeNoise(91));
      const x0 = await dpmpp2mSde(gaussianDenoiser(schedule, 0.1, 0.5), xT, schedule, { noise, steps });
      expect(noise.draws.length).toBe(steps - 1);
      const ref = makeNoise(91);
      const ts = dpmTimesteps(1000, steps, 'linspace');
      const want = refDpm(xTv, gaussianEps64(schedule, 0.1, 0.5), ts, 2, {
        z: (i) => (i < steps - 1 ? ref.normalArray(SIZE) : null),
      });
      expect(maxAbsDiff(await read(x0), want)).toBeLessThan(5e-5);
      x0.dispose();
    }
    const a = await dpmpp2mSde(gaussianDenoiser(schedule, 0, 1), xT, schedule, { noise: makeNoise(1), steps: 10 });
    const b = await dpmpp2mSde(gaussianDenoiser(schedule, 0, 1), xT, schedule, { noise: makeNoise(2), steps: 10 });
    expect(maxAbsDiff(await read(a), await read(b))).toBeGreaterThan(1e-3);
    tf.dispose([xT, a, b]);
  });
});

describe('backends', () => {
  test('DPM-Solver++ 3M and Heun give the same samples on the cpu and wasm backends', async () => {
    const results: Float64Array[][] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const xT = makeNoise(55).normal(SHAPE) as tf.Tensor4D;
      const out: Float64Array[] = [];
      for (const name of ['dpmpp3m', 'heun'] as const) {
        const x0 = await samplers[name](gaussianDenoiser(schedule, 0.1, 0.6), xT, schedule, {
          noise: makeNoise(56),
          steps: 12,
          sigmas: 'karras',
          clipX0: true,
        });
        out.push(await read(x0));
        x0.dispose();
      }
      results.push(out);
      xT.dispose();
    }
    await useBackend('cpu');
    for (let k = 0; k < 2; k++) expect(maxAbsDiff(results[0][k], results[1][k])).toBeLessThan(1e-4);
  });
});
