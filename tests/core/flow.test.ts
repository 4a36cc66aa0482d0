/**
 * Flow matching on the straight path (src/core/flow.ts) and its samplers (src/core/samplers/flow.ts), against
 * float64 references written here: x_s = (1 − s)x₀ + sε, v = ε − x₀, the loss, every conversion, the VP ↔ straight
 * rescaling, the draws, and Euler/Heun on velocity fields whose flows are known in closed form.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  drawFlow,
  epsFromVelocity,
  FLOW_T,
  flowInterpolate,
  flowLoss,
  fromVPrediction,
  straightTimeOfAlphaBar,
  velocityFromEps,
  velocityFromX0,
  vPredictionTarget,
  x0FromVelocity,
} from '../../src/core/flow';
import { conditioned } from '../../src/core/guidance';
import { makeNoise } from '../../src/core/noise';
import { makeRng } from '../../src/core/rng';
import { FLOW_SAMPLER_NAMES, flowEuler, flowGrid, flowHeun, flowNfe, flowSamplers, reflowPairs } from '../../src/core/samplers/flow';
import type { Denoiser, EpsModel, StepInfo } from '../../src/core/types';
import { maxAbsDiff, read, useBackend } from '../helpers/backends';

beforeAll(async () => {
  await useBackend('cpu');
});

const SHAPE: [number, number, number, number] = [3, 2, 2, 2];
const PER = 8; // values per example
const SIZE = 24;

/** Float32-exact random values (so the float64 reference starts from the very numbers the tensors hold). */
const randn = (seed: number, n = SIZE) => Float64Array.from(makeNoise(seed).normalArray(n));
const t4 = (a: ArrayLike<number>, shape = SHAPE) => tf.tensor4d(Float32Array.from(a), shape);

/** Float64 straight path, one s per example. */
function straight64(x0: Float64Array, eps: Float64Array, s: ArrayLike<number>, per = PER): Float64Array {
  return x0.map((v, k) => (1 - s[Math.floor(k / per)]) * v + s[Math.floor(k / per)] * eps[k]);
}

/** Relative float32 tolerance on values of order 1. */
const TOL = 2e-6;

/** A Denoiser that counts its calls and records the t it was given. */
function field(f: (x: tf.Tensor4D, s: number) => tf.Tensor4D): Denoiser & { calls: number; ts: number[] } {
  const d = ((x: tf.Tensor4D, t: number) => {
    d.calls++;
    d.ts.push(t);
    return tf.tidy(() => f(x, t / FLOW_T));
  }) as Denoiser & { calls: number; ts: number[] };
  d.calls = 0;
  d.ts = [];
  return d;
}

