/**
 * The measured quality of a tiny CLIP (src/core/clip.ts) on the 1,000 held-out digits, shared by the training
 * job's model card (scripts/jobs/clip-mnist.ts) and `npm run eval -- clip` (scripts/eval/clip.ts):
 *
 * - zero-shot digit accuracy: each digit goes to the prompt "the digit k" it is most similar to;
 * - zero-shot attribute accuracy: per attribute, the prompts "a <word> digit" for its three words, scored
 *   against the bin its measured thickness / slant / width falls in (src/core/captions.ts);
 * - text→image retrieval: for one held-out caption per digit, whether one of the k most similar digits is one the
 *   caption is true of (`recallAt`) and whether its own digit is among them (`exactAt`);
 * - the similarity matrix of a small batch of digits and their captions.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ATTRIBUTES,
  ATTRIBUTE_WORDS,
  article,
  DIGIT_WORDS,
  randomCaptionSpec,
  renderCaption,
  specMatches,
  styleClassOf,
  tokenizeBatch,
  measureStyle,
  CONTEXT_LENGTH,
  type Attribute,
  type CaptionSpec,
  type StyleBins,
  type StyleClass,
} from '../../src/core/captions';
import { encodeImage, textEmbedding, type ClipModel } from '../../src/core/clip';
import { MNIST_PIXELS, batchTensor, range, type Split } from '../../src/core/data';
import { makeRng } from '../../src/core/rng';

export interface ClipEvaluation {
  /** Held-out digits measured. */
  count: number;
  zeroShot: { prompts: string[]; accuracy: number; perClass: number[] };
  attributes: Record<Attribute, { prompts: string[]; accuracy: number; perBin: number[]; share: number[] }>;
  retrieval: { captions: number; recallAt1: number; recallAt5: number; recallAt10: number; exactAt1: number; exactAt5: number; exactAt10: number };
  /** Cosine similarities [digit i][caption j] of `matrixCount` held-out digits and one caption each. */
  matrix: { captions: string[]; digits: number[]; indices: number[]; values: number[][] };
  /** exp(logitScale): the learned inverse temperature. */
  logitScale: number;
}

/** Unit image embeddings [count, E] of a split's first `count` digits, in batches. */
export async function imageEmbeddings(model: ClipModel, split: Split, count = split.count, batch = 250): Promise<{ data: Float32Array; dim: number }> {
  const dim = model.config.embedDim;
  const out = new Float32Array(count * dim);
  for (let s = 0; s < count; s += batch) {
    const n = Math.min(batch, count - s);
    const emb = tf.tidy(() => {
      const x = batchTensor(split, range(n, s));
      return encodeImage(model, x);
    });
    out.set((await emb.data()) as Float32Array, s * dim);
    emb.dispose();
  }
  return { data: out, dim };
}

/** Unit text embeddings [n, E] of captions. */
export async function textEmbeddings(model: ClipModel, captions: readonly string[]): Promise<Float32Array> {
  const ids = tokenizeBatch(captions);
  const emb = tf.tidy(() => textEmbedding(model, tf.tensor2d(ids, [captions.length, CONTEXT_LENGTH], 'int32')));
  const data = (await emb.data()) as Float32Array;
  emb.dispose();
  return data;
}

/** Row i · row j of two row-major matrices with `dim` columns. */
function dot(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) s += a[i * dim + k] * b[j * dim + k];
  return s;
}

/** Index of the largest of `n` scores. */
function argmax(score: (j: number) => number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (score(j) > score(best)) best = j;
  return best;
}

/** The bins of each of a split's first `count` digits. */
export function styleClasses(split: Split, bins: StyleBins, count = split.count): StyleClass[] {
  return Array.from({ length: count }, (_, i) => styleClassOf(measureStyle(split.images, i * MNIST_PIXELS), bins));
}

