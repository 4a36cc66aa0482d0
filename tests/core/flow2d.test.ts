import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FLOW_T, flowLoss } from '../../src/core/flow';
import {
  createPointMlp,
  FLOW_SAMPLERS,
  FlowPlayground,
  gridPoints,
  impliedVelocity,
  JITTER,
  POINT_MLP,
  PRESETS,
  sampleDiffusion,
  sampleFlow,
  sampleTarget,
  straightTimes,
  timestepOfS,
  VIEW,
} from '../../src/core/flow2d';
import { pathStraightness } from '../../src/core/flowMetrics';
import { makeRng } from '../../src/core/rng';
import { FLOW_SAMPLER_NAMES } from '../../src/core/samplers/flow';
import { makeSchedule } from '../../src/core/schedules';
import { drawTraining, epsLoss } from '../../src/core/train';
import type { EpsModel } from '../../src/core/types';
import { useBackend } from '../helpers/backends';

beforeAll(() => useBackend('wasm'));

const schedule = makeSchedule('linear', 1000);

/** Distance from (x, y) to the nearest point of the preset's noise-free shape (float64, written from the definitions). */
function distanceToShape(preset: 'moons' | 'gaussians' | 'spiral', x: number, y: number): number {
  if (preset === 'gaussians') {
    let best = Infinity;
    for (let k = 0; k < 8; k++) best = Math.min(best, Math.hypot(x - 2 * Math.cos((k * Math.PI) / 4), y - 2 * Math.sin((k * Math.PI) / 4)));
    return best;
  }
  let best = Infinity;
  for (let i = 0; i <= 4000; i++) {
    const u = i / 4000;
    if (preset === 'moons') {
      const th = Math.PI * u;
      // outer (cos θ, sin θ) and inner (1 − cos θ, ½ − sin θ), centred on (½, ¼), × 1.4
      best = Math.min(best, Math.hypot(x - 1.4 * (Math.cos(th) - 0.5), y - 1.4 * (Math.sin(th) - 0.25)));
      best = Math.min(best, Math.hypot(x - 1.4 * (0.5 - Math.cos(th)), y - 1.4 * (0.25 - Math.sin(th))));
    } else {
      const r = 0.25 + 1.9 * u;
      best = Math.min(best, Math.hypot(x - r * Math.cos(3 * Math.PI * u), y - r * Math.sin(3 * Math.PI * u)));
    }
  }
  return best;
}

describe('the playground’s target distributions', () => {
  it('are deterministic by seed and differ between seeds', () => {
    for (const preset of PRESETS) {
      const a = sampleTarget(preset, 300, 7, [0, 0, 1, 1]);
      expect(Array.from(sampleTarget(preset, 300, 7, [0, 0, 1, 1]))).toEqual(Array.from(a));
      expect(Array.from(sampleTarget(preset, 300, 8, [0, 0, 1, 1]))).not.toEqual(Array.from(a));
      expect(a.length).toBe(600);
      for (const v of a) expect(Math.abs(v)).toBeLessThan(VIEW);
    }
  });

  it('put the points on the shapes they name', () => {
    for (const [preset, sigma] of [['moons', 0.06], ['gaussians', 0.15], ['spiral', 0.06]] as const) {
      const pts = sampleTarget(preset, 400, 3);
      const d = Array.from({ length: 400 }, (_, i) => distanceToShape(preset, pts[2 * i], pts[2 * i + 1]));
      // within 5σ of the shape (a 2-D Gaussian's radius exceeds 5σ with probability e^{−12.5} ≈ 4·10⁻⁶)
      expect(Math.max(...d)).toBeLessThan(5 * sigma);
      // and not all on it: the jitter is there
      expect(d.reduce((a, b) => a + b, 0) / 400).toBeGreaterThan(0.2 * sigma);
    }
    // all eight Gaussians are used, about equally
    const g = sampleTarget('gaussians', 4000, 3);
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 4000; i++) counts[(Math.round(Math.atan2(g[2 * i + 1], g[2 * i]) / (Math.PI / 4)) + 8) % 8]++;
    for (const c of counts) expect(c / 4000).toBeCloseTo(1 / 8, 1);
    // the checkerboard: every point on a dark square of the 4 × 4 board over [−2, 2]² (row + column even), all 8 used
    const board = sampleTarget('checkerboard', 2000, 3);
    const used = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const col = Math.floor(board[2 * i] + 2);
      const row = Math.floor(board[2 * i + 1] + 2);
      expect(col >= 0 && col < 4 && row >= 0 && row < 4).toBe(true);
      expect((row + col) % 2).toBe(0);
      used.add(row * 4 + col);
    }
    expect(used.size).toBe(8);
  });

  it('sample the reader’s own points with a small Gaussian jitter around each', () => {
    const drawn = [-1, 1, 1.5, -0.5, 0, 2];
    const pts = sampleTarget('custom', 3000, 5, drawn);
    const hits = [0, 0, 0];
    let sq = 0;
    for (let i = 0; i < 3000; i++) {
      const d = [0, 1, 2].map((k) => Math.hypot(pts[2 * i] - drawn[2 * k], pts[2 * i + 1] - drawn[2 * k + 1]));
      const k = d.indexOf(Math.min(...d));
      hits[k]++;
      sq += d[k] ** 2;
    }
    for (const h of hits) expect(h / 3000).toBeCloseTo(1 / 3, 1);
    // E‖jitter‖² = 2σ²
    expect(Math.sqrt(sq / 3000 / 2)).toBeCloseTo(JITTER, 2);
  });
});

