/**
 * The CLIP lab's worker side. The shipped tiny CLIP (src/core/clip.ts) is loaded with its tokenizer checked
 * against src/core/captions.ts and its style bins read; the 1,000 held-out digits are embedded once per model (the
 * gallery: unit image embeddings, labels, measured style bins, the prompts "the digit k" and a 2-D PCA); the three
 * requests clip.rank, clip.classify and clip.map then cost one text or image encoding each.
 *
 * Similarities are cosines of unit embeddings (Radford et al. 2021, §2.3); probabilities are the softmax over the
 * given captions of exp(min(s, ln 100))·cos with the model's learned log inverse temperature s.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ATTRIBUTES,
  CONTEXT_LENGTH,
  EOS_ID,
  PAD_ID,
  VOCAB,
  measureStyle,
  measureStyles,
  parseCaption,
  specMatches,
  styleBinsFromDigits,
  styleClassOf,
  styleWordsOf,
  tokenize,
  tokenizeBatch,
  type StyleBins,
  type StyleClass,
} from '../core/captions';
import { encodeImage, loadClip, matchProbabilities, MAX_LOGIT_SCALE, similarity, textEmbedding, type ClipMetadata, type ClipModel } from '../core/clip';
import { decodePixels, encodePixels, MNIST_PIXELS, type MnistData } from '../core/mnistFormat';
import { fitPca, projectPca, type Pca } from '../core/pca';
import { DIGIT_PROMPTS, type CaptionTokens, type ComputeApi, type MeasuredStyle } from './api';
import { readAll } from './readback';
import type { Resources } from './resources';

const [H, W, C] = [28, 28, 1];

/** A shipped CLIP with what the lab needs from its model.json. */
export interface LoadedClip {
  clip: ClipModel;
  metadata: ClipMetadata;
  /** Tertile edges of thickness, slant and width over the training split (the words' meaning). */
  styleBins: StyleBins;
}

/** The held-out digits as the CLIP sees them, computed once per model. */
export interface ClipGallery {
  count: number;
  embedDim: number;
  /** Unit image embeddings [count × E]. */
  embeddings: Float32Array;
  labels: Int32Array;
  /** The digits in [−1, 1], [count × 784]. */
  images: Float32Array;
  /** Each digit's measured bin of thickness, slant and width (ATTRIBUTES order), [count × 3]. */
  bins: Uint8Array;
  /** Unit text embeddings of DIGIT_PROMPTS [10 × E]. */
  prompts: Float32Array;
  /** The map's planes (see buildClipGallery) and what each was fitted on. */
  pcas: Record<MapAxes, { pca: Pca; fittedOn: string }>;
}

/** The style bins in a model.json, or null when they are missing or malformed. */
function styleBinsIn(metadata: ClipMetadata): StyleBins | null {
  const bins = metadata.styleBins as Record<string, unknown> | undefined;
  if (!bins || typeof bins !== 'object') return null;
  for (const a of ATTRIBUTES) {
    const e = bins[a];
    if (!Array.isArray(e) || e.length !== 2 || !e.every(Number.isFinite) || e[0] > e[1]) return null;
  }
  return bins as unknown as StyleBins;
}

/** Throw, naming the file, unless the model reads the tokenizer's ids (src/core/captions.ts) the same way. */
function checkTokenizer(metadata: ClipMetadata, source: string): void {
  const { config } = metadata;
  const problems: string[] = [];
  if (config.contextLength !== CONTEXT_LENGTH) problems.push(`context length ${config.contextLength}, the tokenizer writes ${CONTEXT_LENGTH}`);
  if (config.vocabSize < VOCAB.length) problems.push(`${config.vocabSize} token ids, the tokenizer has ${VOCAB.length}`);
  if (config.eosId !== EOS_ID || config.padId !== PAD_ID) problems.push(`<eos>/<pad> ids ${config.eosId}/${config.padId}, the tokenizer's are ${EOS_ID}/${PAD_ID}`);
  const vocab = metadata.vocab;
  if (vocab !== undefined && (!Array.isArray(vocab) || vocab.length !== VOCAB.length || vocab.some((w, i) => w !== VOCAB[i]))) {
    problems.push("a vocabulary that differs from the tokenizer's");
  }
  if (problems.length) throw new Error(`${source}: this CLIP does not match the site's tokenizer: ${problems.join('; ')}`);
}

/**
 * Load a shipped CLIP folder and check it against the tokenizer. Its style bins come from model.json; a file
 * without them gets the tertiles of the training split, which is how the trainer computes them.
 */
export async function loadShippedClip(url: string, fetchImpl: typeof fetch | undefined, mnist: () => Promise<MnistData>): Promise<LoadedClip> {
  const { clip, metadata } = await loadClip(url, fetchImpl);
  try {
    checkTokenizer(metadata, `${url}model.json`);
    let styleBins = styleBinsIn(metadata);
    if (!styleBins) {
      const { train } = await mnist();
      styleBins = styleBinsFromDigits(train.images, train.count);
    }
    return { clip, metadata, styleBins };
  } catch (e) {
    clip.dispose();
    throw e;
  }
}

