import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeNoise } from '../../src/core/noise';
import { makeSchedule } from '../../src/core/schedules';
import { REQUESTS, type ComputeApi } from '../../src/workers/api';
import { createHandlers } from '../../src/workers/handlers';
import { LabController } from '../../src/workers/lab';
import { cleanParams } from '../../src/workers/params';
import { Resources } from '../../src/workers/resources';
import { diskFetch, SITE } from '../helpers/site';

const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
const handlers = createHandlers(res, new LabController(res));
const ctx = { signal: new AbortController().signal, progress: () => {} };
/** Call a handler as serve() does: params cleaned against the catalogue first. */
async function call<K extends keyof typeof REQUESTS>(kind: K, params: ComputeApi[K]['params']): Promise<ComputeApi[K]['result']> {
  const fn = handlers[kind] as (p: unknown, c: typeof ctx) => Promise<ComputeApi[K]['result']>;
  return fn(cleanParams(kind, REQUESTS[kind], params), ctx);
}
const digit = Float32Array.from({ length: 784 }, (_, i) => (i % 28 > 8 && i % 28 < 18 && i > 150 && i < 620 ? 0.9 : -1));
const schedule = makeSchedule('linear', 1000);

beforeAll(async () => {
  await res.ensureBackend();
  await res.unet('unet-mnist'); // loaded once, outside the tensor counts below
});

describe('compute handlers', () => {
  it('noise: x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε with one seeded ε for every t (float64 reference)', async () => {
    const ts = [0, 10, 500, 1000];
    const { images } = await call('noise', { x0: digit, schedule: 'linear', T: 1000, ts, seed: 5 });
    const eps = makeNoise(5).normalArray(784);
    ts.forEach((t, k) => {
      const ab = schedule.alphaBar[t];
      for (let i = 0; i < 784; i++) expect(images[k * 784 + i]).toBeCloseTo(Math.sqrt(ab) * digit[i] + Math.sqrt(1 - ab) * eps[i], 5);
    });
  });

  it('inspect: the core DDPM step gives μ̃ and x_{t−1} of Ho et al. eq. 11 for the network’s ε̂, and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    for (const variance of ['beta', 'betaTilde'] as const) {
      const t = 400;
      const r = await call('inspect', { model: 'unet-mnist', x0: digit, t, seed: 3, zSeed: 4, variance });
      const z = makeNoise(4).normalArray(784);
      const { beta, alpha, alphaBar, betaTilde } = schedule;
      const sigma = Math.sqrt(variance === 'beta' ? beta[t] : betaTilde[t]);
      expect(r.sigma).toBeCloseTo(sigma, 10);
      let mse = 0;
      for (let i = 0; i < 784; i++) {
        const mean = (r.xt[i] - (beta[t] / Math.sqrt(1 - alphaBar[t])) * r.epsPred[i]) / Math.sqrt(alpha[t]);
        expect(r.mean[i]).toBeCloseTo(mean, 4);
        expect(r.xPrev[i]).toBeCloseTo(mean + sigma * z[i], 4);
        expect(r.x0Pred[i]).toBeCloseTo((r.xt[i] - Math.sqrt(1 - alphaBar[t]) * r.epsPred[i]) / Math.sqrt(alphaBar[t]), 4);
        mse += (r.eps[i] - r.epsPred[i]) ** 2 / 784;
      }
      expect(r.epsMse).toBeCloseTo(mse, 5);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('race and img2img: report progress, count network evaluations, refuse a wrong-sized image, and leak nothing', async () => {
    const before = tf.memory().numTensors;
    const reports: number[] = [];
    const fn = handlers.race as (p: unknown, c: typeof ctx) => Promise<ComputeApi['race']['result']>;
    const raced = await fn(cleanParams('race', REQUESTS.race, { sampler: 'ddim', steps: 3, count: 2, reportMs: 16 }), { ...ctx, progress: ((p: { index: number }) => void reports.push(p.index)) as () => void });
    expect(raced.nfe).toBe(3);
    expect(raced.x0).toHaveLength(2 * 784);
    expect(reports.at(-1)).toBe(2);
    const edited = await call('img2img', { x0: digit, strength: 0.3, steps: 5, digit: 7 });
    expect(edited.t0).toBe(300);
    expect(edited.nfe).toBe(5);
    expect(edited.timesteps).toEqual([300, 240, 180, 120, 60, 0]);
    expect(tf.memory().numTensors).toBe(before);
    await expect(call('autoencode', { x: new Float32Array(784), model: 'unet-mnist' })).rejects.toThrow(/unet-mnist/);
  });
});

describe('guide.trajectory: a guidance run kept for scrubbing', () => {
  it('replays the guide run: kept steps with t falling to 0, each z_t and ẑ_0 decoded, the last x_t the grid itself, tensors flat', async () => {
    const params = { digit: 4, w: 3, seed: 21, count: 2, steps: 8, negative: -1 };
    const grid = await call('guide', params);
    const before = tf.memory().numTensors;
    const traj = await call('guide.trajectory', params);
    expect(tf.memory().numTensors).toBe(before);
    expect(traj.t.length).toBe(8); // 8 steps ≤ the frame cap: every step kept
    for (let k = 1; k < traj.t.length; k++) expect(traj.t[k]).toBeLessThan(traj.t[k - 1]);
    expect(traj.t.at(-1)).toBe(0);
    expect(traj.x.length).toBe(8 * 2 * 784);
    expect(traj.x0.length).toBe(traj.x.length);
    // the last frame of x_t is the grid the guide request returned (the same x_T, sampler and steps)
    expect(Array.from(traj.x.subarray(7 * 1568))).toEqual(Array.from(grid.images));
    // the first x_t is still noisy, its x̂_0 already digit-like: they differ
    let diff = 0;
    for (let i = 0; i < 1568; i++) diff += Math.abs(traj.x[i] - traj.x0[i]);
    expect(diff / 1568).toBeGreaterThan(0.01);
  });
});
