/**
 * The sampler race's consistency lane: declared once in the catalogue (family 'consistency', RACE_CONSISTENCY_MODEL),
 * its own step count `cmSteps` ∈ {1, 2, 4} in the URL (malformed values clamped or ignored), the `lanes` prop's
 * parsing and the instance state it gives, and the race handler: it runs the consistency sampler from the same
 * seeded x_T with the same class conditioning as every lane, passes the model's grid size and σ_d, counts one
 * evaluation a step, leaks nothing, and refuses a consistency model with any other sampler and the consistency
 * sampler with any other model.
 *
 * The handler tests run a stand-in consistency model: unet-mnist's weights served under another name with a
 * model.json that says `prediction: 'consistency'` (the network is the same U-Net; the sampler only reads its output
 * through f = a·y + b·ε̂), so they do not depend on the trained models/consistency-mnist being present.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { consistencyGrid, consistencySigmaMin } from '../../src/core/consistency';
import { conditioned } from '../../src/core/guidance';
import { makeNoise } from '../../src/core/noise';
import { consistencySamplers } from '../../src/core/samplers/consistency';
import { stepsForNfe } from '../../src/core/samplerInfo';
import { makeSchedule } from '../../src/core/schedules';
import { defineUrlState } from '../../src/widgets/lib/urlState';
import {
  RACE_CONSISTENCY_MODEL,
  RACE_CONSISTENCY_TEACHER,
  RACE_DEFAULT_LANES,
  RACE_FLOW_MODEL,
  RACE_LANES,
  RACE_MAX_LANES,
  RACE_SAMPLERS,
  REQUESTS,
  WIDGET_FEEDS,
  WIDGET_STATE,
  parseRaceLanes,
  raceLaneSteps,
  raceStateWithLanes,
  type ComputeApi,
} from '../../src/workers/api';
import { checkSamplerFits, consistencySpecOf, createHandlers } from '../../src/workers/handlers';
import { LabController } from '../../src/workers/lab';
import { cleanParams, parseUrlValue } from '../../src/workers/params';
import { Resources } from '../../src/workers/resources';
import { ROOT, SITE, diskFetch } from '../helpers/site';

type RaceResult = ComputeApi['race']['result'];
type RaceProgress = ComputeApi['race']['progress'];

const CM = RACE_LANES.find((l) => l.key === 'consistency')!;

describe('the consistency lane in the catalogue', () => {
  it('is declared once, last, as its own family running RACE_CONSISTENCY_MODEL, off by default', () => {
    expect(RACE_LANES.filter((l) => l.family === 'consistency')).toEqual([{ key: 'consistency', family: 'consistency', label: 'Consistency model', cost: 'ddim' }]);
    expect(RACE_LANES.at(-1)).toBe(CM);
    expect(RACE_SAMPLERS.filter((k) => k === 'consistency')).toHaveLength(1);
    expect(REQUESTS.race.sampler.values).toContain('consistency');
    expect(RACE_CONSISTENCY_MODEL).toBe('consistency-mnist');
    expect(RACE_CONSISTENCY_TEACHER).toBe('unet-mnist');
    expect(WIDGET_STATE.race.consistency).toEqual({ type: 'bool', default: false });
    expect(RACE_DEFAULT_LANES).not.toContain('consistency');
  });

  it('takes its own steps, cmSteps ∈ {1, 2, 4} (default 1), fed to the request’s steps, instead of the shared NFE budget', () => {
    expect(WIDGET_STATE.race.cmSteps).toEqual({ type: 'choice', default: 1, values: [1, 2, 4] });
    expect(WIDGET_FEEDS.race?.params.cmSteps).toBe('steps');
    for (const nfe of WIDGET_STATE.race.nfe.values) {
      for (const cmSteps of WIDGET_STATE.race.cmSteps.values) {
        expect(raceLaneSteps(CM, { nfe, cmSteps })).toBe(cmSteps);
        // every other lane still takes its steps from the budget
        for (const lane of RACE_LANES.filter((l) => l.family !== 'consistency')) expect(raceLaneSteps(lane, { nfe, cmSteps })).toBe(stepsForNfe(lane.cost, nfe, 1000));
      }
    }
  });

  it('reads cmSteps from the URL: valid values as written, others clamped to the nearest choice or ignored', () => {
    const spec = WIDGET_STATE.race.cmSteps;
    const cases: [string | null, number][] = [
      [null, 1], ['1', 1], ['2', 2], ['4', 4], ['3', 2], ['3.5', 4], ['0', 1], ['-7', 1], ['100', 4], ['1e9', 4],
      ['abc', 1], ['', 1], ['NaN', 1], ['Infinity', 1], ['2x', 1], [' 4 ', 4],
    ];
    for (const [raw, want] of cases) expect(parseUrlValue(spec, raw), String(raw)).toBe(want);
    const url = defineUrlState('race', WIDGET_STATE.race);
    const state = { ...url.defaults(), consistency: true, ddpm: false, cmSteps: 4 };
    const query = url.format(state, '');
    expect(query).toContain('race.consistency=1');
    expect(query).toContain('race.cmSteps=4');
    expect(url.read(query)).toEqual(state);
    expect(url.read('?race.consistency=1&race.cmSteps=oops').cmSteps).toBe(1);
    // a URL written before the lane existed leaves it off
    expect(url.read('?race.ddpm=0&race.heun=1').consistency).toBe(false);
  });
});

describe('the lanes prop', () => {
  it('parses a comma-separated list of lane keys into lanes in their declared order, ignoring spaces and repeats', () => {
    expect(parseRaceLanes('consistency,ddim,dpmpp2m')).toEqual({ lanes: ['ddim', 'dpmpp2m', 'consistency'], unknown: [], tooMany: false });
    expect(parseRaceLanes(' heun , ddim,,heun ')).toEqual({ lanes: ['ddim', 'heun'], unknown: [], tooMany: false });
    expect(parseRaceLanes('flow-euler,consistency')).toEqual({ lanes: ['flow-euler', 'consistency'], unknown: [], tooMany: false });
  });

  it('falls back to the default lanes when it names none, and reports unknown names and too many lanes (the build refuses them)', () => {
    for (const text of [undefined, '', ' , ']) expect(parseRaceLanes(text)).toEqual({ lanes: [...RACE_DEFAULT_LANES], unknown: [], tooMany: false });
    expect(parseRaceLanes('ddim,cm,DDPM')).toEqual({ lanes: ['ddim'], unknown: ['cm', 'DDPM'], tooMany: false });
    expect(parseRaceLanes('nope')).toEqual({ lanes: [...RACE_DEFAULT_LANES], unknown: ['nope'], tooMany: false });
    const five = RACE_SAMPLERS.slice(0, RACE_MAX_LANES + 1).join(',');
    expect(parseRaceLanes(five).tooMany).toBe(true);
    expect(parseRaceLanes(RACE_SAMPLERS.slice(0, RACE_MAX_LANES).join(',')).tooMany).toBe(false);
  });

  it('changes only the lanes’ defaults of the instance’s URL state: the URL still overrides, defaults stay out of the URL', () => {
    const spec = raceStateWithLanes(WIDGET_STATE.race, parseRaceLanes('consistency,ddim,dpmpp2m').lanes);
    for (const key of Object.keys(WIDGET_STATE.race) as (keyof typeof WIDGET_STATE.race)[]) {
      if (RACE_SAMPLERS.includes(key as never)) expect(spec[key]).toEqual({ type: 'bool', default: ['consistency', 'ddim', 'dpmpp2m'].includes(key) });
      else expect(spec[key], key).toBe(WIDGET_STATE.race[key]); // the very declarations
    }
    // the catalogue's own declaration is untouched
    for (const lane of RACE_LANES) expect(WIDGET_STATE.race[lane.key].default).toBe(RACE_DEFAULT_LANES.includes(lane.key));
    const url = defineUrlState('consistency-race', spec);
    const fresh = url.read('');
    expect(RACE_LANES.filter((l) => fresh[l.key]).map((l) => l.key)).toEqual(['ddim', 'dpmpp2m', 'consistency']);
    expect(url.format(fresh, '')).toBe('');
    const overridden = url.read('?consistency-race.consistency=0&consistency-race.ddpm=1&consistency-race.cmSteps=2');
    expect(RACE_LANES.filter((l) => overridden[l.key]).map((l) => l.key)).toEqual(['ddpm', 'ddim', 'dpmpp2m']);
    expect(overridden.cmSteps).toBe(2);
    expect(url.read(url.format(overridden, ''))).toEqual(overridden);
    // another instance's keys do not leak in
    expect(url.read('?race.consistency=0').consistency).toBe(true);
  });
});

// ---- the handler, on a stand-in consistency model -----------------------------------------------------------------

const STANDIN = 'cm-standin';
const schedule = makeSchedule('linear', 1000);
const META = { gridSize: 18, sigmaData: 0.5, sigmaMin: consistencySigmaMin(schedule), grid: consistencyGrid(schedule, 18) };
/** Stand-ins: unet-mnist's weights under model.json files whose metadata say other things. */
const STANDINS: Record<string, (meta: Record<string, unknown>) => Record<string, unknown>> = {
  [STANDIN]: (m) => ({ ...m, name: STANDIN, model: STANDIN, prediction: 'consistency', consistency: META }),
  'cm-small-grid': (m) => ({ ...m, name: 'cm-small-grid', prediction: 'consistency', consistency: { gridSize: 4, sigmaData: 0.5, grid: consistencyGrid(schedule, 4) } }),
  'cm-low-top': (m) => ({ ...m, name: 'cm-low-top', prediction: 'consistency', consistency: { gridSize: 12, tMax: 800, sigmaData: 0.5, grid: consistencyGrid(schedule, 12, 800) } }),
  'cm-bad-top': (m) => ({ ...m, name: 'cm-bad-top', prediction: 'consistency', consistency: { ...META, tMax: 1001 } }),
  'cm-sigma-data': (m) => ({ ...m, name: 'cm-sigma-data', prediction: 'consistency', consistency: { ...META, sigmaData: 0.7 } }),
  'cm-no-settings': (m) => ({ ...m, name: 'cm-no-settings', prediction: 'consistency' }),
  'cm-bad-sigma': (m) => ({ ...m, name: 'cm-bad-sigma', prediction: 'consistency', consistency: { ...META, sigmaData: -1 } }),
  'cm-bad-grid': (m) => ({ ...m, name: 'cm-bad-grid', prediction: 'consistency', consistency: { ...META, grid: META.grid.map((t, i) => (i === 3 ? t + 1 : t)) } }),
};
const standinFetch = (async (input: RequestInfo | URL) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const m = /^\/models\/([^/]+)\/(model\.json|weights\.bin)$/.exec(url.pathname);
  if (m && STANDINS[m[1]]) {
    if (m[2] === 'weights.bin') return diskFetch(new URL('/models/unet-mnist/weights.bin', SITE));
    const json = JSON.parse(readFileSync(join(ROOT, 'models/unet-mnist/model.json'), 'utf8'));
    json.userDefinedMetadata = STANDINS[m[1]](json.userDefinedMetadata);
    return new Response(JSON.stringify(json));
  }
  return diskFetch(input);
}) as typeof fetch;