describe('the straight path and its objective', () => {
  const x0 = randn(1);
  const eps = randn(2);
  const s = [0.1, 0.5, 0.93];

  it('interpolates x_s = (1 − s)x₀ + sε per example and refuses a wrong number of times', async () => {
    const a = t4(x0);
    const b = t4(eps);
    const xs = flowInterpolate(a, b, s);
    expect(maxAbsDiff(await read(xs), straight64(x0, eps, s))).toBeLessThan(TOL);
    expect(() => flowInterpolate(a, b, [0.5, 0.5])).toThrow(RangeError);
    tf.dispose([a, b, xs]);
  });

  it('gives flowLoss = mean (v_θ(x_s, 1000 s, c) − (ε − x₀))², hand-computed for a model linear in x, t and c', async () => {
    // v_θ(x, t, c) = 0.7 x − 0.002 t + 0.05 c, per example; the reference never touches tfjs.
    const seen: { t: number[]; dtype: string; c: number[] }[] = [];
    const model: EpsModel = (x, t, c) => {
      seen.push({ t: Array.from(t.dataSync()), dtype: t.dtype, c: Array.from(c!.dataSync()) });
      return tf.tidy(() => tf.add(tf.sub(tf.mul(x, 0.7), tf.reshape(tf.mul(tf.cast(t, 'float32'), 0.002), [-1, 1, 1, 1])), tf.reshape(tf.mul(tf.cast(c!, 'float32'), 0.05), [-1, 1, 1, 1])) as tf.Tensor4D);
    };
    const sv = Float32Array.from([0.25, 0.6, 0.8125]);
    const classes = Int32Array.from([3, 10, 0]);
    const xt = t4(x0);
    const before = tf.memory().numTensors;
    const loss = flowLoss(model, xt, { s: sv, classes, eps: Float32Array.from(eps) });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(loss.shape).toEqual([]);
    const xs = straight64(x0, eps, sv);
    let sum = 0;
    for (let k = 0; k < SIZE; k++) {
      const i = Math.floor(k / PER);
      const pred = 0.7 * xs[k] - 0.002 * (1000 * sv[i]) + 0.05 * classes[i];
      sum += (pred - (eps[k] - x0[k])) ** 2;
    }
    expect((await read(loss))[0]).toBeCloseTo(sum / SIZE, 5);
    expect(seen).toHaveLength(1);
    expect(seen[0].t).toEqual([250, 600, 812.5]);
    expect(seen[0].dtype).toBe('float32');
    expect(seen[0].c).toEqual([3, 10, 0]);
    tf.dispose([loss, xt]);
  });

  it('is zero for the exact velocity field of the drawn pair and leaves no tensors', async () => {
    // A model that knows ε: v = (ε − x) / (1 − s) recovers ε − x₀ exactly.
    const sv = Float32Array.from([0.2, 0.5, 0.75]);
    const epsT = t4(eps);
    const model: EpsModel = (x, t) => tf.tidy(() => tf.div(tf.sub(epsT, x), tf.reshape(tf.sub(1, tf.div(t, FLOW_T)), [-1, 1, 1, 1])) as tf.Tensor4D);
    const xt = t4(x0);
    const before = tf.memory().numTensors;
    const l = flowLoss(model, xt, { s: sv, eps: Float32Array.from(eps) });
    expect((await read(l))[0]).toBeLessThan(1e-10);
    l.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xt, epsT]);
  });
});