/** Images per encoder call while embedding the held-out split. */
const GALLERY_BATCH = 250;

/** Unit image embeddings of `count` images [count × 784] in [−1, 1], in batches; nothing is left on the backend. */
async function embedImages(clip: ClipModel, images: Float32Array, count: number): Promise<Float32Array> {
  const E = clip.config.embedDim;
  const out = new Float32Array(count * E);
  for (let start = 0; start < count; start += GALLERY_BATCH) {
    const n = start + GALLERY_BATCH > count ? count - start : GALLERY_BATCH;
    const emb = tf.tidy(() => encodeImage(clip, tf.tensor4d(images.subarray(start * MNIST_PIXELS, (start + n) * MNIST_PIXELS), [n, H, W, C])));
    const [values] = await readAll([emb]);
    out.set(values, start * E);
  }
  return out;
}

/** Unit text embeddings of captions [n × E], with each caption's token reading. */
async function embedTexts(clip: ClipModel, captions: readonly string[]): Promise<Float32Array> {
  const ids = tokenizeBatch(captions);
  const [values] = await readAll([tf.tidy(() => textEmbedding(clip, tf.tensor2d(ids, [captions.length, CONTEXT_LENGTH], 'int32')))]);
  return values;
}

/** The two planes a map can show (src/workers/api.ts, clip.map `axes`). */
export type MapAxes = 'digits' | 'joint';

/**
 * Embed the held-out split once, with each digit's measured style bins, and fit the map's two PCAs.
 *
 * CLIP's two encoders fill separate regions of the sphere (the modality gap, Liang et al. 2022): a caption and a
 * digit it fits are far less similar than two digits of one class. So the planes differ: 'digits' is fitted on the
 * 1,000 image embeddings alone, and shows the classes spread out, with each prompt projected towards its class but
 * nearer the centre (most of a text embedding lies off that plane); 'joint' is fitted on the digits and the ten
 * prompts "the digit k" with the prompts weighted to count as much as all the digits together, so the gap between
 * the encoders becomes an axis and digits and captions form two clouds side by side.
 */
export async function buildClipGallery({ clip, styleBins }: LoadedClip, data: MnistData): Promise<ClipGallery> {
  const { test } = data;
  const count = test.count;
  const E = clip.config.embedDim;
  const images = decodePixels(test.images.subarray(0, count * MNIST_PIXELS));
  const embeddings = await embedImages(clip, images, count);
  const prompts = await embedTexts(clip, DIGIT_PROMPTS);
  const styles = measureStyles(test.images, count);
  const bins = new Uint8Array(count * ATTRIBUTES.length);
  for (let i = 0; i < count; i++) {
    const cls = styleClassOf({ thickness: styles.thickness[i], slant: styles.slant[i], width: styles.width[i] }, styleBins);
    ATTRIBUTES.forEach((a, k) => (bins[i * ATTRIBUTES.length + k] = cls[a]));
  }
  const nPrompts = DIGIT_PROMPTS.length;
  const both = new Float32Array((count + nPrompts) * E);
  both.set(embeddings);
  both.set(prompts, count * E);
  const weights = Float64Array.from({ length: count + nPrompts }, (_, r) => (r < count ? 1 : count / nPrompts));
  const digits = `the ${count.toLocaleString('en-GB')} held-out digits`;
  const pcas: Record<MapAxes, { pca: Pca; fittedOn: string }> = {
    digits: { pca: fitPca(embeddings, count, E, 2), fittedOn: digits },
    joint: { pca: fitPca(both, count + nPrompts, E, 2, weights), fittedOn: `${digits} and the ${nPrompts} prompts “the digit k” (weighing as much as the digits)` },
  };
  return { count, embedDim: E, embeddings, labels: Int32Array.from(test.labels.subarray(0, count)), images, bins, prompts, pcas };
}

/** The measured bins of gallery digit i as a StyleClass. */
function classOf(g: ClipGallery, i: number): StyleClass {
  const k = i * ATTRIBUTES.length;
  return { thickness: g.bins[k], slant: g.bins[k + 1], width: g.bins[k + 2] } as StyleClass;
}

/** Cosine similarity of every gallery embedding to the unit vector v (both unit length: a dot product). */
function cosines(g: ClipGallery, v: Float32Array): Float32Array {
  const E = g.embedDim;
  const out = new Float32Array(g.count);
  for (let i = 0; i < g.count; i++) {
    let s = 0;
    for (let j = 0; j < E; j++) s += g.embeddings[i * E + j] * v[j];
    out[i] = s;
  }
  return out;
}

/** What the tokenizer made of a caption, as the page receives it. */
export function captionTokens(caption: string): CaptionTokens {
  const t = tokenize(caption);
  return { tokens: t.tokens, ids: t.ids, unknown: t.unknown, truncated: t.truncated };
}

