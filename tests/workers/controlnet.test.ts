import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeScaled } from '../../src/core/autoencoder';
import { controlHint, packMask } from '../../src/core/control';
import { controlledModel, hintTensor } from '../../src/core/controlnet';
import { classifierFreeGuidance } from '../../src/core/guidance';
import { MNIST_PIXELS } from '../../src/core/mnistFormat';
import { makeNoise } from '../../src/core/noise';
import { samplers } from '../../src/core/samplers';
import { REQUESTS, type ComputeApi } from '../../src/workers/api';
import { requestHint } from '../../src/workers/controlnet';
import { createHandlers } from '../../src/workers/handlers';
import { LabController } from '../../src/workers/lab';
import { cleanParams, ParamError } from '../../src/workers/params';
import { controlNetBaseFolder, Resources } from '../../src/workers/resources';
import { diskFetch, SITE } from '../helpers/site';

const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
const handlers = createHandlers(res, new LabController(res));
type Progress = ComputeApi['controlnet']['progress'];
type Result = ComputeApi['controlnet']['result'];
/** Call the handler as serve() does: params cleaned against the catalogue first. */
function run(params: ComputeApi['controlnet']['params'], opts: { signal?: AbortSignal; progress?: (p: Progress) => void } = {}): Promise<Result> {
  const ctx = { signal: opts.signal ?? new AbortController().signal, progress: opts.progress ?? (() => {}) };
  return handlers.controlnet(cleanParams('controlnet', REQUESTS.controlnet, params), ctx as never) as Promise<Result>;
}
function guide(params: ComputeApi['guide']['params']): Promise<ComputeApi['guide']['result']> {
  const ctx = { signal: new AbortController().signal, progress: () => {} };
  return handlers.guide(cleanParams('guide', REQUESTS.guide, params), ctx as never) as Promise<ComputeApi['guide']['result']>;
}

/** The skeleton of the first held-out 7 (what the widget's preset button sends). */
let seven: Uint8Array;

beforeAll(async () => {
  await res.ensureBackend();
  // The models are loaded once, outside the tensor counts below.
  await Promise.all([res.controlnet('controlnet-mnist'), res.classifier('classifier-mnist')]);
  const { test } = await res.mnist();
  const i = test.labels.indexOf(7);
  seven = controlHint(test.images, i * MNIST_PIXELS);
}, 120_000);

/** Per-position L2 norm over channels, mean over the rows: a float64 reference on the tensor's values. */
async function normMapRef(t: tf.Tensor4D): Promise<Float64Array> {
  const [rows, h, w, c] = t.shape;
  const hw = h * w;
  const values = Float32Array.from(await t.data());
  const out = new Float64Array(hw);
  for (let r = 0; r < rows; r++) {
    for (let p = 0; p < hw; p++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += values[(r * hw + p) * c + k] ** 2;
      out[p] += Math.sqrt(s) / rows;
    }
  }
  return out;
}