describe('conversions between ε, x₀ and the velocity', () => {
  const x0 = randn(3);
  const eps = randn(4);
  const v64 = eps.map((e, k) => e - x0[k]);

  it.each([0.05, 0.3, 0.5, 0.99])('recovers x₀, ε and v = ε − x₀ from x_s at s = %s (float64 reference)', async (s) => {
    const xs64 = straight64(x0, eps, [s, s, s]);
    const xs = t4(xs64);
    const v = t4(v64);
    const e = t4(eps);
    const a = t4(x0);
    const before = tf.memory().numTensors;
    const outs = [x0FromVelocity(xs, v, s), epsFromVelocity(xs, v, s), velocityFromEps(xs, e, s), velocityFromX0(xs, a, s)];
    expect(tf.memory().numTensors).toBe(before + 4);
    const [gx0, geps, gvE, gvX] = await Promise.all(outs.map(read));
    expect(maxAbsDiff(gx0, x0)).toBeLessThan(1e-5);
    expect(maxAbsDiff(geps, eps)).toBeLessThan(1e-5);
    // 1/(1 − s) and 1/s amplify x_s's float32 rounding.
    expect(maxAbsDiff(gvE, v64)).toBeLessThan(1e-5 / (1 - s));
    expect(maxAbsDiff(gvX, v64)).toBeLessThan(1e-5 / s);
    tf.dispose([xs, v, e, a, ...outs]);
  });

  it('round-trips ε → v → x₀ → v → ε on the straight path', async () => {
    const s = 0.37;
    const xs = t4(straight64(x0, eps, [s, s, s]));
    const e = t4(eps);
    const v1 = velocityFromEps(xs, e, s);
    const a = x0FromVelocity(xs, v1, s);
    const v2 = velocityFromX0(xs, a, s);
    const e2 = epsFromVelocity(xs, v2, s);
    expect(maxAbsDiff(await read(a), x0)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await read(v2), await read(v1))).toBeLessThan(1e-5);
    expect(maxAbsDiff(await read(e2), eps)).toBeLessThan(1e-5);
    tf.dispose([xs, e, v1, a, v2, e2]);
  });

  it('refuses velocityFromEps at s = 1 and velocityFromX0 at s = 0 (and NaN), where x does not determine v', () => {
    const x = tf.zeros([1, 1, 1, 1]);
    const before = tf.memory().numTensors;
    expect(() => velocityFromEps(x, x, 1)).toThrow(RangeError);
    expect(() => velocityFromEps(x, x, NaN)).toThrow(RangeError);
    expect(() => velocityFromX0(x, x, 0)).toThrow(RangeError);
    expect(() => velocityFromX0(x, x, NaN)).toThrow(RangeError);
    expect(tf.memory().numTensors).toBe(before);
    // Just inside the range both are defined.
    tf.dispose([velocityFromEps(x, x, 0), velocityFromX0(x, x, 1)]);
    x.dispose();
  });

  it.each([0.999, 0.5, 0.02, 1e-4])('v-prediction on the VP path at ᾱ = %s: v = αε − σx₀ and back to (x₀, ε)', async (ab) => {
    const a64 = Math.sqrt(ab);
    const b64 = Math.sqrt(1 - ab);
    const xvp64 = x0.map((v, k) => a64 * v + b64 * eps[k]);
    const target64 = x0.map((v, k) => a64 * eps[k] - b64 * v);
    const a = t4(x0);
    const e = t4(eps);
    const target = vPredictionTarget(a, e, ab);
    expect(maxAbsDiff(await read(target), target64)).toBeLessThan(1e-5);
    const xvp = t4(xvp64);
    const back = fromVPrediction(xvp, target, ab);
    expect(maxAbsDiff(await read(back.x0), x0)).toBeLessThan(2e-5);
    expect(maxAbsDiff(await read(back.eps), eps)).toBeLessThan(2e-5);
    tf.dispose([a, e, target, xvp, back.x0, back.eps]);
  });

  it('maps a VP x_t onto the straight path: scale·(√ᾱ x₀ + √(1 − ᾱ) ε) = (1 − s)x₀ + sε in float64', () => {
    for (const ab of [1, 0.9999, 0.7, 0.5, 0.1, 1e-3, 4e-5, 0]) {
      const { s, scale } = straightTimeOfAlphaBar(ab);
      const xvp = x0.map((v, k) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * eps[k]);
      const xst = straight64(x0, eps, [s, s, s]);
      expect(maxAbsDiff(xvp.map((v) => v * scale), xst)).toBeLessThan(1e-14);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
    expect(straightTimeOfAlphaBar(1)).toEqual({ s: 0, scale: 1 });
    expect(straightTimeOfAlphaBar(0)).toEqual({ s: 1, scale: 1 });
    expect(straightTimeOfAlphaBar(0.5).s).toBeCloseTo(0.5, 15);
    expect(straightTimeOfAlphaBar(0.5).scale).toBeCloseTo(1 / Math.SQRT2, 15);
    // s grows as ᾱ falls.
    const ss = [0.99, 0.9, 0.5, 0.1, 0.01].map((ab) => straightTimeOfAlphaBar(ab).s);
    for (let i = 1; i < ss.length; i++) expect(ss[i]).toBeGreaterThan(ss[i - 1]);
  });
});

