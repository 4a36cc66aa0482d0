/**
 * Consistency models (src/core/consistency.ts, src/core/samplers/consistency.ts) against float64 references written
 * here from the papers' formulas: Song et al. 2023's c_skip/c_out (Appendix C) and boundary condition (eq. 4), EDM's
 * preconditioning (Karras et al. 2022, Table 1) for F, one Heun step of the probability-flow ODE in σ, the
 * pseudo-Huber distance (Song & Dhariwal 2023), one whole distillation step on a tiny network (loss, gradient, update),
 * and multistep sampling (Song et al. 2023, Algorithm 1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import '../../src/core/nn/registerGradients';
import {
  CONSISTENCY_GRID_SIZE,
  consistencyCoefficients,
  consistencyDistance,
  consistencyFunction,
  consistencyGrid,
  consistencyOutput,
  consistencySigmaMin,
  consistencyTimesteps,
  consistencyWeights,
  distillationLoss,
  drawDistillation,
  edmCoefficients,
  pairWeights,
  pseudoHuberC,
  teacherStep,
  type DistillationDraws,
} from '../../src/core/consistency';
import { makeNoise } from '../../src/core/noise';
import { makeRng } from '../../src/core/rng';
import { ddimStep } from '../../src/core/samplers/ddim';
import { consistency, consistencyRunTimesteps } from '../../src/core/samplers/consistency';
import { karrasSigmas, sigmaOf } from '../../src/core/samplers/karras';
import { makeSchedule } from '../../src/core/schedules';
import type { EpsModel, StepInfo } from '../../src/core/types';
import { maxAbsDiff, read, useBackend } from '../helpers/backends';

beforeAll(async () => {
  await useBackend('cpu');
});

const schedule = makeSchedule('linear', 1000);
const SD = 0.5;
const SHAPE: [number, number, number, number] = [4, 2, 3, 1];
const PER = 6;
const N = SHAPE[0];

/** Float32-exact random values, so the float64 reference starts from the numbers the tensors hold. */
const randn = (seed: number, n = N * PER) => Float64Array.from(makeNoise(seed).normalArray(n));
const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

/** σ(t) in float64 straight from ᾱ. */
const sig = (t: number) => Math.sqrt((1 - schedule.alphaBar[t]) / schedule.alphaBar[t]);
const SIGMA_MIN = sig(1);

/** Song et al. 2023, Appendix C, written out independently. */
const cSkipRef = (s: number) => (SD * SD) / ((s - SIGMA_MIN) ** 2 + SD * SD);
const cOutRef = (s: number) => (SD * (s - SIGMA_MIN)) / Math.sqrt(SD * SD + s * s);
/** EDM's F from an ε-estimate: D = c_skip^E y + c_out^E F = y − σε̂ solved for F (Karras et al. 2022, eq. 7). */
const fRef = (y: number, eps: number, s: number) => {
  const cSkipE = (SD * SD) / (s * s + SD * SD);
  const cOutE = (s * SD) / Math.sqrt(s * s + SD * SD);
  return (y - s * eps - cSkipE * y) / cOutE;
};
/** f(y, σ) = c_skip y + c_out F (Song et al. 2023, eq. 5), the value f returns (an estimate of y at σ_min). */
const consistencyRef = (y: number, eps: number, s: number) => (s === SIGMA_MIN ? y : cSkipRef(s) * y + cOutRef(s) * fRef(y, eps, s));

