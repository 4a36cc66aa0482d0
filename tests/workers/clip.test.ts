import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTEXT_LENGTH, EOS_ID, PAD_ID, UNK_ID, measureStyle, styleBinsFromDigits, styleWordsOf, tokenize, tokenizeBatch, type StyleBins } from '../../src/core/captions';
import { encodeImage, textEmbedding } from '../../src/core/clip';
import { encodePixels, MNIST_PIXELS } from '../../src/core/mnistFormat';
import { projectPca } from '../../src/core/pca';
import { DIGIT_PROMPTS, REQUESTS, type ComputeApi } from '../../src/workers/api';
import { createHandlers } from '../../src/workers/handlers';
import { LabController } from '../../src/workers/lab';
import { cleanParams } from '../../src/workers/params';
import { Resources } from '../../src/workers/resources';
import { diskFetch, ROOT, SITE } from '../helpers/site';

const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
const handlers = createHandlers(res, new LabController(res));
const ctx = { signal: new AbortController().signal, progress: () => {} };
/** Call a handler as serve() does: params cleaned against the catalogue first. */
async function call<K extends keyof typeof REQUESTS>(kind: K, params: ComputeApi[K]['params']): Promise<ComputeApi[K]['result']> {
  const fn = handlers[kind] as (p: unknown, c: typeof ctx) => Promise<ComputeApi[K]['result']>;
  return fn(cleanParams(kind, REQUESTS[kind], params), ctx);
}

/** Read a tensor made by `make` (inside tidy) into a float64 array, leaving nothing behind. */
async function read(make: () => tf.Tensor): Promise<Float64Array> {
  const t = tf.tidy(make);
  try {
    return Float64Array.from(await t.data());
  } finally {
    t.dispose();
  }
}
const dot = (a: ArrayLike<number>, b: ArrayLike<number>, ao = 0, bo = 0, n = 64) => {
  let s = 0;
  for (let j = 0; j < n; j++) s += a[ao + j] * b[bo + j];
  return s;
};

let heldOut: { images: Float32Array; labels: Uint8Array; count: number };
let bins: StyleBins;

beforeAll(async () => {
  await res.ensureBackend();
  // The model and the held-out embeddings are loaded once, outside the tensor counts below.
  const [loaded, gallery] = [await res.clip('clip-mnist'), await res.clipGallery('clip-mnist')];
  heldOut = { images: gallery.images, labels: Uint8Array.from(gallery.labels), count: gallery.count };
  bins = loaded.styleBins;
}, 120_000);

describe('clip.rank', () => {
  it('ranks the 1,000 held-out digits by the cosine of their image embedding to the caption’s, computed independently', async () => {
    const { clip } = await res.clip('clip-mnist');
    const caption = 'the digit 1';
    const before = tf.memory().numTensors;
    const r = await call('clip.rank', { caption, top: 12 });
    expect(tf.memory().numTensors).toBe(before);

    const text = await read(() => textEmbedding(clip, tf.tensor2d(tokenize(caption).ids, [1, CONTEXT_LENGTH], 'int32')));
    const images = await read(() => encodeImage(clip, tf.tensor4d(heldOut.images, [heldOut.count, 28, 28, 1])));
    const cos = Array.from({ length: heldOut.count }, (_, i) => dot(images, text, i * 64));
    const best = cos.map((c, i) => [c, i]).sort((a, b) => b[0] - a[0]).slice(0, 12);
    expect(r.similarities).toHaveLength(1000);
    r.similarities.forEach((s, i) => expect(s).toBeCloseTo(cos[i], 4));
    expect(r.indices).toHaveLength(12);
    r.scores.forEach((s, k) => expect(s).toBeCloseTo(best[k][0], 4));
    for (let k = 1; k < 12; k++) expect(r.scores[k]).toBeLessThanOrEqual(r.scores[k - 1]);
    r.indices.forEach((i, k) => {
      expect(r.labels[k]).toBe(heldOut.labels[i]);
      expect(r.scores[k]).toBe(r.similarities[i]);
      expect(Array.from(r.images.subarray(k * MNIST_PIXELS, (k + 1) * MNIST_PIXELS))).toEqual(Array.from(heldOut.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS)));
    });
    expect(Array.from(r.allLabels)).toEqual(Array.from(heldOut.labels));
    // "the digit 1" names the digit only: a ranked digit fits exactly when it is a 1, and 100 held-out digits are 1s.
    r.fits.forEach((f, k) => expect(f).toBe(r.labels[k] === 1 ? 1 : 0));
    r.fitsAll.forEach((f, i) => expect(f).toBe(heldOut.labels[i] === 1 ? 1 : 0));
    expect(r.fitting).toBe(100);
  });

  it('reports how the tokenizer read the caption: ids, unknown words, truncation', async () => {
    const r = await call('clip.rank', { caption: 'a purple seven', top: 1 });
    expect(r.tokens).toEqual(['a', 'purple', 'seven']);
    expect(r.unknown).toEqual(['purple']);
    expect(r.truncated).toBe(false);
    expect(Array.from(r.ids)).toEqual(Array.from(tokenize('a purple seven').ids));
    expect(r.ids[1]).toBe(UNK_ID);
    expect(Array.from(r.ids.subarray(3))).toEqual([EOS_ID, ...new Array(CONTEXT_LENGTH - 4).fill(PAD_ID)]);
    const long = await call('clip.rank', { caption: 'a thin and bold and wide and narrow and upright and slanted seven', top: 1 });
    expect(long.truncated).toBe(true);
    expect(long.ids[CONTEXT_LENGTH - 1]).toBe(EOS_ID);
    // Two digits contradict each other: nothing fits, and the count says so.
    const odd = await call('clip.rank', { caption: 'a seven and a one', top: 3 });
    expect(odd.fitting).toBeNull();
    expect(Array.from(odd.fits)).toEqual([0, 0, 0]);
  });
});