describe('the race handler on a consistency model', () => {
  const res = new Resources({ root: SITE, fetch: standinFetch, order: ['wasm'] });
  const handlers = createHandlers(res, new LabController(res));
  const race = (params: ComputeApi['race']['params'], progress: (p: RaceProgress) => void = () => {}) =>
    (handlers.race as (p: unknown, c: unknown) => Promise<RaceResult>)(cleanParams('race', REQUESTS.race, params), {
      signal: new AbortController().signal,
      progress,
    });

  beforeAll(async () => {
    await res.ensureBackend();
    // loaded once, outside the tensor counts below
    for (const name of [STANDIN, 'cm-small-grid', 'cm-low-top', 'cm-bad-top', 'cm-sigma-data', 'cm-no-settings', 'cm-bad-sigma', 'cm-bad-grid', 'unet-mnist', RACE_FLOW_MODEL]) await res.unet(name);
  });

  it('the consistency lane equals the consistency sampler on the conditioned network from the seed’s x_T, with the model’s grid and σ_d, its NFE, progress and no leak', async () => {
    const count = 3;
    const seed = 21;
    // (model, steps, its grid size and σ_d): the handler must pass the model's own settings to the sampler
    const cases: [string, number, number, number, number][] = [[STANDIN, 1, 18, 0.5, 1000], [STANDIN, 2, 18, 0.5, 1000], [STANDIN, 4, 18, 0.5, 1000], ['cm-small-grid', 2, 4, 0.5, 1000], ['cm-sigma-data', 2, 18, 0.7, 1000], ['cm-low-top', 2, 12, 0.5, 800]];
    const outputs: Float32Array[] = [];
    for (const [model, steps, gridSize, sigmaData, tMax] of cases) {
      // By hand: the seeded x_T every lane draws, then the same stream for the re-noising; digits 0, 1, 2 in turn.
      const { unet } = await res.unet(model);
      const noise = makeNoise(seed);
      const xT = noise.normal([count, 28, 28, 1]) as tf.Tensor4D;
      const byHand = await consistencySamplers.consistency(conditioned(unet.model, [0, 1, 2]), xT, schedule, { noise, steps, gridSize, sigmaData, tMax });
      const expected = Float32Array.from(await byHand.data());
      tf.dispose([xT, byHand]);

      const before = tf.memory().numTensors;
      const reports: RaceProgress[] = [];
      const r = await race({ model, sampler: 'consistency', steps, seed, count, reportMs: 16 }, (p) => reports.push(p));
      expect(tf.memory().numTensors).toBe(before);
      expect(r.nfe).toBe(steps);
      expect(r.steps).toBe(steps);
      expect(r.x0).toHaveLength(count * 784);
      expect(r.x0).toEqual(expected);
      const last = reports.at(-1)!;
      expect(last.index).toBe(steps - 1);
      expect(last.steps).toBe(steps);
      expect(last.t).toBe(0);
      expect(last.nfe).toBe(steps);
      outputs.push(r.x0);
    }
    // the settings matter: another grid or σ_d gives other digits at the same steps
    expect(outputs[3]).not.toEqual(outputs[1]);
    expect(outputs[4]).not.toEqual(outputs[1]);
  });

  it('starts from the same x_T as a diffusion lane: one consistency step of the teacher’s own weights is f(x_T, T) read from the same ε̂', async () => {
    // The stand-in holds unet-mnist's weights, so its ε̂ at t = T equals the diffusion lane's first ε̂ from that x_T:
    // DDIM's first x̂₀ = (x_T − √(1−ᾱ_T) ε̂)/√ᾱ_T and the consistency output a·√(1+σ²)·x_T + b·ε̂ are both affine in
    // (x_T, ε̂), so ε̂ recovered from each must agree.
    const seed = 9;
    const cm: RaceProgress[] = [];
    await race({ model: STANDIN, sampler: 'consistency', steps: 1, seed, count: 2, reportMs: 16 }, (p) => cm.push(p));
    const ddim: RaceProgress[] = [];
    await race({ model: 'unet-mnist', sampler: 'ddim', steps: 2, seed, count: 2, reportMs: 16 }, (p) => ddim.push(p));
    const xT = makeNoise(seed).normalArray(2 * 784);
    const T = 1000;
    const ab = schedule.alphaBar[T];
    const sigma = Math.sqrt((1 - ab) / ab);
    const sd = 0.5;
    const sMin = consistencySigmaMin(schedule);
    const d = sigma - sMin;
    const cSkip = (sd * sd) / (d * d + sd * sd);
    const cOut = (sd * d) / Math.sqrt(sd * sd + sigma * sigma);
    const r = Math.sqrt(sigma * sigma + sd * sd);
    const a = (cSkip + (cOut * sigma) / (sd * r)) * Math.sqrt(1 + sigma * sigma);
    const b = (-cOut * r) / sd;
    // DDIM's first report: x̂₀ clipped to [−1, 1]; compare where it is not clipped.
    let maxDiff = 0;
    let compared = 0;
    for (let i = 0; i < xT.length; i++) {
      const x0 = ddim[0].x0Pred[i];
      if (Math.abs(x0) >= 0.999) continue;
      const epsFromDdim = (xT[i] - Math.sqrt(ab) * x0) / Math.sqrt(1 - ab);
      const epsFromCm = (cm.at(-1)!.x0Pred[i] - a * xT[i]) / b;
      maxDiff = Math.max(maxDiff, Math.abs(epsFromDdim - epsFromCm));
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('refuses more steps than the model’s grid allows, and malformed consistency settings, with clear errors, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    await expect(race({ model: STANDIN, sampler: 'consistency', steps: 18, count: 1 })).rejects.toThrow(/race: cm-standin takes 1…17 steps \(its grid has 18 points\), got 18/);
    await expect(race({ model: 'cm-small-grid', sampler: 'consistency', steps: 4, count: 1 })).rejects.toThrow(/race: cm-small-grid takes 1…3 steps/);
    const small = await race({ model: 'cm-small-grid', sampler: 'consistency', steps: 3, count: 1 });
    expect(small.nfe).toBe(3);
    await expect(race({ model: 'cm-no-settings', sampler: 'consistency', steps: 1, count: 1 })).rejects.toThrow(/race: cm-no-settings\/model\.json has no consistency settings/);
    await expect(race({ model: 'cm-bad-sigma', sampler: 'consistency', steps: 1, count: 1 })).rejects.toThrow(/consistency\.sigmaData must be a positive number, got -1/);
    await expect(race({ model: 'cm-bad-grid', sampler: 'consistency', steps: 1, count: 1 })).rejects.toThrow(/consistency\.grid is not the 18-point grid of its schedule/);
    await expect(race({ model: 'cm-bad-top', sampler: 'consistency', steps: 1, count: 1 })).rejects.toThrow(/consistency\.tMax must be an integer in 2…1000, got 1001/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a consistency model with every other lane, and the consistency lane with a diffusion or a flow model, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    for (const lane of RACE_LANES.filter((l) => l.family !== 'consistency')) {
      await expect(race({ model: STANDIN, sampler: lane.key, steps: 2, count: 1 }), lane.key).rejects.toThrow(
        new RegExp(`race: cm-standin is a consistency model \\(.+\\); the (diffusion|flow) sampler ${lane.label.replace(/[+·]/g, '.')} cannot run it, only the consistency sampler`),
      );
    }
    await expect(race({ model: 'unet-mnist', sampler: 'consistency', steps: 1, count: 1 })).rejects.toThrow(
      /race: unet-mnist is a diffusion model \(it predicts the noise ε\), not a consistency model; the consistency sampler \(Consistency model\) runs only a consistency model such as consistency-mnist/,
    );
    await expect(race({ model: RACE_FLOW_MODEL, sampler: 'consistency', steps: 1, count: 1 })).rejects.toThrow(
      /race: flow-mnist is a flow-matching model \(it predicts a velocity\), not a consistency model/,
    );
    // The other handlers that step an ε-model refuse it too.
    const x0 = new Float32Array(784);
    const call = (kind: 'img2img' | 'inspect', p: Record<string, unknown>) =>
      (handlers[kind] as (p: unknown, c: unknown) => Promise<unknown>)(cleanParams(kind, REQUESTS[kind], p), { signal: new AbortController().signal, progress: () => {} });
    await expect(call('img2img', { model: STANDIN, x0, steps: 5 })).rejects.toThrow(/img2img: cm-standin is a consistency model/);
    await expect(call('inspect', { model: STANDIN, x0 })).rejects.toThrow(/inspect: cm-standin is a consistency model/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the missing file when the consistency model is not there', async () => {
    await expect(race({ model: 'cm-absent', sampler: 'consistency', steps: 1, count: 1 })).rejects.toThrow(/models\/cm-absent\/model\.json: HTTP 404/);
  });

  it('pairs by the model’s metadata alone (no load needed)', () => {
    const meta = (prediction?: string) => ({ name: 'm', config: {} as never, schedule: { kind: 'linear' as const, T: 1000 }, ...(prediction ? { prediction } : {}) });
    expect(() => checkSamplerFits('x', meta('consistency'), 'consistency')).not.toThrow();
    expect(() => checkSamplerFits('x', meta('eps'), 'ddim')).not.toThrow();
    expect(() => checkSamplerFits('x', meta(), 'ddim')).not.toThrow();
    expect(() => checkSamplerFits('x', meta('velocity'), 'flow-heun')).not.toThrow();
    expect(() => checkSamplerFits('x', meta('consistency'), 'ddpm')).toThrow(/x: m is a consistency model/);
    expect(() => checkSamplerFits('x', meta(), 'consistency')).toThrow(/x: m is a diffusion model/);
  });
});

describe.skipIf(!existsSync(join(ROOT, 'models/consistency-mnist/model.json')))('the shipped consistency model', () => {
  it('says it is a consistency model and carries settings the race accepts (grid size, σ_d, its grid)', () => {
    const json = JSON.parse(readFileSync(join(ROOT, 'models/consistency-mnist/model.json'), 'utf8'));
    const meta = json.userDefinedMetadata;
    expect(meta.prediction).toBe('consistency');
    const s = makeSchedule(meta.schedule.kind, meta.schedule.T);
    const spec = consistencySpecOf('race', { ...meta, name: RACE_CONSISTENCY_MODEL }, s);
    // the widget's largest cmSteps fits its grid
    expect(Math.max(...WIDGET_STATE.race.cmSteps.values)).toBeLessThanOrEqual(spec.gridSize - 1);
    expect(() => checkSamplerFits('race', { ...meta, name: RACE_CONSISTENCY_MODEL }, 'consistency')).not.toThrow();
  });
});