describe('the playground’s names', () => {
  it('lists the flow samplers of the registry', () => {
    expect([...FLOW_SAMPLERS]).toEqual([...FLOW_SAMPLER_NAMES]);
  });
});

describe('the point MLP', () => {
  it('maps [N, 1, 1, 2] and N times to [N, 1, 1, 2], with the same weights for the same seed', async () => {
    const a = createPointMlp(4);
    const b = createPointMlp(4);
    const c = createPointMlp(5);
    const h = POINT_MLP.hidden;
    expect(a.params.count()).toBe((2 + POINT_MLP.embDim) * h + h + (POINT_MLP.layers - 1) * (h * h + h) + 2 * h + 2);
    const x = tf.tensor4d([0.1, -0.4, 1, 2, -3, 0.5], [3, 1, 1, 2]);
    const t = tf.tensor1d([0, 512.5, 1000]);
    const [ya, yb, yc] = [a, b, c].map((m) => m.model(x, t));
    expect(ya.shape).toEqual([3, 1, 1, 2]);
    expect(Array.from(await ya.data())).toEqual(Array.from(await yb.data()));
    expect(Array.from(await ya.data())).not.toEqual(Array.from(await yc.data()));
    // the time matters
    const y2 = a.model(x, tf.tensor1d([900, 100, 3]));
    expect(Array.from(await y2.data())).not.toEqual(Array.from(await ya.data()));
    tf.dispose([x, t, ya, yb, yc, y2]);
    [a, b, c].forEach((m) => m.dispose());
  });
});

/** Both losses on one fixed batch of moons with fixed draws (the same before and after training). */
function fixedLosses(pg: FlowPlayground): Promise<[number, number]> {
  const n = 512;
  const points = sampleTarget('moons', n, 99);
  const rng = makeRng(123);
  const dDraws = drawTraining(rng, [n, 1, 1, 2], 1000, undefined, 0, 0);
  const s = Float32Array.from({ length: n }, () => 1 - rng.uniform());
  const eps = dDraws.eps;
  const [d, f] = tf.tidy(() => {
    const x0 = tf.tensor4d(points, [n, 1, 1, 2]);
    return [epsLoss(pg.diffusion.net, pg.schedule, x0, dDraws), flowLoss(pg.flow.net.model, x0, { s, eps })];
  });
  return Promise.all([d.data(), f.data()]).then(([a, b]) => {
    tf.dispose([d, f]);
    return [a[0], b[0]];
  });
}

