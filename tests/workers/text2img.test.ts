import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeScaled, encodeScaled } from '../../src/core/autoencoder';
import { qSample } from '../../src/core/forward';
import { halfMask } from '../../src/core/masks';
import { CONTEXT_LENGTH, tokenize } from '../../src/core/captions';
import { embed } from '../../src/core/classifier';
import { encodeImage, textEmbedding } from '../../src/core/clip';
import { MNIST_PIXELS } from '../../src/core/mnistFormat';
import { makeNoise } from '../../src/core/noise';
import { samplers } from '../../src/core/samplers';
import { disposeContext, promptContext, promptDenoiser, promptImg2img, promptInpaint, type LatentTextModel } from '../../src/core/textToImage';
import { REQUESTS, type ComputeApi } from '../../src/workers/api';
import { createHandlers } from '../../src/workers/handlers';
import { LabController } from '../../src/workers/lab';
import { cleanParams } from '../../src/workers/params';
import { Resources } from '../../src/workers/resources';
import { keptSteps, text2imgRefs } from '../../src/workers/text2img';
import { diskFetch, SITE } from '../helpers/site';

const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
const handlers = createHandlers(res, new LabController(res));
type Progress = ComputeApi['text2img']['progress'];
/** Call the handler as serve() does: params cleaned against the catalogue first. */
function run(params: ComputeApi['text2img']['params'], opts: { signal?: AbortSignal; progress?: (p: Progress) => void } = {}) {
  const ctx = { signal: opts.signal ?? new AbortController().signal, progress: opts.progress ?? (() => {}) };
  return handlers.text2img(cleanParams('text2img', REQUESTS.text2img, params), ctx as never) as Promise<ComputeApi['text2img']['result']>;
}
/** Read a tensor made by `make` (inside tidy), leaving nothing behind. */
async function read(make: () => tf.Tensor): Promise<Float32Array> {
  const t = tf.tidy(make);
  try {
    return Float32Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

beforeAll(async () => {
  await res.ensureBackend();
  // The models are loaded once, outside the tensor counts below.
  await Promise.all([res.text2img('text2img-mnist'), res.classifier('classifier-mnist')]);
}, 120_000);

describe('text2img', () => {
  it('samples as promptContext, promptDenoiser, DDIM and the decoder composed by hand, and reads each sample back', async () => {
    const params = { prompt: 'a bold seven', negative: 'a thin digit', w: 2, seed: 5, count: 3, steps: 6, stages: 3, sampler: 'ddim' as const };
    const before = tf.memory().numTensors;
    const progress: Progress[] = [];
    const r = await run({ ...params, reportMs: 16 }, { progress: (p) => progress.push(p) });
    expect(tf.memory().numTensors).toBe(before);

    // The same pipeline from the core functions.
    const m = await res.text2img('text2img-mnist');
    const clf = await res.classifier('classifier-mnist');
    const [h, w, c] = m.unet.metadata.config.inputShape;
    const noise = makeNoise(params.seed);
    const zT = noise.normal([params.count, h, w, c]) as tf.Tensor4D;
    const prompt = promptContext(m.clip.clip, [params.prompt]);
    const negative = promptContext(m.clip.clip, [params.negative]);
    const z = await samplers.ddim(promptDenoiser(m.unet.unet.model, prompt, negative, params.w), zT, m.unet.schedule, { noise, steps: params.steps, eta: 0 });
    const x = decodeScaled(m, z);
    const images = Float32Array.from(await x.data());
    const { predicted, probs } = await embed(clf, x);
    const ids = tokenize(params.prompt).ids;
    const scores = await read(() => tf.matMul(encodeImage(m.clip.clip, x), textEmbedding(m.clip.clip, tf.tensor2d(ids, [1, CONTEXT_LENGTH], 'int32')), false, true));
    const z0 = Float32Array.from(await z.data());
    const zT0 = Float32Array.from(await zT.data());
    const states = Float32Array.from(await prompt.states.data());
    tf.dispose([zT, z, x]);
    disposeContext(prompt);
    disposeContext(negative);

    expect(r.images).toHaveLength(params.count * MNIST_PIXELS);
    r.images.forEach((v, i) => expect(v).toBeCloseTo(images[i], 4));
    expect(Array.from(r.predicted)).toEqual(Array.from(predicted));
    r.confidence.forEach((p, i) => expect(p).toBeCloseTo(probs[i * 10 + predicted[i]], 5));
    r.clipScores.forEach((s, i) => expect(s).toBeCloseTo(scores[i], 4));
    expect(r.nfe).toBe(params.steps);
    // Tokens of both prompts, what the prompt asks for, and whether each sample is that.
    expect(Array.from(r.prompt.ids)).toEqual(Array.from(ids));
    expect(r.negative.tokens).toEqual(['a', 'thin', 'digit']);
    expect(r.asked).toEqual({ digit: 7, attributes: { thickness: 2 } });
    expect(r.styles).toHaveLength(params.count);
    r.styles.forEach((s, i) => {
      expect(['thin', 'regular', 'bold']).toContain(s.words.thickness);
      expect(r.fits![i]).toBe(r.predicted[i] === 7 && s.words.thickness === 'bold' ? 1 : 0);
    });
    // The text states the U-Net attends to, and the pipeline strip of the first sample.
    expect(r.stateShape).toEqual([CONTEXT_LENGTH, 64]);
    r.textStates.forEach((v, i) => expect(v).toBeCloseTo(states[i], 5));
    expect(Array.from(r.tokenMask)).toEqual([1, 1, 1, 1, ...new Array(8).fill(0)]);
    expect(r.stages.steps).toEqual([0, 3, 5]);
    expect(r.stages.t[2]).toBe(0);
    const L = h * w * c;
    expect(r.stages.start).toHaveLength(L);
    r.stages.start.forEach((v, i) => expect(v).toBeCloseTo(zT0[i], 6));
    r.stages.latents.subarray(2 * L).forEach((v, i) => expect(v).toBeCloseTo(z0[i], 4));
    // DDIM's last step lands on ᾱ = 1: the decoded x̂_0 of the last kept step is the first sample.
    r.stages.decoded.subarray(2 * MNIST_PIXELS).forEach((v, i) => expect(v).toBeCloseTo(images[i], 4));
    // Progress: the decoded x̂_0 of every sample, step by step.
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) {
      expect(p.x0).toHaveLength(params.count * MNIST_PIXELS);
      expect(p.done).toBeLessThan(params.steps);
    }
  });

  it('reports cross-attention maps that sum to 1 over the prompt’s real tokens and are 0 on its pads, with and without guidance', async () => {
    for (const w of [0, 3]) {
      const before = tf.memory().numTensors;
      const r = await run({ prompt: 'a purple 4', w, seed: 9, count: 2, steps: 5, stages: 2, sampler: 'dpmpp2m' });
      expect(tf.memory().numTensors).toBe(before);
      expect(r.nfe).toBe(5);
      expect(r.prompt.unknown).toEqual(['purple']);
      const a = r.attention!;
      expect(a.layers).toEqual(['down0.xattn0', 'mid.xattn', 'up0.xattn0']);
      expect(a.steps).toEqual([0, 4]);
      expect(a.positions).toEqual([7, 7]);
      expect(a.tokens).toBe(CONTEXT_LENGTH);
      const rows = (values: Float32Array) => values.length / CONTEXT_LENGTH;
      expect(rows(a.maps)).toBe(2 * 3 * 2 * 49);
      expect(rows(a.mean)).toBe(3 * 2 * 49);
      for (const values of [a.maps, a.mean]) {
        for (let row = 0; row < rows(values); row++) {
          const weights = values.subarray(row * CONTEXT_LENGTH, (row + 1) * CONTEXT_LENGTH);
          // "a purple 4" + <eos>: four real tokens.
          expect(weights.subarray(0, 4).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
          weights.subarray(0, 4).forEach((v) => expect(v).toBeGreaterThan(0));
          weights.subarray(4).forEach((v) => expect(v).toBe(0));
        }
      }
    }
  });

  it('can leave the attention maps out, and stops between steps when cancelled, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const r = await run({ prompt: 'the digit 1', count: 1, steps: 5, attention: false });
    expect(r.attention).toBeNull();
    expect(r.asked).toEqual({ digit: 1, attributes: {} });
    const abort = new AbortController();
    let steps = 0;
    const cancelled = run({ prompt: 'the digit 1', count: 2, steps: 20, reportMs: 16 }, { signal: abort.signal, progress: () => ++steps === 2 && abort.abort() });
    await expect(cancelled).rejects.toThrow(/abort/i);
    expect(steps).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps evenly spaced steps, the first and last among them', () => {
    expect(keptSteps(25, 5)).toEqual([0, 6, 12, 18, 24]);
    expect(keptSteps(5, 10)).toEqual([0, 1, 2, 3, 4]);
    expect(keptSteps(100, 2)).toEqual([0, 99]);
  });
});

describe('img2img.prompt: image-to-image and inpainting with a prompt on the text model', () => {
  type EditProgress = ComputeApi['img2img.prompt']['progress'];
  function edit(params: ComputeApi['img2img.prompt']['params'], opts: { signal?: AbortSignal; progress?: (p: EditProgress) => void } = {}) {
    const ctx = { signal: opts.signal ?? new AbortController().signal, progress: opts.progress ?? (() => {}) };
    return handlers['img2img.prompt'](cleanParams('img2img.prompt', REQUESTS['img2img.prompt'], params), ctx as never) as Promise<ComputeApi['img2img.prompt']['result']>;
  }
  /** A blocky "1" in [−1, 1]. */
  const digit = Float32Array.from({ length: MNIST_PIXELS }, (_, i) => (i % 28 > 10 && i % 28 < 17 && i > 120 && i < 660 ? 0.9 : -1));
  /** The same edit composed by hand from the core: prompt contexts, then promptImg2img or promptInpaint. */
  async function byHand(mode: 'img2img' | 'inpaint', p: { prompt: string; negative: string; w: number; seed: number; steps: number; strength: number; keep: 'left' | 'right' | 'top' | 'bottom' }) {
    const t = await res.text2img('text2img-mnist');
    const m: LatentTextModel = { model: t.unet.unet.model, autoencoder: t.autoencoder, latentScale: t.latentScale, schedule: t.unet.schedule };
    const prompt = promptContext(t.clip.clip, [p.prompt]);
    const negative = promptContext(t.clip.clip, [p.negative]);
    const x0 = tf.tensor4d(digit, [1, 28, 28, 1]);
    const opts = { prompt, negative, w: p.w, steps: p.steps, noise: makeNoise(p.seed) };
    const r = mode === 'img2img' ? await promptImg2img(m, x0, { ...opts, strength: p.strength }) : { ...(await promptInpaint(m, x0, { ...opts, keep: p.keep })), t0: m.schedule.T };
    // z_{t0}: the input's scaled latent noised with the run's first draw of the seeded noise.
    const t0 = r.t0;
    const start = await read(() => qSample(m.schedule, encodeScaled(m, x0), t0, makeNoise(p.seed).normal([1, ...t.autoencoder.latentShape]) as tf.Tensor4D));
    const out = { image: Float32Array.from(await r.image.data()), latent: Float32Array.from(await r.latent.data()), timesteps: r.timesteps, start };
    tf.dispose([r.image, r.latent, x0]);
    disposeContext(prompt);
    disposeContext(negative);
    return out;
  }

  it('img2img: equals promptImg2img composed by hand, starts from z_t0, reports the decoded x̂_0 and the tokens, and leaks nothing', async () => {
    const p = { prompt: 'a bold seven', negative: 'a thin digit', w: 2, seed: 6, steps: 5, strength: 0.5, keep: 'left' as const };
    const before = tf.memory().numTensors;
    const progress: EditProgress[] = [];
    const r = await edit({ mode: 'img2img', x0: digit, ...p, reportMs: 16 }, { progress: (q) => progress.push(q) });
    expect(tf.memory().numTensors).toBe(before);
    const want = await byHand('img2img', p);
    expect(r.image).toHaveLength(MNIST_PIXELS);
    r.image.forEach((v, i) => expect(v).toBeCloseTo(want.image[i], 4));
    expect(r.latentShape).toEqual([7, 7, 4]);
    r.latent.forEach((v, i) => expect(v).toBeCloseTo(want.latent[i], 4));
    expect(r.t0).toBe(500);
    expect(r.timesteps).toEqual(want.timesteps);
    expect(r.timesteps).toEqual([500, 400, 300, 200, 100, 0]);
    r.start!.forEach((v, i) => expect(v).toBeCloseTo(want.start[i], 5));
    expect(r.mask).toBeNull();
    expect(r.nfe).toBe(5);
    expect(r.prompt.tokens).toEqual(['a', 'bold', 'seven']);
    expect(r.negative.tokens).toEqual(['a', 'thin', 'digit']);
    expect(progress.length).toBeGreaterThan(0);
    for (const q of progress) {
      expect(q.x0Pred).toHaveLength(MNIST_PIXELS);
      expect(q.done).toBeLessThan(p.steps);
    }
  });

  it('inpaint: equals promptInpaint composed by hand and keeps the input’s half exactly, with and without guidance', async () => {
    for (const w of [0, 3]) {
      const p = { prompt: 'the digit 4', negative: '', w, seed: 8, steps: 5, strength: 0.6, keep: 'right' as const };
      const before = tf.memory().numTensors;
      const r = await edit({ mode: 'inpaint', x0: digit, ...p });
      expect(tf.memory().numTensors).toBe(before);
      const want = await byHand('inpaint', p);
      r.image.forEach((v, i) => expect(v).toBeCloseTo(want.image[i], 4));
      expect(r.timesteps).toEqual(want.timesteps);
      expect(r.t0).toBe(1000);
      expect(r.start).toBeNull();
      expect(r.nfe).toBe(5);
      expect(Array.from(r.mask!)).toEqual(Array.from(halfMask('right', 28, 28)));
      // The latent grid is 7 wide: the right half keeps its last 3 columns of cells.
      expect(Array.from(r.latentMask!)).toEqual(Array.from(halfMask('right', 7, 7)));
      expect(r.latentMask!.reduce((a, b) => a + b, 0)).toBe(21);
      r.mask!.forEach((k, i) => k && expect(r.image[i]).toBe(digit[i]));
    }
  });

  it('stops between steps when cancelled, leaking nothing, and refuses an image of the wrong size', async () => {
    const before = tf.memory().numTensors;
    const abort = new AbortController();
    let reports = 0;
    const cancelled = edit({ mode: 'img2img', x0: digit, strength: 1, steps: 20, reportMs: 16 }, { signal: abort.signal, progress: () => ++reports === 2 && abort.abort() });
    await expect(cancelled).rejects.toThrow(/abort/i);
    expect(reports).toBe(2);
    await expect(async () => edit({ x0: new Float32Array(MNIST_PIXELS * 2) })).rejects.toThrow(/img2img\.prompt: parameter "x0"/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('a missing or misdirected text-to-image model', () => {
  it('gives an error naming the file', async () => {
    const before = tf.memory().numTensors;
    await expect(run({ model: 'no-such-model', prompt: 'a seven' })).rejects.toThrow(/models\/no-such-model\/model\.json: HTTP 404/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('resolves the autoencoder and CLIP folders of model.json under models/, and refuses any other place', () => {
    const base = `${SITE}models/text2img-mnist/`;
    const root = `${SITE}models/`;
    expect(text2imgRefs({ autoencoder: '../latent-mnist/autoencoder/', clip: '../clip-mnist/' }, base, root)).toEqual({ autoencoder: 'latent-mnist/autoencoder', clip: 'clip-mnist' });
    expect(() => text2imgRefs({ autoencoder: '../latent-mnist/autoencoder/' }, base, root)).toThrow(/text2img-mnist\/model\.json: no clip folder/);
    expect(() => text2imgRefs({ autoencoder: '../../data/', clip: '../clip-mnist/' }, base, root)).toThrow(/text2img-mnist\/model\.json: the autoencoder folder "..\/..\/data\/" is not a model folder/);
    expect(() => text2imgRefs({ autoencoder: 'https://elsewhere.test/ae/', clip: '../clip-mnist/' }, base, root)).toThrow(/not a model folder of this site/);
  });
});
