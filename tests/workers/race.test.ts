/**
 * The sampler race's flow lanes: the catalogue declares every lane once (diffusion samplers and the flow-matching
 * model's Euler and Heun), the URL state round-trips, and the race handler runs a flow lane exactly as the flow
 * samplers do by hand from the same x_T, counts its evaluations, leaks nothing, and refuses a model with a sampler
 * of the other family.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { conditioned } from '../../src/core/guidance';
import { makeNoise } from '../../src/core/noise';
import { FLOW_SAMPLER_NAMES, flowNfe, flowSamplers } from '../../src/core/samplers/flow';
import { SAMPLER_NAMES, keptStepIndices, nfeOf, rmsDistance, stepsForNfe } from '../../src/core/samplerInfo';
import { defineUrlState } from '../../src/widgets/lib/urlState';
import { RACE_DEFAULT_LANES, RACE_FLOW_MODEL, RACE_LANES, RACE_SAMPLERS, RACE_TRAJECTORY_FRAMES, REQUESTS, WIDGET_STATE, type ComputeApi } from '../../src/workers/api';
import { createHandlers } from '../../src/workers/handlers';
import { LabController } from '../../src/workers/lab';
import { cleanParams } from '../../src/workers/params';
import { Resources } from '../../src/workers/resources';
import { diskFetch, SITE } from '../helpers/site';

type RaceResult = ComputeApi['race']['result'];
type RaceProgress = ComputeApi['race']['progress'];

describe('the race catalogue', () => {
  it('declares every diffusion sampler and both flow samplers as lanes, once, with the flow lanes labelled as another model', () => {
    // (the consistency lane, last, is tested in raceConsistency.test.ts)
    expect(RACE_LANES.map((l) => l.key)).toEqual([...SAMPLER_NAMES, ...FLOW_SAMPLER_NAMES.map((n) => `flow-${n}`), 'consistency']);
    expect([...RACE_SAMPLERS]).toEqual(RACE_LANES.map((l) => l.key));
    expect(REQUESTS.race.sampler.values).toEqual(RACE_SAMPLERS);
    expect(new Set(RACE_LANES.map((l) => l.key)).size).toBe(RACE_LANES.length);
    const flow = RACE_LANES.filter((l) => l.family === 'flow');
    expect(flow.map((l) => l.label)).toEqual(['Flow matching · Euler', 'Flow matching · Heun']);
    for (const lane of RACE_LANES) expect(Object.keys(WIDGET_STATE.race)).toContain(lane.key);
    expect(RACE_FLOW_MODEL).toBe('flow-mnist');
  });

  it('costs the flow lanes as the flow samplers count: Euler N = NFE, Heun N = ⌊(NFE + 1)/2⌋ and 2N − 1 evaluations', () => {
    for (const lane of RACE_LANES.filter((l) => l.family === 'flow')) {
      const name = lane.key.slice('flow-'.length) as (typeof FLOW_SAMPLER_NAMES)[number];
      for (const nfe of WIDGET_STATE.race.nfe.values) {
        const steps = stepsForNfe(lane.cost, nfe);
        expect(steps).toBe(name === 'heun' ? Math.floor((nfe + 1) / 2) : nfe);
        expect(nfeOf(lane.cost, steps)).toBe(flowNfe(name, steps));
        expect(flowNfe(name, steps)).toBeLessThanOrEqual(nfe);
      }
    }
  });

  it('keeps the lanes in the URL: flow lanes round-trip, and an old URL without them still reads', () => {
    const url = defineUrlState('race', WIDGET_STATE.race);
    const state = { ...url.defaults(), ddpm: false, 'flow-euler': true, 'flow-heun': true, nfe: 10 };
    const query = url.format(state, '');
    expect(query).toContain('race.flow-euler=1');
    expect(query).toContain('race.flow-heun=1');
    expect(url.read(query)).toEqual(state);
    // A URL written before the flow lanes existed: its lanes as written, the flow lanes off.
    const old = url.read('?race.ddpm=0&race.heun=1&race.nfe=50');
    expect(old.heun).toBe(true);
    expect(old.ddpm).toBe(false);
    expect(old.nfe).toBe(50);
    expect(old['flow-euler']).toBe(false);
    expect(old['flow-heun']).toBe(false);
    const defaults = url.read('');
    for (const lane of RACE_LANES) expect(defaults[lane.key], lane.key).toBe(RACE_DEFAULT_LANES.includes(lane.key));
  });
});

describe('the race handler on the flow-matching model', () => {
  const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
  const handlers = createHandlers(res, new LabController(res));
  const race = (params: ComputeApi['race']['params'], progress: (p: RaceProgress) => void = () => {}) =>
    (handlers.race as (p: unknown, c: unknown) => Promise<RaceResult>)(cleanParams('race', REQUESTS.race, params), {
      signal: new AbortController().signal,
      progress,
    });

  beforeAll(async () => {
    await res.ensureBackend();
    // loaded once, outside the tensor counts below
    await res.unet(RACE_FLOW_MODEL);
    await res.unet('unet-mnist');
  });

  it('a flow Euler lane equals flowSamplers.euler on the conditioned flow network from the same x_T, with its NFE, progress and no leak', async () => {
    const count = 3;
    const steps = 4;
    const seed = 21;
    // By hand: the same seeded x_T as every lane draws, digits 0, 1, 2 in turn.
    const { unet } = await res.unet(RACE_FLOW_MODEL);
    const xT = makeNoise(seed).normal([count, 28, 28, 1]) as tf.Tensor4D;
    const byHand = await flowSamplers.euler(conditioned(unet.model, [0, 1, 2]), xT, { steps });
    const expected = Float32Array.from(await byHand.data());
    tf.dispose([xT, byHand]);

    const before = tf.memory().numTensors;
    const reports: RaceProgress[] = [];
    const r = await race({ model: RACE_FLOW_MODEL, sampler: 'flow-euler', steps, seed, count, reportMs: 16 }, (p) => reports.push(p));
    expect(tf.memory().numTensors).toBe(before);
    expect(r.nfe).toBe(steps);
    expect(r.x0).toHaveLength(count * 784);
    // The same operations on the same backend: the same numbers.
    expect(r.x0).toEqual(expected);
    // Progress: the last report is the last step, at s = 0, with every evaluation counted.
    const last = reports.at(-1)!;
    expect(last.index).toBe(steps - 1);
    expect(last.steps).toBe(steps);
    expect(last.t).toBe(0);
    expect(last.nfe).toBe(steps);
    expect(reports.every((p) => p.x.length === count * 784 && p.x0Pred.length === count * 784)).toBe(true);
  });

  it('a flow Heun lane costs 2N − 1 evaluations; a flow lane starts from the seed’s x_T (makeNoise(seed), as the diffusion lanes); nothing leaks', async () => {
    const before = tf.memory().numTensors;
    const steps = 3;
    const heun = await race({ model: RACE_FLOW_MODEL, sampler: 'flow-heun', steps, seed: 5, count: 2, reportMs: 2000 });
    expect(heun.nfe).toBe(2 * steps - 1);
    expect(heun.x0).toHaveLength(2 * 784);
    const first: RaceProgress[] = [];
    await race({ model: RACE_FLOW_MODEL, sampler: 'flow-euler', steps: 2, seed: 5, count: 2, reportMs: 16 }, (p) => first.push(p));
    const xT = makeNoise(5).normalArray(2 * 784);
    const s0 = first[0];
    // After the first Euler step x = x_T − ½ v and x̂_0 = x_T − v, so 2x − x̂_0 = x_T.
    let maxDiff = 0;
    for (let i = 0; i < xT.length; i++) maxDiff = Math.max(maxDiff, Math.abs(2 * s0.x[i] - s0.x0Pred[i] - xT[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a velocity model with a diffusion sampler and an ε-model with a flow sampler, with a clear error, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    for (const sampler of ['ddim', 'ddpm', 'dpmpp2m', 'euler', 'heun'] as const) {
      await expect(race({ model: RACE_FLOW_MODEL, sampler, steps: 2, count: 1 })).rejects.toThrow(
        /race: flow-mnist is a flow-matching model \(it predicts a velocity, not the noise ε\); the diffusion sampler .+ cannot run it/,
      );
    }
    for (const sampler of ['flow-euler', 'flow-heun'] as const) {
      await expect(race({ model: 'unet-mnist', sampler, steps: 2, count: 1 })).rejects.toThrow(
        /race: unet-mnist is a diffusion model \(it predicts the noise ε, not a velocity\); the flow sampler Flow matching · (Euler|Heun) cannot run it/,
      );
    }
    // The other diffusion handlers refuse the flow model too.
    const x0 = new Float32Array(784);
    const call = (kind: 'img2img' | 'inspect', p: Record<string, unknown>) =>
      (handlers[kind] as (p: unknown, c: unknown) => Promise<unknown>)(cleanParams(kind, REQUESTS[kind], p), { signal: new AbortController().signal, progress: () => {} });
    await expect(call('img2img', { model: RACE_FLOW_MODEL, x0, steps: 5 })).rejects.toThrow(/img2img: flow-mnist is a flow-matching model/);
    await expect(call('inspect', { model: RACE_FLOW_MODEL, x0 })).rejects.toThrow(/inspect: flow-mnist is a flow-matching model/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the race times each lane by its own steps', () => {
  const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
  const handlers = createHandlers(res, new LabController(res));
  const race = (params: ComputeApi['race']['params']) =>
    (handlers.race as (p: unknown, c: unknown) => Promise<RaceResult>)(cleanParams('race', REQUESTS.race, params), {
      signal: new AbortController().signal,
      progress: () => {},
    });

  it('reports the same time for a lane alone and beside a longer lane in the same worker (a virtual clock: 10 ms per network call)', async () => {
    await res.ensureBackend();
    const loaded = await res.unet('unet-mnist');
    const real = loaded.unet.model;
    // The clock moves only when a network is called, so a lane's time is 10 ms times the calls it is charged with.
    let clock = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    Object.defineProperty(loaded.unet, 'model', { value: ((...a: Parameters<typeof real>) => ((clock += 10), real(...a))) as typeof real, configurable: true });
    try {
      const lane = { sampler: 'ddim' as const, steps: 4, count: 2, seed: 5, reportMs: 0 };
      const alone = await race(lane);
      const [beside, longer] = await Promise.all([race(lane), race({ ...lane, sampler: 'dpmpp2m', steps: 12 })]);
      expect(alone.nfe).toBe(4);
      expect(alone.elapsedMs).toBe(40);
      // wall time from its start would include the other lane's interleaved calls (at least 3 × 10 ms more)
      expect(beside.elapsedMs).toBe(alone.elapsedMs);
      expect(longer.elapsedMs).toBe(120);
      expect(Array.from(beside.x0)).toEqual(Array.from(alone.x0));
    } finally {
      now.mockRestore();
      Object.defineProperty(loaded.unet, 'model', { value: real, configurable: true });
    }
  });
});

describe('the race keeps each lane\'s run for scrubbing', () => {
  const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
  const handlers = createHandlers(res, new LabController(res));
  const race = (params: ComputeApi['race']['params'], progress: (p: RaceProgress) => void = () => {}) =>
    (handlers.race as (p: unknown, c: unknown) => Promise<RaceResult>)(cleanParams('race', REQUESTS.race, params), { signal: new AbortController().signal, progress });

  it('returns at most RACE_TRAJECTORY_FRAMES frames of x_t and x̂₀, the first and the last step, t falling to 0, the last frame the result', async () => {
    await res.ensureBackend();
    await res.unet('unet-mnist');
    const before = tf.memory().numTensors;
    const progress: RaceProgress[] = [];
    // reports at most every 10 s: the frames are kept whether or not a report is due
    const r = await race({ sampler: 'ddim', steps: 40, count: 2, seed: 9, reportMs: 10_000 }, (p) => progress.push(p));
    expect(tf.memory().numTensors).toBe(before);
    const { t, x, x0 } = r.trajectory;
    const kept = keptStepIndices(40, RACE_TRAJECTORY_FRAMES);
    expect(t.length).toBe(RACE_TRAJECTORY_FRAMES);
    expect(x.length).toBe(t.length * 2 * 784);
    expect(x0.length).toBe(x.length);
    for (let k = 1; k < t.length; k++) expect(t[k]).toBeLessThan(t[k - 1]);
    expect(t.at(-1)).toBe(0);
    expect(progress.length).toBeLessThan(kept.length);
    // the last frame's x is the run's result, and the frames differ from each other
    expect(Array.from(x.subarray((t.length - 1) * 1568))).toEqual(Array.from(r.x0));
    expect(rmsDistance(x.subarray(0, 1568), x.subarray(1568, 3136))).toBeGreaterThan(0);
    // the same run with a report at every step keeps the same frames
    const again = await race({ sampler: 'ddim', steps: 40, count: 2, seed: 9, reportMs: 0 });
    expect(Array.from(again.trajectory.t)).toEqual(Array.from(t));
    expect(Array.from(again.trajectory.x0)).toEqual(Array.from(x0));
  });
});