/** A measured style with its words under the model's bins. */
export function measured(x: Float32Array, bins: StyleBins): MeasuredStyle {
  const style = measureStyle(encodePixels(x));
  return { ...style, words: styleWordsOf(style, bins).words };
}

const point = (xy: Float64Array, i = 0): [number, number] => [xy[2 * i], xy[2 * i + 1]];

type Clean<K extends keyof ComputeApi> = ComputeApi[K]['clean'];
type Result<K extends keyof ComputeApi> = ComputeApi[K]['result'];

/** The handlers of clip.rank, clip.classify and clip.map (clean params in, plain data out). */
export function createClipHandlers(res: Resources) {
  /** The model and its gallery, loaded (once) on the current backend. */
  const both = async (name: string) => {
    const loaded = await res.clip(name);
    return { loaded, gallery: await res.clipGallery(name) };
  };

  return {
    rank: ({ model, caption, top }: Clean<'clip.rank'>): Promise<Result<'clip.rank'>> =>
      res.withFallback(async () => {
        const { loaded, gallery: g } = await both(model);
        const tokens = captionTokens(caption);
        const [text] = await readAll([tf.tidy(() => textEmbedding(loaded.clip, tf.tensor2d(tokens.ids, [1, CONTEXT_LENGTH], 'int32')))]);
        const similarities = cosines(g, text);
        const order = Array.from(g.labels.keys()).sort((a, b) => similarities[b] - similarities[a] || a - b);
        const indices = Int32Array.from(order.slice(0, top));
        const images = new Float32Array(indices.length * MNIST_PIXELS);
        indices.forEach((i, k) => images.set(g.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), k * MNIST_PIXELS));
        const spec = parseCaption(caption);
        const fitsAll = Uint8Array.from(g.labels, (label, i) => (spec && specMatches(spec, label, classOf(g, i)) ? 1 : 0));
        return {
          ...tokens,
          indices,
          images,
          labels: Int32Array.from(indices, (i) => g.labels[i]),
          scores: Float32Array.from(indices, (i) => similarities[i]),
          fits: Uint8Array.from(indices, (i) => fitsAll[i]),
          similarities,
          allLabels: g.labels.slice(),
          fitsAll,
          fitting: spec ? fitsAll.reduce((a, b) => a + b, 0) : null,
          modelName: loaded.metadata.name,
        };
      }),

    classify: ({ model, x, captions }: Clean<'clip.classify'>): Promise<Result<'clip.classify'>> =>
      res.withFallback(async () => {
        const { clip, metadata, styleBins } = await res.clip(model);
        const ids = tokenizeBatch(captions);
        const out = tf.tidy(() => {
          const image = encodeImage(clip, tf.tensor4d(x, [1, H, W, C]));
          const text = textEmbedding(clip, tf.tensor2d(ids, [captions.length, CONTEXT_LENGTH], 'int32'));
          return [similarity(image, text), matchProbabilities(clip, image, text), tf.exp(tf.minimum(clip.logitScale, MAX_LOGIT_SCALE))];
        });
        const [similarities, probabilities, scale] = await readAll(out);
        return {
          captions: captions.map(captionTokens),
          similarities,
          probabilities,
          scale: scale[0],
          style: measured(x, styleBins),
          modelName: metadata.name,
        };
      }),

    map: ({ model, caption, x, perClass, axes }: Clean<'clip.map'>): Promise<Result<'clip.map'>> =>
      res.withFallback(async () => {
        const { loaded, gallery: g } = await both(model);
        const { pca, fittedOn } = g.pcas[axes];
        const E = g.embedDim;
        const shown: number[] = [];
        const taken = new Int32Array(10);
        for (let i = 0; i < g.count; i++) if (taken[g.labels[i]]++ < perClass) shown.push(i);
        const chosen = new Float32Array(shown.length * E);
        shown.forEach((i, k) => chosen.set(g.embeddings.subarray(i * E, (i + 1) * E), k * E));
        const ids = tokenize(caption).ids;
        const out = tf.tidy(() => {
          const text = textEmbedding(loaded.clip, tf.tensor2d(ids, [1, CONTEXT_LENGTH], 'int32'));
          return x ? [text, encodeImage(loaded.clip, tf.tensor4d(x, [1, H, W, C]))] : [text];
        });
        const [text, image] = await readAll(out);
        let imageCaptionSimilarity: number | null = null;
        if (image) {
          imageCaptionSimilarity = 0;
          for (let j = 0; j < E; j++) imageCaptionSimilarity += image[j] * text[j];
        }
        return {
          points: Float32Array.from(projectPca(pca, chosen, shown.length)),
          labels: Int32Array.from(shown, (i) => g.labels[i]),
          indices: Int32Array.from(shown),
          prompts: Float32Array.from(projectPca(pca, g.prompts, DIGIT_PROMPTS.length)),
          caption: point(projectPca(pca, text, 1)),
          image: image ? point(projectPca(pca, image, 1)) : null,
          explained: [pca.explained[0], pca.explained[1]],
          fittedOn,
          imageCaptionSimilarity,
        };
      }),
  };
}