describe('clip.classify', () => {
  it('gives cosines and a softmax with the learned temperature that match the core model, and the measured style', async () => {
    const { clip } = await res.clip('clip-mnist');
    const x = heldOut.images.slice(7 * MNIST_PIXELS, 8 * MNIST_PIXELS);
    const captions = [...DIGIT_PROMPTS, 'a bold purple digit'];
    const before = tf.memory().numTensors;
    const r = await call('clip.classify', { x, captions });
    expect(tf.memory().numTensors).toBe(before);

    const image = await read(() => encodeImage(clip, tf.tensor4d(x, [1, 28, 28, 1])));
    const text = await read(() => textEmbedding(clip, tf.tensor2d(tokenizeBatch(captions), [captions.length, CONTEXT_LENGTH], 'int32')));
    const s = (await read(() => clip.logitScale))[0];
    expect(r.scale).toBeCloseTo(Math.exp(Math.min(s, Math.log(100))), 4);
    const cos = captions.map((_, j) => dot(image, text, 0, j * 64));
    const logits = cos.map((c) => r.scale * c);
    const top = Math.max(...logits);
    const z = logits.reduce((acc, l) => acc + Math.exp(l - top), 0);
    cos.forEach((c, j) => {
      expect(r.similarities[j]).toBeCloseTo(c, 4);
      expect(r.probabilities[j]).toBeCloseTo(Math.exp(logits[j] - top) / z, 4);
    });
    expect(Array.from(r.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(r.captions.map((c) => c.unknown)).toEqual([...DIGIT_PROMPTS.map(() => []), ['purple']]);

    const style = measureStyle(encodePixels(x));
    expect(r.style).toMatchObject(style);
    expect(r.style.words).toEqual(styleWordsOf(style, bins).words);
  });

  it('refuses an image of the wrong size or too many captions before the handler runs', async () => {
    await expect(call('clip.classify', { x: new Float32Array(100) })).rejects.toThrow(/clip.classify: parameter "x" must hold 784 values/);
    await expect(call('clip.classify', { x: new Float32Array(784), captions: new Array(17).fill('a') })).rejects.toThrow(/parameter "captions" must be an array of 1…16 texts/);
  });
});

describe('clip.map', () => {
  it('projects held-out digits, the ten digit prompts, the caption and the image with one PCA, leaking nothing', async () => {
    const gallery = await res.clipGallery('clip-mnist');
    const { clip } = await res.clip('clip-mnist');
    const x = heldOut.images.slice(0, MNIST_PIXELS);
    const before = tf.memory().numTensors;
    const r = await call('clip.map', { caption: 'a thin seven', x, perClass: 20 });
    const bare = await call('clip.map', { caption: 'a thin seven', perClass: 5 });
    expect(tf.memory().numTensors).toBe(before);

    expect(r.points).toHaveLength(200 * 2);
    for (let d = 0; d < 10; d++) expect(Array.from(r.labels).filter((l) => l === d)).toHaveLength(20);
    r.indices.forEach((i, k) => expect(r.labels[k]).toBe(heldOut.labels[i]));
    const { pca } = gallery.pcas.digits;
    const mine = projectPca(pca, gallery.embeddings.subarray(r.indices[3] * 64, r.indices[3] * 64 + 64), 1);
    expect(r.points[6]).toBeCloseTo(mine[0], 5);
    expect(r.points[7]).toBeCloseTo(mine[1], 5);
    expect(r.prompts).toHaveLength(20);

    const text = await read(() => textEmbedding(clip, tf.tensor2d(tokenize('a thin seven').ids, [1, CONTEXT_LENGTH], 'int32')));
    const image = await read(() => encodeImage(clip, tf.tensor4d(x, [1, 28, 28, 1])));
    const [cx, cy] = projectPca(pca, text, 1);
    expect(r.caption[0]).toBeCloseTo(cx, 4);
    expect(r.caption[1]).toBeCloseTo(cy, 4);
    const [ix, iy] = projectPca(pca, image, 1);
    expect(r.image![0]).toBeCloseTo(ix, 4);
    expect(r.image![1]).toBeCloseTo(iy, 4);
    expect(r.imageCaptionSimilarity!).toBeCloseTo(dot(image, text), 4);
    expect(r.explained[0]).toBeGreaterThanOrEqual(r.explained[1]);
    expect(r.explained[0] + r.explained[1]).toBeLessThanOrEqual(1);

    expect(bare.image).toBeNull();
    expect(bare.imageCaptionSimilarity).toBeNull();
    expect(bare.points).toHaveLength(50 * 2);

    // The joint plane: fitted with the ten prompts weighing as much as the 1,000 digits.
    const joint = await call('clip.map', { caption: 'a thin seven', perClass: 5, axes: 'joint' });
    expect(joint.fittedOn).not.toBe(bare.fittedOn);
    const [jx, jy] = projectPca(gallery.pcas.joint.pca, text, 1);
    expect(joint.caption[0]).toBeCloseTo(jx, 4);
    expect(joint.caption[1]).toBeCloseTo(jy, 4);
    Array.from(projectPca(gallery.pcas.joint.pca, gallery.prompts, 10)).forEach((v, i) => expect(joint.prompts[i]).toBeCloseTo(v, 5));
  });
});

describe('a missing or broken CLIP folder', () => {
  /** models/<name>/ served from clip-mnist's files, with model.json's metadata or weights.bin changed. */
  function brokenFetch(edit: { metadata?: (m: Record<string, unknown>) => void; weights?: (b: Uint8Array) => Uint8Array }): typeof fetch {
    return (async (input: RequestInfo | URL) => {
      const url = new URL(String(input));
      const m = url.pathname.match(/^\/models\/clip-(broken|nobins)\/(.+)$/);
      if (!m) return diskFetch(input);
      const bytes = new Uint8Array(await readFile(join(ROOT, 'models/clip-mnist', m[2])));
      if (m[2] === 'model.json' && edit.metadata) {
        const json = JSON.parse(new TextDecoder().decode(bytes));
        edit.metadata(json.userDefinedMetadata);
        return new Response(JSON.stringify(json));
      }
      return new Response(Buffer.from(m[2].endsWith('.bin') && edit.weights ? edit.weights(bytes) : bytes));
    }) as typeof fetch;
  }

  it('gives an error naming the file, and the next request tries again', async () => {
    const before = tf.memory().numTensors;
    await expect(call('clip.rank', { model: 'no-such-clip', caption: 'a seven' })).rejects.toThrow(/models\/no-such-clip\/model\.json: HTTP 404/);
    const truncated = new Resources({ root: SITE, fetch: brokenFetch({ weights: (b) => b.subarray(0, 1000) }), order: ['wasm'] });
    await expect(truncated.clip('clip-broken')).rejects.toThrow(/weights\.bin \(listed in \S*clip-broken\/model\.json\): truncated/);
    await expect(truncated.clipGallery('clip-broken')).rejects.toThrow(/weights\.bin \(listed in \S*clip-broken\/model\.json\): truncated/);
    expect(truncated.cachedModels).toBe(0);
    const otherWords = new Resources({ root: SITE, fetch: brokenFetch({ metadata: (m) => ((m.vocab as string[])[5] = 'deux') }), order: ['wasm'] });
    await expect(otherWords.clip('clip-broken')).rejects.toThrow(/clip-broken\/model\.json: this CLIP does not match the site's tokenizer: a vocabulary that differs/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('measures the style bins on the training split when model.json has none, as the trainer does', async () => {
    const nobins = new Resources({ root: SITE, fetch: brokenFetch({ metadata: (m) => delete m.styleBins }), order: ['wasm'] });
    const loaded = await nobins.clip('clip-nobins');
    const { train } = await nobins.mnist();
    expect(loaded.styleBins).toEqual(styleBinsFromDigits(train.images, train.count));
    // … and those are the bins the shipped file records.
    for (const a of ['thickness', 'slant', 'width'] as const) loaded.styleBins[a].forEach((v, i) => expect(v).toBeCloseTo(bins[a][i], 4));
    await nobins.drop();
  }, 60_000);
});
