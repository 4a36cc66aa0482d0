import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeScaled } from '../../src/core/autoencoder';
import { CONTEXT_LENGTH, tokenize } from '../../src/core/captions';
import { embed } from '../../src/core/classifier';
import { encodeImage, textEmbedding } from '../../src/core/clip';
import { MNIST_PIXELS } from '../../src/core/mnistFormat';
import { makeNoise } from '../../src/core/noise';
import { samplers } from '../../src/core/samplers';
import { disposeContext, promptContext, promptDenoiser } from '../../src/core/textToImage';
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