describe('the playground session', () => {
  it('starts both networks from the same weights and lowers both losses on two moons in a few steps, with the tensor count flat', async () => {
    const pg = new FlowPlayground({ preset: 'moons', seed: 3, batch: 256 });
    const wd = await pg.diffusion.net.params.getWeights();
    const wf = await pg.flow.net.params.getWeights();
    for (const name of Object.keys(wd)) expect(Array.from(wf[name])).toEqual(Array.from(wd[name]));
    const [d0, f0] = await fixedLosses(pg);
    const l = pg.tick();
    tf.dispose([l.diffusion, l.flow]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 60; i++) {
      const r = pg.tick();
      expect(r.diffusion.shape).toEqual([]);
      tf.dispose([r.diffusion, r.flow]);
      expect(tf.memory().numTensors).toBe(before);
    }
    const [d1, f1] = await fixedLosses(pg);
    expect(d1).toBeLessThan(0.8 * d0);
    expect(f1).toBeLessThan(0.8 * f0);
    expect(pg.step).toBe(61);
    pg.dispose();
  });

  it('samples, measures, draws the field, reflows and sweeps without leaving tensors behind', async () => {
    const pg = new FlowPlayground({ preset: 'gaussians', seed: 2, batch: 128 });
    for (let i = 0; i < 3; i++) {
      const r = pg.tick();
      tf.dispose([r.diffusion, r.flow]);
    }
    const before = tf.memory().numTensors;
    const xT = FlowPlayground.noise(40, 9);
    const runs = await pg.sample(xT, { steps: 5, sampler: 'heun' });
    expect(runs.flow.frames).toHaveLength(6);
    expect(runs.diffusion.frames).toHaveLength(6);
    expect(runs.flow.nfe).toBe(9);
    expect(runs.diffusion.nfe).toBe(5);
    expect(Array.from(runs.flow.frames[0])).toEqual(Array.from(xT));
    expect(runs.flow.times).toEqual([1, 0.8, 0.6, 0.4, 0.19999999999999996, 0]);
    const m = pg.measure(runs.flow);
    expect(m.straightness).toBeGreaterThanOrEqual(0);
    expect(m.energy).toBeGreaterThan(0);
    const field = await pg.field(0.5, 7);
    expect(field.flow).toHaveLength(98);
    expect(field.diffusion).toHaveLength(98);
    expect(Array.from(field.points)).toEqual(Array.from(gridPoints(7)));
    await pg.reflow({ count: 64, steps: 4 });
    const r = pg.tick();
    tf.dispose([r.diffusion, r.flow]);
    await pg.reflow({ count: 64, steps: 4, fresh: true });
    const sweep = await pg.sweep(20, 1);
    expect(sweep.steps).toEqual([100, 50, 20, 10, 5, 2, 1]);
    expect(sweep.flow.map((x) => x.nfe)).toEqual([100, 50, 20, 10, 5, 2, 1]);
    expect(tf.memory().numTensors).toBe(before);
    pg.dispose();
  });

  it('gives the same reflow pairs for the same seed and training, and other pairs for another seed', async () => {
    const pairs = async (seed: number) => {
      const pg = new FlowPlayground({ preset: 'moons', seed, batch: 64 });
      for (let i = 0; i < 5; i++) {
        const r = pg.tick();
        tf.dispose([r.diffusion, r.flow]);
      }
      await pg.reflow({ count: 50, steps: 5 });
      const p = pg.pairs!;
      pg.dispose();
      return p;
    };
    const [a, b, c] = [await pairs(11), await pairs(11), await pairs(12)];
    expect(Array.from(b.noise)).toEqual(Array.from(a.noise));
    expect(Array.from(b.samples)).toEqual(Array.from(a.samples));
    expect(Array.from(c.noise)).not.toEqual(Array.from(a.noise));
    expect(a.count).toBe(50);
  });
});