describe('controlnet', () => {
  it('samples as controlledModel, classifier-free guidance, DDIM and the decoder composed by hand, with the residual maps of the run', async () => {
    const p = { digit: 7, scale: 1, w: 2, seed: 5, steps: 5, samples: 3 };
    const before = tf.memory().numTensors;
    const progress: Progress[] = [];
    const r = await run({ ...p, hint: packMask(seven) }, { progress: (q) => progress.push(q) });
    expect(tf.memory().numTensors).toBe(before);

    // By hand: the same pipeline from the core, recording x and t at every call to work out the residual maps.
    const { net, latent: lm } = await res.controlnet('controlnet-mnist');
    const hint = hintTensor(seven, 1);
    const noise = makeNoise(p.seed);
    const zT = noise.normal([p.samples, 7, 7, 4]) as tf.Tensor4D;
    const guided = classifierFreeGuidance(controlledModel(lm.unet, net, hint, p.scale), { classes: p.digit, w: p.w, nullClass: 10 });
    const calls: { x: tf.Tensor4D; t: number }[] = [];
    const z = await samplers.ddim(
      (x, t) => {
        calls.push({ x: tf.keep(x.clone()), t });
        return guided(x, t);
      },
      zT, lm.schedule, { noise, steps: p.steps, eta: 0 },
    );
    const x = decodeScaled(lm, z);
    const images = Float32Array.from(await x.data());
    const hintFeatures = net.hintFeatures(hint);
    const hintRef = await normMapRef(hintFeatures);
    const skipRef = new Float64Array(49);
    const midRef = new Float64Array(49);
    for (const call of calls) {
      // The conditional half of the guided batch: the class, the hint; its residuals as the copy computes them.
      const res0 = tf.tidy(() => {
        const xs = call.x;
        const tt = tf.fill([p.samples], call.t, 'int32') as tf.Tensor1D;
        const rr = net.residuals(xs, tt, tf.fill([p.samples], p.digit, 'int32') as tf.Tensor1D, undefined, tf.tile(hint, [p.samples, 1, 1, 1]) as tf.Tensor4D);
        return [rr.skips[0], rr.mid];
      });
      const [s0, m0] = await Promise.all(res0.map((t) => normMapRef(t as tf.Tensor4D)));
      tf.dispose(res0);
      s0.forEach((v, i) => (skipRef[i] += (p.scale * v) / calls.length));
      m0.forEach((v, i) => (midRef[i] += (p.scale * v) / calls.length));
    }
    tf.dispose([hint, zT, z, x, hintFeatures, ...calls.map((c) => c.x)]);

    expect(r.images).toHaveLength(p.samples * MNIST_PIXELS);
    r.images.forEach((v, i) => expect(v).toBeCloseTo(images[i], 4));
    expect(Array.from(r.hint)).toEqual(Array.from(seven));
    expect(r.nfe).toBe(p.steps);
    expect(calls).toHaveLength(p.steps);
    expect(r.mapShape).toEqual([7, 7]);
    for (const [name, ref] of [['hint', hintRef], ['skip0', skipRef], ['mid', midRef]] as const) {
      const map = r.maps[name];
      expect(map, name).toHaveLength(49);
      map.forEach((v, i) => expect(v, `${name}[${i}]`).toBeCloseTo(ref[i], 3));
      expect(r.max[name]).toBe(map.reduce((a, b) => (b > a ? b : a), 0));
      expect(r.max[name], name).toBeGreaterThan(0);
    }
    expect(r.modelName).toBe('controlnet-mnist');
    // One progress report a step, in order.
    expect(progress.map((q) => q.done)).toEqual([1, 2, 3, 4, 5]);
    expect(progress.every((q) => q.steps === p.steps)).toBe(true);
    expect(progress.at(-1)!.t).toBe(0);
  });

  it('λ = 0 gives the guidance lab’s samples for the same seed bit for bit, and adds nothing; λ > 0 changes them and grows the residuals', async () => {
    const p = { digit: 4, w: 3, seed: 11, steps: 6 };
    const before = tf.memory().numTensors;
    const off = await run({ ...p, scale: 0, samples: 4, hint: packMask(seven) });
    const base = await guide({ ...p, count: 4, negative: -1 });
    expect(Array.from(off.images)).toEqual(Array.from(base.images));
    expect(off.max.skip0).toBe(0);
    expect(off.max.mid).toBe(0);
    // The hint features do not depend on λ: the copy reads the hint whatever the scale.
    expect(off.max.hint).toBeGreaterThan(0);
    const half = await run({ ...p, scale: 0.5, samples: 4, hint: packMask(seven) });
    const full = await run({ ...p, scale: 1, samples: 4, hint: packMask(seven) });
    expect(Array.from(full.images)).not.toEqual(Array.from(base.images));
    expect(Array.from(half.maps.hint)).toEqual(Array.from(full.maps.hint));
    expect(half.max.skip0).toBeGreaterThan(0);
    expect(full.max.mid).toBeGreaterThan(half.max.mid);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('cleans its parameters against the catalogue and refuses a malformed hint with an error naming it', async () => {
    const clean = cleanParams('controlnet', REQUESTS.controlnet, { digit: 12.4, scale: 5, w: -1, steps: 1, samples: 99 });
    expect(clean).toMatchObject({ model: 'controlnet-mnist', digit: 9, scale: 2, w: 0, steps: 5, samples: 16, seed: REQUESTS.controlnet.seed.default });
    // The default hint is the empty mask.
    expect(Array.from(requestHint(clean.hint))).toEqual(new Array(MNIST_PIXELS).fill(0));
    expect(() => cleanParams('controlnet', REQUESTS.controlnet, { hint: 7 })).toThrow(/controlnet: parameter "hint" must be text of at most 131 characters/);
    expect(() => cleanParams('controlnet', REQUESTS.controlnet, { hint: 'A'.repeat(132) })).toThrow(ParamError);
    for (const bad of ['', 'A'.repeat(130), `${'A'.repeat(130)}!`, `${'A'.repeat(130)}B`]) {
      expect(() => requestHint(bad), JSON.stringify(bad)).toThrow(ParamError);
      expect(() => requestHint(bad)).toThrow(/controlnet: parameter "hint" must be a 28×28 mask packed as 131 base64url characters/);
    }
    const before = tf.memory().numTensors;
    await expect(run({ hint: 'not a mask' })).rejects.toThrow(/controlnet: parameter "hint" must be a 28×28 mask/);
    // An empty hint is a valid request: the copy reads a blank image.
    const blank = await run({ hint: packMask(new Uint8Array(MNIST_PIXELS)), steps: 5, samples: 1 });
    expect(blank.images).toHaveLength(MNIST_PIXELS);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps the tensor count flat over runs, and stops between steps when cancelled, leaking nothing', async () => {
    const hint = packMask(seven);
    await run({ hint, steps: 5, samples: 2 });
    const before = tf.memory().numTensors;
    for (const scale of [0, 1.5]) await run({ hint, scale, steps: 5, samples: 2 });
    expect(tf.memory().numTensors).toBe(before);
    const abort = new AbortController();
    let steps = 0;
    const cancelled = run({ hint, steps: 20, samples: 2 }, { signal: abort.signal, progress: () => ++steps === 2 && abort.abort() });
    await expect(cancelled).rejects.toThrow(/abort/i);
    expect(steps).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('a missing or misdirected ControlNet', () => {
  it('gives an error naming the file', async () => {
    const before = tf.memory().numTensors;
    await expect(run({ model: 'no-such-model', hint: packMask(seven) })).rejects.toThrow(/models\/no-such-model\/model\.json: HTTP 404/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names a corrupt weights file', async () => {
    const broken = new Resources({
      root: SITE,
      order: ['wasm'],
      fetch: (async (input: RequestInfo | URL) => {
        const url = String(input instanceof Request ? input.url : input);
        if (url.endsWith('controlnet-mnist/weights.bin')) return new Response(new Uint8Array(100));
        return diskFetch(input);
      }) as typeof fetch,
    });
    const before = tf.memory().numTensors;
    await expect(broken.controlnet('controlnet-mnist')).rejects.toThrow(/weights\.bin \(listed in http:\/\/site\.test\/models\/controlnet-mnist\/model\.json\): truncated/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('resolves its base to a latent model folder of this site, and refuses any other place', () => {
    const url = `${SITE}models/controlnet-mnist/`;
    const root = `${SITE}models/`;
    expect(controlNetBaseFolder({ base: '../latent-mnist/denoiser/', autoencoder: '../latent-mnist/autoencoder/' }, url, root)).toBe('latent-mnist');
    expect(controlNetBaseFolder({ base: '../latent-mnist/denoiser' }, url, root)).toBe('latent-mnist');
    expect(() => controlNetBaseFolder({ base: '../unet-mnist/' }, url, root)).toThrow(/controlnet-mnist\/model\.json: the base "..\/unet-mnist\/" is not the denoiser\/ folder/);
    expect(() => controlNetBaseFolder({ base: '../../data/denoiser/' }, url, root)).toThrow(/is not the denoiser\/ folder of a latent model of this site/);
    expect(() => controlNetBaseFolder({ base: 'https://elsewhere.test/latent/denoiser/' }, url, root)).toThrow(/not the denoiser\/ folder/);
    expect(() => controlNetBaseFolder({ base: '../latent-mnist/denoiser/', autoencoder: '../other/autoencoder/' }, url, root)).toThrow(/the autoencoder "..\/other\/autoencoder\/" is not the one beside its base/);
  });
});