describe('drawFlow', () => {
  const shape: [number, number, number, number] = [6, 2, 2, 1];

  it('draws s, then the dropped labels, then ε, in that order from the stream (replayed by hand)', () => {
    const labels = [0, 1, 2, 3, 4, 9];
    const d = drawFlow(makeRng(7), shape, labels, 10, 0.5);
    const r = makeRng(7);
    const s = Array.from({ length: 6 }, () => 1 - r.uniform());
    const c = labels.map((l) => (r.uniform() < 0.5 ? 10 : l));
    const e = Array.from({ length: 24 }, () => r.normal());
    expect(Array.from(d.s)).toEqual(Array.from(Float32Array.from(s)));
    expect(Array.from(d.classes!)).toEqual(c);
    expect(Array.from(d.eps)).toEqual(Array.from(Float32Array.from(e)));
  });

  it('is deterministic given the seed, differs for another, and keeps s in (0, 1]', () => {
    const a = drawFlow(makeRng(3), [500, 1, 1, 1], undefined, 0, 0);
    const b = drawFlow(makeRng(3), [500, 1, 1, 1], undefined, 0, 0);
    const c = drawFlow(makeRng(4), [500, 1, 1, 1], undefined, 0, 0);
    expect(a).toEqual(b);
    expect(Array.from(c.s)).not.toEqual(Array.from(a.s));
    expect(a.classes).toBeUndefined();
    expect(a.eps.length).toBe(500);
    for (const v of a.s) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    // Uniform: mean ≈ 1/2, every quarter visited.
    const mean = a.s.reduce((p, v) => p + v, 0) / 500;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    for (let q = 0; q < 4; q++) expect(a.s.some((v) => v > q / 4 && v <= (q + 1) / 4)).toBe(true);
  });

  it('drops labels to ∅ with probability pUncond, never with 0, and uses ∅ for all without labels', () => {
    const n = 20000;
    const labels = Array.from({ length: n }, (_, i) => i % 10);
    const d = drawFlow(makeRng(11), [n, 1, 1, 1], labels, 10, 0.2);
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      if (d.classes![i] === 10) dropped++;
      else expect(d.classes![i]).toBe(labels[i]);
    }
    // Binomial(20000, 0.2): sd ≈ 0.0028; 5 sd.
    expect(Math.abs(dropped / n - 0.2)).toBeLessThan(0.015);
    expect(Array.from(drawFlow(makeRng(11), [5, 1, 1, 1], [1, 2, 3, 4, 5], 10, 0).classes!)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(drawFlow(makeRng(11), [3, 1, 1, 1], undefined, 10, 0).classes!)).toEqual([10, 10, 10]);
    expect(() => drawFlow(makeRng(1), [2, 1, 1, 1], [0, 11], 10, 0)).toThrow(RangeError);
    expect(() => drawFlow(makeRng(1), [2, 1, 1, 1], [0, 1.5], 10, 0)).toThrow(RangeError);
  });
});