/** Prompts of zero-shot digit classification. */
export const digitPrompts = (): string[] => DIGIT_WORDS.map((_, k) => `the digit ${k}`);
/** Prompts of zero-shot attribute classification: "a <word> digit" for each of the attribute's three bins. */
export const attributePrompts = (a: Attribute): string[] => ATTRIBUTE_WORDS[a].map((w) => `${article(w)} ${w} digit`);

export async function evaluateClip(model: ClipModel, test: Split, bins: StyleBins, opts: { seed?: number; matrixCount?: number } = {}): Promise<ClipEvaluation> {
  const count = test.count;
  const { data: img, dim } = await imageEmbeddings(model, test, count);
  const classes = styleClasses(test, bins, count);
  const labels = Array.from(test.labels.subarray(0, count));

  const zsPrompts = digitPrompts();
  const zsText = await textEmbeddings(model, zsPrompts);
  const perClassHit = new Array(10).fill(0);
  const perClassN = new Array(10).fill(0);
  let hits = 0;
  for (let i = 0; i < count; i++) {
    const guess = argmax((j) => dot(img, i, zsText, j, dim), 10);
    perClassN[labels[i]]++;
    if (guess === labels[i]) {
      hits++;
      perClassHit[labels[i]]++;
    }
  }

  const attributes = {} as ClipEvaluation['attributes'];
  for (const a of ATTRIBUTES) {
    const prompts = attributePrompts(a);
    const txt = await textEmbeddings(model, prompts);
    const hit = [0, 0, 0];
    const n = [0, 0, 0];
    for (let i = 0; i < count; i++) {
      const b = classes[i][a];
      n[b]++;
      if (argmax((j) => dot(img, i, txt, j, dim), 3) === b) hit[b]++;
    }
    attributes[a] = {
      prompts,
      accuracy: (hit[0] + hit[1] + hit[2]) / count,
      perBin: hit.map((h, b) => (n[b] ? h / n[b] : 0)),
      share: n.map((v) => v / count),
    };
  }

  // One random caption per held-out digit (a fixed seed), ranked against every held-out digit.
  const rng = makeRng(opts.seed ?? 2021);
  const specs: CaptionSpec[] = labels.map((d, i) => randomCaptionSpec(d, classes[i], rng));
  const captions = specs.map((s) => renderCaption(s, rng));
  const capText = await textEmbeddings(model, captions);
  const ks = [1, 5, 10];
  const recall = [0, 0, 0];
  const exact = [0, 0, 0];
  const scores = new Float32Array(count);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let j = 0; j < count; j++) {
    for (let i = 0; i < count; i++) scores[i] = dot(img, i, capText, j, dim);
    order.sort((p, q) => scores[q] - scores[p]);
    ks.forEach((k, r) => {
      const top = order.slice(0, k);
      if (top.some((i) => specMatches(specs[j], labels[i], classes[i]))) recall[r]++;
      if (top.includes(j)) exact[r]++;
    });
  }

  // A small batch: the first held-out digit of each class 0 … matrixCount − 1 and its caption.
  const m = Math.min(10, opts.matrixCount ?? 8);
  const indices = Array.from({ length: m }, (_, d) => labels.indexOf(d));
  const values = indices.map((i) => indices.map((j) => dot(img, i, capText, j, dim)));

  const scale = (await model.logitScale.data())[0];
  return {
    count,
    zeroShot: { prompts: zsPrompts, accuracy: hits / count, perClass: perClassHit.map((h, k) => (perClassN[k] ? h / perClassN[k] : 0)) },
    attributes,
    retrieval: {
      captions: count,
      recallAt1: recall[0] / count,
      recallAt5: recall[1] / count,
      recallAt10: recall[2] / count,
      exactAt1: exact[0] / count,
      exactAt5: exact[1] / count,
      exactAt10: exact[2] / count,
    },
    matrix: { captions: indices.map((i) => captions[i]), digits: indices.map((i) => labels[i]), indices, values },
    logitScale: Math.exp(Math.min(scale, Math.log(100))),
  };
}