describe('paths on the playground', () => {
  // A point mass at a: the straight path's exact velocity is v(x, s) = ε − a = (x − a)/s, constant along each line
  // x_s = (1 − s)·a + s·ε; its exact ε-prediction on the VP path is ε̂ = (x − α_t·a)/σ_t.
  const a = [0.7, -1.3];
  const pointMassVelocity: EpsModel = (x, t) =>
    tf.tidy(() => tf.div(tf.sub(x, tf.tensor4d(a, [1, 1, 1, 2])), tf.div(tf.reshape(t, [-1, 1, 1, 1]), FLOW_T)) as tf.Tensor4D);
  const pointMassEps: EpsModel = (x, t) =>
    tf.tidy(() => {
      const ts = Array.from(t.dataSync());
      const alpha = tf.tensor4d(ts.map((k) => schedule.sqrtAlphaBar[k]), [ts.length, 1, 1, 1]);
      const sigma = tf.tensor4d(ts.map((k) => schedule.sqrtOneMinusAlphaBar[k]), [ts.length, 1, 1, 1]);
      return tf.div(tf.sub(x, tf.mul(alpha, tf.tensor4d(a, [1, 1, 1, 2]))), sigma) as tf.Tensor4D;
    });

  it('Euler and Heun follow a field that is constant along straight lines exactly, with straightness 0', async () => {
    const eps = FlowPlayground.noise(25, 4);
    for (const sampler of ['euler', 'heun'] as const) {
      for (const steps of [1, 3, 10]) {
        const run = await sampleFlow(pointMassVelocity, eps, { steps, sampler });
        expect(run.frames).toHaveLength(steps + 1);
        run.frames.forEach((f, k) => {
          const s = run.times[k];
          for (let i = 0; i < 25; i++) {
            for (let j = 0; j < 2; j++) expect(f[2 * i + j]).toBeCloseTo((1 - s) * a[j] + s * eps[2 * i + j], 4);
          }
        });
        expect(pathStraightness(run.frames, 25, 2)).toBeLessThan(1e-4);
      }
    }
  });

  it('records DDIM’s path in the straight coordinates x_t/(α_t + σ_t), where the exact model’s path is the straight line at s(t)', async () => {
    const eps = FlowPlayground.noise(10, 6);
    const run = await sampleDiffusion(pointMassEps, schedule, eps, { steps: 8 });
    const sOfT = straightTimes(schedule);
    expect(run.times[0]).toBeCloseTo(sOfT[1000], 12);
    expect(run.times.at(-1)).toBe(0);
    // x_T is the start in native coordinates; after it, the exact model's x̂₀ = a and ε̂ = (x_T − α_T·a)/σ_T stay fixed,
    // so x_t = α_t·a + σ_t·ε̂, i.e. y = (1 − s)·a + s·ε̂
    expect(Array.from(run.nativeFrames![0])).toEqual(Array.from(eps));
    const epsHat = Array.from(eps, (e, i) => (e - schedule.sqrtAlphaBar[1000] * a[i % 2]) / schedule.sqrtOneMinusAlphaBar[1000]);
    for (let k = 1; k < run.frames.length; k++) {
      const s = run.times[k];
      for (let i = 0; i < 10; i++) for (let j = 0; j < 2; j++) expect(run.frames[k][2 * i + j]).toBeCloseTo((1 - s) * a[j] + s * epsHat[2 * i + j], 3);
    }
    // after the first frame (x_T itself is not on the VP path's line at t = T: α_T·a is missing) the path is straight
    expect(pathStraightness(run.frames.slice(1), 10, 2)).toBeLessThan(1e-3);
  });

  it('maps s to the nearest timestep and turns ε̂ into the velocity ε̂ − x̂₀ at x = (α + σ)·y', async () => {
    const sOfT = straightTimes(schedule);
    for (let t = 1; t < 1000; t++) expect(sOfT[t + 1]).toBeGreaterThan(sOfT[t]);
    expect(timestepOfS(schedule, 0)).toBe(1);
    expect(timestepOfS(schedule, 1)).toBe(1000);
    const t = timestepOfS(schedule, 0.5);
    for (const u of [t - 1, t + 1]) expect(Math.abs(sOfT[t] - 0.5)).toBeLessThanOrEqual(Math.abs(sOfT[u] - 0.5));
    // the point mass's implied velocity at straight-path points is (y − a)/s(t), as the straight path's exact field
    const y = [1, 2, -0.5, 0.3];
    const v = impliedVelocity(pointMassEps, schedule, tf.tensor4d(y, [2, 1, 1, 2]), t);
    const got = await v.data();
    v.dispose();
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) expect(got[2 * i + j]).toBeCloseTo((y[2 * i + j] - a[j]) / sOfT[t], 3);
  });
});