describe('flow samplers on velocity fields with known flows', () => {
  const xTv = randn(21);
  const target = randn(22); // the fixed x₀ of the single-pair field
  /** The velocity of the single pair (x₀, ·): every x moves on the straight line to x₀, v = (x − x₀)/s. */
  const pairField = () => {
    const x0 = t4(target);
    const f = field((x, s) => tf.div(tf.sub(x, x0), s) as tf.Tensor4D);
    return { f, x0 };
  };

  it('puts the grid at s_i = 1 − i/N and counts NFE N (Euler) and 2N − 1 (Heun)', () => {
    expect(flowGrid(4)).toEqual([1, 0.75, 0.5, 0.25, 0]);
    expect(flowGrid(1)).toEqual([1, 0]);
    expect(() => flowGrid(0)).toThrow(RangeError);
    expect(() => flowGrid(2.5)).toThrow(RangeError);
    expect(flowNfe('euler', 7)).toBe(7);
    expect(flowNfe('heun', 7)).toBe(13);
    expect(FLOW_SAMPLER_NAMES).toEqual(['euler', 'heun']);
    expect(flowSamplers.euler).toBe(flowEuler);
    expect(flowSamplers.heun).toBe(flowHeun);
  });

  it('lands exactly on x₀ with one Euler step from s = 1 along the single-pair field', async () => {
    const { f, x0 } = pairField();
    const xT = t4(xTv);
    const out = await flowEuler(f, xT, { steps: 1 });
    expect(maxAbsDiff(await read(out), target)).toBeLessThan(1e-6);
    expect(f.calls).toBe(1);
    expect(f.ts).toEqual([1000]);
    tf.dispose([out, xT, x0]);
  });

  it.each([2, 5, 13])('lands on x₀ with %s Euler steps too, each state on the straight line, x̂₀ = x₀ at every step', async (n) => {
    const { f, x0 } = pairField();
    const xT = t4(xTv);
    const states: number[] = [];
    const out = await flowEuler(f, xT, {
      steps: n,
      onStep: async (info: StepInfo) => {
        const s = info.tPrev / FLOW_T;
        const want = target.map((v, k) => v + s * (xTv[k] - v)); // (1 − s)x₀ + s x_T
        states.push(maxAbsDiff(await read(info.x), want));
        expect(maxAbsDiff(await read(info.x0Pred), target)).toBeLessThan(1e-5);
      },
    });
    expect(maxAbsDiff(await read(out), target)).toBeLessThan(2e-6);
    expect(Math.max(...states)).toBeLessThan(2e-6);
    expect(f.calls).toBe(n);
    expect(f.ts).toEqual(flowGrid(n).slice(0, -1).map((s) => FLOW_T * s));
    tf.dispose([out, xT, x0]);
  });

  it.each([1, 2, 3, 8])('calls the field flowNfe times: Euler N, Heun 2N − 1 (N = %s)', async (n) => {
    const c = t4(randn(5));
    const xT = t4(xTv);
    for (const name of FLOW_SAMPLER_NAMES) {
      const f = field(() => tf.clone(c));
      const out = await flowSamplers[name](f, xT, { steps: n });
      expect(f.calls).toBe(flowNfe(name, n));
      out.dispose();
    }
    tf.dispose([c, xT]);
  });

  it('integrates a constant field v = c to x_T − c exactly (Euler and Heun, any N)', async () => {
    const c64 = randn(6);
    const c = t4(c64);
    const xT = t4(xTv);
    const want = xTv.map((v, k) => v - c64[k]);
    for (const name of FLOW_SAMPLER_NAMES) {
      for (const n of [1, 3, 10]) {
        const out = await flowSamplers[name](field(() => tf.clone(c)), xT, { steps: n });
        expect(maxAbsDiff(await read(out), want)).toBeLessThan(1e-5);
        out.dispose();
      }
    }
    tf.dispose([c, xT]);
  });

  it('follows a field linear in s, v = a + b·s, exactly with Heun (its trapezoid steps) and not with Euler', async () => {
    // dx/ds = a + b s  ⇒  x(s) = x_T − a(1 − s) − b(1 − s²)/2.
    const a64 = randn(7);
    const b64 = randn(8).map((v) => 1 + Math.abs(v)); // b ≠ 0 everywhere
    const exact = (s: number) => xTv.map((v, k) => v - a64[k] * (1 - s) - (b64[k] * (1 - s * s)) / 2);
    const a = t4(a64);
    const b = t4(b64);
    const lin = () => field((_x, s) => tf.add(a, tf.mul(b, s)) as tf.Tensor4D);
    const xT = t4(xTv);
    const n = 4;
    const h = 1 / n;
    // Heun: every step but the last (an Euler step, Karras et al. 2022 Alg. 1) is the trapezoid, exact for v linear in s.
    const heunStates: number[] = [];
    const heun = await flowHeun(lin(), xT, {
      steps: n,
      onStep: async (info) => {
        if (info.index < n - 1) heunStates.push(maxAbsDiff(await read(info.x), exact(info.tPrev / FLOW_T)));
      },
    });
    expect(heunStates).toHaveLength(n - 1);
    expect(Math.max(...heunStates)).toBeLessThan(1e-5);
    // …and the final Euler step from s = h misses the exact x(0) by −b h²/2, no more.
    const heunOut = await read(heun);
    const heunWant = exact(0).map((v, k) => v - (b64[k] * h * h) / 2);
    expect(maxAbsDiff(heunOut, heunWant)).toBeLessThan(1e-5);
    // Euler reads v at the start of every step: −b h/2 per unit length in total, −b/(2N).
    const eulerT = await flowEuler(lin(), xT, { steps: n });
    const euler = await read(eulerT);
    eulerT.dispose();
    const eulerWant = exact(0).map((v, k) => v - b64[k] / (2 * n));
    expect(maxAbsDiff(euler, eulerWant)).toBeLessThan(1e-5);
    expect(maxAbsDiff(euler, exact(0))).toBeGreaterThan(0.1);
    // Heun's error is N times smaller than Euler's.
    const errH = maxAbsDiff(heunOut, exact(0));
    const errE = maxAbsDiff(euler, exact(0));
    expect(errE / errH).toBeCloseTo(n, 3);
    tf.dispose([a, b, xT, heun]);
  });

  it('passes a non-integer time as float32 to the network (t = 1000·s, not rounded)', async () => {
    const seen: { t: number[]; dtype: string }[] = [];
    const model: EpsModel = (x, t) => {
      seen.push({ t: Array.from(t.dataSync()), dtype: t.dtype });
      return tf.zerosLike(x);
    };
    const xT = t4(xTv);
    const out = await flowEuler(conditioned(model, 3), xT, { steps: 3 });
    expect(seen.map((v) => v.t[0])).toEqual([1000, 1000 * (1 - 1 / 3), 1000 * (1 - 2 / 3)].map((v) => Math.fround(v)));
    expect(seen[1].dtype).toBe('float32');
    expect(seen[1].t).toHaveLength(3);
    tf.dispose([out, xT]);
  });

  it('keeps tf.memory().numTensors flat around both sampling loops (the result is the one new tensor)', async () => {
    const { f, x0 } = pairField();
    const xT = t4(xTv);
    for (const name of FLOW_SAMPLER_NAMES) {
      const before = tf.memory().numTensors;
      const out = await flowSamplers[name](f, xT, {
        steps: 6,
        onStep: async (info) => {
          await read(info.x0Pred);
          await read(info.eps);
        },
      });
      expect(tf.memory().numTensors).toBe(before + 1);
      out.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(xT.isDisposed).toBe(false);
    }
    tf.dispose([xT, x0]);
  });

  it('rejects with an AbortError when the signal fires, freeing what it made and keeping x_T', async () => {
    const { f, x0 } = pairField();
    const xT = t4(xTv);
    for (const name of FLOW_SAMPLER_NAMES) {
      const before = tf.memory().numTensors;
      const controller = new AbortController();
      f.calls = 0;
      const run = flowSamplers[name](f, xT, {
        steps: 10,
        signal: controller.signal,
        onStep: (info) => {
          if (info.index === 2) controller.abort();
        },
      });
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      expect(f.calls).toBe(name === 'heun' ? 6 : 3); // three full steps ran (Heun: two calls each, none of them the last)
      expect(tf.memory().numTensors).toBe(before);
      expect(xT.isDisposed).toBe(false);
      // Aborted before it starts: no network call at all.
      const pre = new AbortController();
      pre.abort();
      f.calls = 0;
      await expect(flowSamplers[name](f, xT, { steps: 3, signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(f.calls).toBe(0);
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([xT, x0]);
  });
});

describe('reflowPairs', () => {
  // v = 0.5·x + c: samples depend on the noise, so different seeds give different pairs.
  const c64 = randn(31, 4);
  const shape: [number, number, number] = [2, 2, 1];
  const lin = (c: tf.Tensor4D) => field((x) => tf.add(tf.mul(x, 0.5), c) as tf.Tensor4D);

  it('draws ε from the seed and integrates the flow from it (float64 Euler reference); same seed, same pairs', async () => {
    const c = tf.tensor4d(Float32Array.from(c64), [1, ...shape]);
    const before = tf.memory().numTensors;
    const a = await reflowPairs(lin(c), 5, shape, { seed: 9, steps: 4 });
    expect(tf.memory().numTensors).toBe(before);
    const b = await reflowPairs(lin(c), 5, shape, { seed: 9, steps: 4 });
    expect(Array.from(b.noise)).toEqual(Array.from(a.noise));
    expect(Array.from(b.samples)).toEqual(Array.from(a.samples));
    expect(Array.from(a.noise)).toEqual(Array.from(makeNoise(9).normalArray(20)));
    // Euler with h = −1/4: x ← x + h(0.5x + c).
    const want = Float64Array.from(a.noise);
    for (let i = 0; i < 4; i++) for (let k = 0; k < 20; k++) want[k] += -0.25 * (0.5 * want[k] + c64[k % 4]);
    expect(maxAbsDiff(a.samples, want)).toBeLessThan(1e-5);
    const other = await reflowPairs(lin(c), 5, shape, { seed: 10, steps: 4 });
    expect(maxAbsDiff(other.noise, a.noise)).toBeGreaterThan(0.1);
    expect(maxAbsDiff(other.samples, a.samples)).toBeGreaterThan(0.1);
    // The sampler option is honoured: Heun takes 2N − 1 evaluations and lands elsewhere.
    const f = lin(c);
    const h = await reflowPairs(f, 5, shape, { seed: 9, steps: 4, sampler: 'heun' });
    expect(f.calls).toBe(7);
    expect(Array.from(h.noise)).toEqual(Array.from(a.noise));
    expect(maxAbsDiff(h.samples, a.samples)).toBeGreaterThan(1e-3);
    expect(tf.memory().numTensors).toBe(before);
    c.dispose();
  });
});