describe('parameterisation', () => {
  it('c_skip and c_out match Song et al. 2023 Appendix C in float64', () => {
    for (const s of [SIGMA_MIN, 0.02, 0.3, 0.5, 1, 3.7, 20, 80, sig(1000)]) {
      const { cSkip, cOut } = consistencyCoefficients(s, SIGMA_MIN, SD);
      expect(cSkip).toBeCloseTo(cSkipRef(s), 14);
      expect(cOut).toBeCloseTo(cOutRef(s), 14);
    }
    const e = edmCoefficients(1.3, SD);
    expect(e.cSkip).toBeCloseTo(0.25 / (1.69 + 0.25), 14);
    expect(e.cOut).toBeCloseTo((1.3 * 0.5) / Math.sqrt(1.69 + 0.25), 14);
  });

  it('the boundary condition holds exactly: c_skip(σ_min) = 1, c_out(σ_min) = 0, a = 1, b = 0', () => {
    expect(consistencyCoefficients(SIGMA_MIN, SIGMA_MIN, SD)).toEqual({ cSkip: 1, cOut: 0 });
    const w = consistencyWeights(SIGMA_MIN, SIGMA_MIN, SD);
    expect(w.a).toBe(1);
    expect(w.b === 0).toBe(true);
    expect(() => consistencyCoefficients(SIGMA_MIN / 2, SIGMA_MIN, SD)).toThrow(RangeError);
  });

  it('a·y + b·ε̂ equals c_skip·y + c_out·F with F from ε̂ (float64), and is the ε-network’s x̂₀ = y − σε̂ when σ_min = 0', () => {
    for (const s of [0.05, 0.5, 2, 40, 157]) {
      for (const [y, e] of [[0.7, -1.2], [-3, 0.4], [12, 2.5]]) {
        const { a, b } = consistencyWeights(s, SIGMA_MIN, SD);
        expect(a * y + b * e).toBeCloseTo(consistencyRef(y, e, s), 9);
        const z = consistencyWeights(s, 0, SD);
        expect(z.a * y + z.b * e).toBeCloseTo(y - s * e, 9);
      }
    }
  });

  it('f at σ_min returns y bit for bit, without calling the network; mixed batches keep the boundary examples exact', async () => {
    const x = tf.tensor4d(Float32Array.from(randn(1)), SHAPE);
    const model = vi.fn<EpsModel>((xx) => tf.mul(xx, NaN) as tf.Tensor4D);
    const before = tf.memory().numTensors;
    const f = consistencyFunction(model, x, [1, 1, 1, 1], schedule);
    expect(model).not.toHaveBeenCalled();
    const expected = tf.mul(x, Math.sqrt(1 + SIGMA_MIN ** 2));
    expect(Array.from(await f.data())).toEqual(Array.from(await expected.data()));
    // consistencyOutput at t = 1 with an arbitrary finite ε̂ is also exactly y.
    const eps = tf.tensor4d(Float32Array.from(randn(2)), SHAPE);
    const g = consistencyOutput(x, eps, schedule, [1, 1, 1, 1]);
    expect(Array.from(await g.data())).toEqual(Array.from(await expected.data()));
    const mixedModel: EpsModel = (xx) => tf.mul(xx, 0.3) as tf.Tensor4D;
    const h = consistencyFunction(mixedModel, x, [1, 500, 1, 999], schedule);
    const hv = await h.data();
    const ev = await expected.data();
    for (const i of [0, 2]) expect(Array.from(hv.slice(i * PER, (i + 1) * PER))).toEqual(Array.from(ev.slice(i * PER, (i + 1) * PER)));
    tf.dispose([f, expected, g, eps, h]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('consistencyOutput matches the float64 f for one timestep per example', async () => {
    const xs = randn(3);
    const es = randn(4);
    const ts = [2, 37, 420, 1000];
    const out = await read(consistencyOutput(tf.tensor4d(Float32Array.from(xs), SHAPE), tf.tensor4d(Float32Array.from(es), SHAPE), schedule, ts, SD));
    const ref = Array.from(xs, (x, k) => {
      const s = sig(ts[Math.floor(k / PER)]);
      return consistencyRef(x * Math.sqrt(1 + s * s), es[k], s);
    });
    expect(maxAbsDiff(out, ref)).toBeLessThan(2e-4 * Math.max(...ref.map(Math.abs)));
  });
});

describe('grid and timesteps', () => {
  it('the grid runs 1 … 1000 in N strictly increasing integers near the Karras ρ = 7 spacing of σ', () => {
    const grid = consistencyGrid(schedule);
    expect(grid).toHaveLength(CONSISTENCY_GRID_SIZE);
    expect(grid[0]).toBe(1);
    expect(grid[grid.length - 1]).toBe(1000);
    for (let i = 1; i < grid.length; i++) expect(grid[i]).toBeGreaterThan(grid[i - 1]);
    const karras = karrasSigmas(sig(1000), sig(1), CONSISTENCY_GRID_SIZE).reverse();
    // Snapping to an integer timestep moves σ by at most half a timestep's worth (a few per cent here).
    grid.forEach((t, i) => expect(Math.abs(Math.log(sigmaOf(schedule, t) / karras[i]))).toBeLessThan(0.15));
    expect(consistencySigmaMin(schedule)).toBe(sigmaOf(schedule, 1));
    // A lower top: the same construction between σ(1) and σ(tMax).
    const low = consistencyGrid(schedule, 12, 800);
    expect(low[0]).toBe(1);
    expect(low[11]).toBe(800);
    const karrasLow = karrasSigmas(sig(800), sig(1), 12).reverse();
    low.forEach((t, i) => expect(Math.abs(Math.log(sigmaOf(schedule, t) / karrasLow[i]))).toBeLessThan(0.15));
    expect(consistencyTimesteps(schedule, 2, 12, 800)).toEqual([800, low[Math.round(11 / 2)]]);
    expect(consistencyRunTimesteps(schedule, { steps: 1, gridSize: 12, tMax: 800 })).toEqual([800]);
    expect(() => consistencyGrid(schedule, 12, 1001)).toThrow(RangeError);
    expect(() => consistencyGrid(schedule, 12, 11)).toThrow(RangeError);
    expect(() => consistencyGrid(schedule, 1)).toThrow(RangeError);
  });

  it('k steps visit t_N first and then evenly spaced grid points, all above the boundary', () => {
    const grid = consistencyGrid(schedule);
    expect(consistencyTimesteps(schedule, 1)).toEqual([1000]);
    const last = CONSISTENCY_GRID_SIZE - 1;
    expect(consistencyTimesteps(schedule, 2)).toEqual([1000, grid[Math.round(last / 2)]]);
    const four = consistencyTimesteps(schedule, 4);
    expect(four).toEqual([1000, grid[Math.round(last * 0.75)], grid[Math.round(last * 0.5)], grid[Math.round(last * 0.25)]]);
    const all = consistencyTimesteps(schedule, last);
    expect(new Set(all).size).toBe(last);
    expect(Math.min(...all)).toBeGreaterThan(1);
    expect(() => consistencyTimesteps(schedule, 0)).toThrow(RangeError);
    expect(() => consistencyTimesteps(schedule, CONSISTENCY_GRID_SIZE)).toThrow(RangeError);
    expect(consistencyTimesteps(schedule, 2, 18)).toEqual([1000, consistencyGrid(schedule, 18)[9]]);
    expect(consistencyRunTimesteps(schedule, { timesteps: [900, 300] })).toEqual([900, 300]);
    expect(() => consistencyRunTimesteps(schedule, { timesteps: [300, 900] })).toThrow(RangeError);
    expect(() => consistencyRunTimesteps(schedule, { timesteps: [1] })).toThrow(RangeError);
  });
});

/** The tiny network of these tests: ε̂ = w·x + v·t/1000 + u·[class = 1], its parameters plain numbers or variables. */
const tinyModel = (w: tf.Scalar | number, v: tf.Scalar | number, u: tf.Scalar | number = 0): EpsModel => (x, t, classes) =>
  tf.tidy(() => {
    const tt = tf.reshape(tf.div(tf.cast(t, 'float32'), 1000), [-1, 1, 1, 1]);
    let e = tf.add(tf.mul(x, w), tf.mul(tt, v));
    if (classes) e = tf.add(e, tf.mul(tf.reshape(tf.cast(tf.equal(classes, 1), 'float32'), [-1, 1, 1, 1]), u));
    return e as tf.Tensor4D;
  });
const tinyRef = (w: number, v: number, u = 0) => (x: number, t: number, c?: number) => w * x + (v * t) / 1000 + (c === 1 ? u : 0);

/** One Heun (or Euler) step of dy/dσ = ε̂ from t to t′ on x_t, float64. */
function heunRef(eps: (x: number, t: number) => number, x: number, t: number, tTo: number, euler = false): number {
  const s = sig(t);
  const s2 = sig(tTo);
  const y = x * Math.sqrt(1 + s * s);
  const d = eps(x, t);
  const yE = y + (s2 - s) * d;
  if (euler) return yE / Math.sqrt(1 + s2 * s2);
  const d2 = eps(yE / Math.sqrt(1 + s2 * s2), tTo);
  return (y + ((s2 - s) * (d + d2)) / 2) / Math.sqrt(1 + s2 * s2);
}

describe('teacher step', () => {
  it('Heun and Euler match float64, and Euler is exactly a DDIM step', async () => {
    const xs = randn(5);
    const teacherW = 0.8;
    const teacherV = -0.4;
    const from = [1000, 400, 57, 3];
    const to = [700, 399, 20, 1];
    const x = tf.tensor4d(Float32Array.from(xs), SHAPE);
    const before = tf.memory().numTensors;
    for (const solver of ['heun', 'euler'] as const) {
      const stepped = teacherStep(tinyModel(teacherW, teacherV), x, from, to, schedule, undefined, solver);
      const out = await read(stepped);
      stepped.dispose();
      const ref = Array.from(xs, (v, k) => heunRef(tinyRef(teacherW, teacherV), v, from[Math.floor(k / PER)], to[Math.floor(k / PER)], solver === 'euler'));
      expect(maxAbsDiff(out, ref)).toBeLessThan(1e-4);
    }
    const one = tf.slice(x, [0, 0, 0, 0], [1, 2, 3, 1]) as tf.Tensor4D;
    const tT = tf.tensor1d([1000], 'int32');
    const eps = tinyModel(teacherW, teacherV)(one, tT);
    const ddim = ddimStep(one, eps, schedule, 1000, 700);
    const euler = teacherStep(tinyModel(teacherW, teacherV), one, [1000], [700], schedule, undefined, 'euler');
    expect(maxAbsDiff(await ddim.x.data(), await euler.data())).toBeLessThan(1e-5);
    tf.dispose([one, tT, eps, ddim.x, ddim.x0Pred, euler]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    expect(() => teacherStep(tinyModel(1, 0), tf.zeros(SHAPE) as tf.Tensor4D, [5, 5, 5, 5], [5, 4, 4, 4], schedule)).toThrow(RangeError);
  });
});

describe('distance', () => {
  it('pseudo-Huber and mean-square distances match float64', async () => {
    const a = randn(6);
    const b = randn(7);
    const c = pseudoHuberC(PER);
    expect(c).toBeCloseTo(0.00054 * Math.sqrt(PER), 15);
    const ta = tf.tensor4d(Float32Array.from(a), SHAPE);
    const tb = tf.tensor4d(Float32Array.from(b), SHAPE);
    const ph = (await consistencyDistance(ta, tb, { kind: 'pseudoHuber', c }).data())[0];
    const l2 = (await consistencyDistance(ta, tb, { kind: 'l2' }).data())[0];
    let refPh = 0;
    let refL2 = 0;
    for (let i = 0; i < N; i++) {
      let sq = 0;
      for (let j = 0; j < PER; j++) sq += (a[i * PER + j] - b[i * PER + j]) ** 2;
      refPh += (Math.sqrt(sq + c * c) - c) / N;
      refL2 += sq / PER / N;
    }
    expect(ph).toBeCloseTo(refPh, 5);
    expect(l2).toBeCloseTo(refL2, 5);
    tf.dispose([ta, tb]);
  });
});

describe('one distillation step on a tiny network', () => {
  const grid = consistencyGrid(schedule);
  const x0 = randn(8);
  const epsDraw = randn(9);
  const index = Int32Array.from([0, 3, 6, CONSISTENCY_GRID_SIZE - 2]); // the boundary pair, two middle ones, the top pair
  const classes = Int32Array.from([1, 0, 1, 10]);
  const teacher = { w: 0.9, v: 0.1, u: 0.05 };
  const target = { w: 0.7, v: -0.2, u: 0.3 };
  const student0 = { w: 0.6, v: 0.25, u: -0.1 };
  const c = pseudoHuberC(PER);

  /** The whole loss in float64 (Song et al. 2023, Algorithm 2, λ = 1, pseudo-Huber). */
  function lossRef(s: { w: number; v: number; u: number }, weights?: (n: number) => number): number {
    const teach = tinyRef(teacher.w, teacher.v, teacher.u);
    const tgt = tinyRef(target.w, target.v, target.u);
    const stu = tinyRef(s.w, s.v, s.u);
    let total = 0;
    for (let i = 0; i < N; i++) {
      const tL = grid[index[i]];
      const tU = grid[index[i] + 1];
      const ab = schedule.alphaBar[tU];
      const sU = sig(tU);
      const sL = sig(tL);
      let sq = 0;
      for (let j = 0; j < PER; j++) {
        const k = i * PER + j;
        const xU = Math.sqrt(ab) * x0[k] + Math.sqrt(1 - ab) * epsDraw[k];
        const xL = heunRef((x, t) => teach(x, t, classes[i]), xU, tU, tL);
        const want = consistencyRef(xL * Math.sqrt(1 + sL * sL), tgt(xL, tL, classes[i]), sL);
        const got = consistencyRef(xU * Math.sqrt(1 + sU * sU), stu(xU, tU, classes[i]), sU);
        sq += (got - want) ** 2;
      }
      total += ((weights ? weights(index[i]) : 1) * (Math.sqrt(sq + c * c) - c)) / N;
    }
    return total;
  }

  it('weights each pair by 1/(σ_{n+1} − σ_n), normalised to mean 1 over the grid, when asked (float64)', async () => {
    const gaps = grid.slice(0, -1).map((t, n) => 1 / (sig(grid[n + 1]) - sig(t)));
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const w = pairWeights(schedule, grid, 'inverseGap');
    gaps.forEach((g, n) => expect(w[n]).toBeCloseTo(g / mean, 10));
    expect(w[0]).toBeGreaterThan(100 * w[w.length - 1]); // the boundary pair weighs far more than the top one
    expect(Array.from(pairWeights(schedule, grid))).toEqual(new Array(grid.length - 1).fill(1));
    const draws: DistillationDraws = { index, eps: Float32Array.from(epsDraw), classes };
    const x0t = tf.tensor4d(Float32Array.from(x0), SHAPE);
    const l = distillationLoss(tinyModel(student0.w, student0.v, student0.u), tinyModel(target.w, target.v, target.u), tinyModel(teacher.w, teacher.v, teacher.u), x0t, draws, {
      grid,
      schedule,
      distance: { kind: 'pseudoHuber', c },
      sigmaData: SD,
      weighting: 'inverseGap',
    });
    const ref = lossRef(student0, (n) => gaps[n] / mean);
    expect(ref).not.toBeCloseTo(lossRef(student0), 2);
    expect((await l.data())[0]).toBeCloseTo(ref, 3);
    tf.dispose([l, x0t]);
  });

  it('the loss, its gradient and one gradient step match float64', async () => {
    const vars = { w: tf.variable(tf.scalar(student0.w)), v: tf.variable(tf.scalar(student0.v)), u: tf.variable(tf.scalar(student0.u)) };
    const draws: DistillationDraws = { index, eps: Float32Array.from(epsDraw), classes };
    const x0t = tf.tensor4d(Float32Array.from(x0), SHAPE);
    const opts = { grid, schedule, solver: 'heun' as const, distance: { kind: 'pseudoHuber' as const, c }, sigmaData: SD };
    const before = tf.memory().numTensors;
    const lossFn = () => distillationLoss(tinyModel(vars.w, vars.v, vars.u), tinyModel(target.w, target.v, target.u), tinyModel(teacher.w, teacher.v, teacher.u), x0t, draws, opts);
    const { value, grads } = tf.variableGrads(lossFn, [vars.w, vars.v, vars.u]);
    const ref = lossRef(student0);
    expect(ref).toBeGreaterThan(0.05); // a loss that could fail: student and target disagree
    expect((await value.data())[0]).toBeCloseTo(ref, 3);
    // Reference gradient: central differences of the float64 loss.
    const h = 1e-6;
    const refGrad = (key: 'w' | 'v' | 'u') => (lossRef({ ...student0, [key]: student0[key] + h }) - lossRef({ ...student0, [key]: student0[key] - h })) / (2 * h);
    const lr = 1e-4; // small enough for the linearisation to hold on this steep loss (the top pair starts at σ ≈ 157)
    for (const key of ['w', 'v', 'u'] as const) {
      const g = (await grads[vars[key].name].data())[0];
      expect(Math.abs(g - refGrad(key))).toBeLessThan(2e-3 * Math.max(1, Math.abs(refGrad(key))));
      tf.tidy(() => vars[key].assign(tf.sub(vars[key], tf.mul(grads[vars[key].name], lr))));
    }
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    // After one step of gradient descent the parameters are the hand-computed ones, and the loss went down.
    const stepped = { w: student0.w - lr * refGrad('w'), v: student0.v - lr * refGrad('v'), u: student0.u - lr * refGrad('u') };
    for (const key of ['w', 'v', 'u'] as const) expect((await vars[key].data())[0]).toBeCloseTo(stepped[key], 3);
    expect(lossRef(stepped)).toBeLessThan(ref);
    x0t.dispose();
    Object.values(vars).forEach((v) => v.dispose());
  });

  it('a student equal to its target at the boundary pair has zero loss there (the target is the teacher step’s end itself)', async () => {
    const draws: DistillationDraws = { index: new Int32Array(N).fill(0), eps: Float32Array.from(epsDraw), classes };
    const x0t = tf.tensor4d(Float32Array.from(x0), SHAPE);
    // The target at t_1 is x̂_{t_1}·√(1+σ_min²) exactly; a student whose f at t_2 is that same value costs c·0 = 0.
    const l = distillationLoss(tinyModel(student0.w, student0.v), tinyModel(NaN, NaN), tinyModel(teacher.w, teacher.v), x0t, draws, { grid, schedule, distance: { kind: 'l2' } });
    expect(Number.isFinite((await l.data())[0])).toBe(true); // the NaN target network is never called at the boundary
    tf.dispose([l, x0t]);
  });

  it('draws come from one stream: indices in 0 … N − 2, labels dropped at the given rate, reproducible', () => {
    const labels = Int32Array.from({ length: 2000 }, (_, i) => i % 10);
    const a = drawDistillation(makeRng(5), [2000, 1, 1, 1], 18, labels, 10, 0.1);
    const b = drawDistillation(makeRng(5), [2000, 1, 1, 1], 18, labels, 10, 0.1);
    expect(Array.from(a.index)).toEqual(Array.from(b.index));
    expect(Math.min(...a.index)).toBe(0);
    expect(Math.max(...a.index)).toBe(16);
    const dropped = Array.from(a.classes!).filter((c2) => c2 === 10).length / 2000;
    expect(dropped).toBeGreaterThan(0.07);
    expect(dropped).toBeLessThan(0.13);
  });
});

describe('multistep consistency sampling', () => {
  const model = tinyModel(0.5, 0.3);
  const ref = tinyRef(0.5, 0.3);

  it('one step is f(x_T, T); two steps re-noise to the grid point and apply f again (float64, same noise)', async () => {
    const xs = randn(10);
    const xT = tf.tensor4d(Float32Array.from(xs), SHAPE);
    const before = tf.memory().numTensors;
    const one = await consistency((x, t) => model(x, tf.fill([x.shape[0]], t, 'int32') as tf.Tensor1D), xT, schedule, { steps: 1, noise: makeNoise(1) });
    const sT = sig(1000);
    const oneRef = Array.from(xs, (x) => consistencyRef(x * Math.sqrt(1 + sT * sT), ref(x, 1000), sT));
    expect(maxAbsDiff(await one.data(), oneRef)).toBeLessThan(1e-3);
    const steps: StepInfo[] = [];
    const two = await consistency((x, t) => model(x, tf.fill([x.shape[0]], t, 'int32') as tf.Tensor1D), xT, schedule, {
      steps: 2,
      noise: makeNoise(11),
      onStep: (info) => void steps.push({ ...info }),
    });
    const [, tau] = consistencyTimesteps(schedule, 2);
    const z = f32(makeNoise(11).normalArray(N * PER));
    const sTau = sig(tau);
    const twoRef = oneRef.map((x0, k) => {
      const y = f32([x0])[0] + Math.sqrt(sTau * sTau - SIGMA_MIN * SIGMA_MIN) * z[k];
      const x = y / Math.sqrt(1 + sTau * sTau);
      return consistencyRef(y, ref(x, tau), sTau);
    });
    expect(maxAbsDiff(await two.data(), twoRef)).toBeLessThan(2e-3);
    expect(steps.map((s) => [s.t, s.tPrev])).toEqual([[1000, tau], [tau, 0]]);
    tf.dispose([one, two]);
    expect(tf.memory().numTensors).toBe(before);
    xT.dispose();
  });

  it('needs noise for more than one step, stops on abort, and leaks nothing', async () => {
    const xT = tf.tensor4d(Float32Array.from(randn(12)), SHAPE);
    const den = (x: tf.Tensor4D, t: number) => model(x, tf.fill([x.shape[0]], t, 'int32') as tf.Tensor1D);
    const before = tf.memory().numTensors;
    await expect(consistency(den, xT, schedule, { steps: 2 } as never)).rejects.toThrow(TypeError);
    const ac = new AbortController();
    await expect(consistency(den, xT, schedule, { steps: 4, noise: makeNoise(1), signal: ac.signal, onStep: () => ac.abort() })).rejects.toThrow(/abort/i);
    expect(tf.memory().numTensors).toBe(before);
    xT.dispose();
  });
});
