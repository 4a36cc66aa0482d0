/**
 * Eval section `text2img`: the text-to-image pipeline (text2img-mnist with the frozen clip-mnist text encoder and
 * the latent-mnist autoencoder), sampled with DDIM (η = 0) at each guidance strength w:
 *
 * - digit: prompts "the digit k", `per` samples each — the share classifier-mnist reads as k, its mean confidence,
 *   and the within-prompt diversity (mean pairwise distance of the classifier's features among one prompt's samples);
 * - attributes: for each attribute word, prompts "a <word> <digit>" over the ten digits — the share of samples whose
 *   measured attribute (src/core/captions.ts, clip-mnist's tertile bins) falls in the prompted bin, and the share
 *   read as the prompted digit;
 * - CLIP score: the mean cosine similarity between each sample's clip-mnist image embedding and its prompt's;
 * - negative prompts (at w = `negW`): per word, the same prompts with the word itself as the negative prompt
 *   ("a bold seven", negative "bold"), and the attribute-free prompt "the digit k" with and without that negative.
 *
 * Options: ws=0,1,2,3,5,7.5  per=10 (samples per prompt)  steps=25  seed=2024  negW=3
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ATTRIBUTES, ATTRIBUTE_WORDS, DIGIT_WORDS, article, binOf, measureStyle, type Attribute, type StyleBins } from '../../src/core/captions';
import { encodeImage, type ClipModel } from '../../src/core/clip';
import { embed } from '../../src/core/classifier';
import { MNIST_PIXELS } from '../../src/core/data';
import { withinClassDiversity } from '../../src/core/metrics';
import { parseUNetMetadata, unetFromWeights } from '../../src/core/models';
import { makeSchedule } from '../../src/core/schedules';
import { countUNetParams } from '../../src/core/unet';
import { countClipParams } from '../../src/core/clip';
import { loadAutoencoderDir, toUint8Images } from '../jobs/_latent';
import { loadClipDir, samplePrompts, type TextPipeline } from '../jobs/text2img-mnist';
import { textEmbeddings } from '../lib/clipEval';
import { loadWeightsFromDir } from '../lib/weights-file';
import { markdownTable, type EvalContext, type EvalSection } from './common';

/** What one set of prompts measured. */
export interface PromptSetResult {
  samples: number;
  /** Share read by the classifier as the prompt's digit. */
  digitShare: number;
  meanConfidence: number;
  /** Share whose measured attribute is in the prompted bin (attribute prompts only). */
  binShare?: number;
  clipScore: number;
  diversity: number;
}

interface Prompted {
  text: string;
  digit: number;
  attribute?: Attribute;
  bin?: number;
}

/** Sample `per` images for every prompt and measure them. */
async function measure(ctx: EvalContext, p: TextPipeline, bins: StyleBins, prompts: Prompted[], opts: { w: number; per: number; steps: number; seed: number; negative?: string }): Promise<PromptSetResult> {
  const texts = prompts.flatMap((q) => new Array<string>(opts.per).fill(q.text));
  const x = await samplePrompts(p, texts, { w: opts.w, steps: opts.steps, seed: opts.seed, negative: opts.negative });
  const e = await embed(ctx.classifier, x);
  const imgEmb = tf.tidy(() => encodeImage(p.clip, x));
  const img = (await imgEmb.data()) as Float32Array;
  imgEmb.dispose();
  const pixels = await toUint8Images(x);
  x.dispose();
  const txt = await textEmbeddings(p.clip, prompts.map((q) => q.text));
  const dim = p.clip.config.embedDim;
  let digitOk = 0;
  let conf = 0;
  let inBin = 0;
  let clip = 0;
  const group = new Int32Array(texts.length);
  texts.forEach((_, i) => {
    const k = Math.floor(i / opts.per);
    const q = prompts[k];
    group[i] = k;
    if (e.predicted[i] === q.digit) digitOk++;
    conf += Math.max(...e.probs.subarray(i * 10, i * 10 + 10));
    if (q.attribute !== undefined && binOf(measureStyle(pixels, i * MNIST_PIXELS)[q.attribute], bins[q.attribute]) === q.bin) inBin++;
    for (let d = 0; d < dim; d++) clip += img[i * dim + d] * txt[k * dim + d];
  });
  const n = texts.length;
  const diversity = withinClassDiversity({ data: e.features, rows: n, cols: ctx.classifier.config.features }, group, prompts.length).mean;
  const out: PromptSetResult = { samples: n, digitShare: digitOk / n, meanConfidence: conf / n, clipScore: clip / n, diversity };
  if (prompts.some((q) => q.attribute !== undefined)) out.binShare = inBin / n;
  return out;
}

const digitPrompts = (): Prompted[] => DIGIT_WORDS.map((_, d) => ({ text: `the digit ${d}`, digit: d }));
const wordPrompts = (a: Attribute, b: number): Prompted[] => DIGIT_WORDS.map((word, d) => ({ text: `${article(ATTRIBUTE_WORDS[a][b])} ${ATTRIBUTE_WORDS[a][b]} ${word}`, digit: d, attribute: a, bin: b }));
const plainWithBin = (a: Attribute, b: number): Prompted[] => DIGIT_WORDS.map((_, d) => ({ text: `the digit ${d}`, digit: d, attribute: a, bin: b }));

export function loadTextPipeline(root: string): { pipeline: TextPipeline; bins: StyleBins; dispose(): void } {
  const dir = join(root, 'models', 'text2img-mnist');
  const { weights, metadata: raw } = loadWeightsFromDir(dir);
  const metadata = parseUNetMetadata(raw, dir);
  const unet = unetFromWeights(weights, metadata, dir);
  const { autoencoder, metadata: aeMeta } = loadAutoencoderDir(join(root, 'models', 'latent-mnist', 'autoencoder'));
  const { clip, bins } = loadClipDir(join(root, 'models', 'clip-mnist'));
  const pipeline: TextPipeline = { unet, clip: clip as ClipModel, autoencoder, latentScale: aeMeta.latentScale, schedule: makeSchedule(metadata.schedule.kind, metadata.schedule.T) };
  return { pipeline, bins, dispose: () => [unet, clip, autoencoder].forEach((m) => m.dispose()) };
}

const section: EvalSection = {
  name: 'text2img',
  title: 'text2img-mnist: prompted digits and styles by guidance strength, negative prompts',
  async run(ctx) {
    const ws = String(ctx.options.ws ?? '0,1,2,3,5,7.5').split(',').map(Number).filter(Number.isFinite);
    const per = Number(ctx.options.per ?? 10);
    const steps = Number(ctx.options.steps ?? 25);
    const seed = Number(ctx.options.seed ?? 2024);
    const negW = Number(ctx.options.negW ?? 3);
    const { pipeline, bins, dispose } = loadTextPipeline(ctx.root);
    try {
      const byW: Record<string, unknown> = {};
      for (const w of ws) {
        ctx.log(`text2img: w = ${w}`);
        const digits = await measure(ctx, pipeline, bins, digitPrompts(), { w, per, steps, seed });
        const words: Record<string, PromptSetResult> = {};
        for (const a of ATTRIBUTES) for (let b = 0; b < 3; b++) words[ATTRIBUTE_WORDS[a][b]] = await measure(ctx, pipeline, bins, wordPrompts(a, b), { w, per: Math.max(1, Math.round(per / 2)), steps, seed: seed + 1 });
        byW[String(w)] = { w, digits, words };
      }
      ctx.log(`text2img: negative prompts at w = ${negW}`);
      const negative: Record<string, unknown> = {};
      const per2 = Math.max(1, Math.round(per / 2));
      for (const a of ATTRIBUTES) {
        for (let b = 0; b < 3; b++) {
          const word = ATTRIBUTE_WORDS[a][b];
          const withWord = await measure(ctx, pipeline, bins, wordPrompts(a, b), { w: negW, per: per2, steps, seed: seed + 2 });
          const withWordNeg = await measure(ctx, pipeline, bins, wordPrompts(a, b), { w: negW, per: per2, steps, seed: seed + 2, negative: word });
          const plain = await measure(ctx, pipeline, bins, plainWithBin(a, b), { w: negW, per: per2, steps, seed: seed + 2 });
          const plainNeg = await measure(ctx, pipeline, bins, plainWithBin(a, b), { w: negW, per: per2, steps, seed: seed + 2, negative: word });
          negative[word] = {
            attribute: a,
            prompt: withWord.binShare,
            promptWithNegative: withWordNeg.binShare,
            plain: plain.binShare,
            plainWithNegative: plainNeg.binShare,
            digitShareWithNegative: withWordNeg.digitShare,
          };
        }
      }
      return {
        ws,
        samplesPerDigitPrompt: per,
        samplesPerWordPrompt: per2,
        steps,
        negW,
        byW,
        negative,
        params: { denoiser: countUNetParams(pipeline.unet.config), clipText: countClipParams(pipeline.clip.config).text },
        latentShape: pipeline.unet.config.inputShape,
        contextLength: pipeline.clip.config.contextLength,
      };
    } finally {
      dispose();
    }
  },
  format(r) {
    const byW = (r.byW ?? {}) as Record<string, { w: number; digits: PromptSetResult; words: Record<string, PromptSetResult> }>;
    const pct = (v: number | undefined) => (typeof v === 'number' ? `${(100 * v).toFixed(1)} %` : '—');
    const rows = Object.values(byW).map((row) => {
      const perAttr = ATTRIBUTES.map((a) => {
        const shares = ATTRIBUTE_WORDS[a].map((word) => row.words[word]?.binShare ?? NaN);
        return pct(shares.reduce((s, v) => s + v, 0) / shares.length);
      });
      return [String(row.w), pct(row.digits.digitShare), ...perAttr, row.digits.clipScore.toFixed(3), row.digits.diversity.toFixed(2)];
    });
    const neg = (r.negative ?? {}) as Record<string, { attribute: string; prompt: number; promptWithNegative: number; plain: number; plainWithNegative: number }>;
    return [
      markdownTable(['w', 'prompted digit', 'thickness in bin', 'slant in bin', 'width in bin', 'CLIP score', 'diversity'], rows),
      '',
      markdownTable(
        ['word', 'attribute', '“a <word> k”', '… negative <word>', '“the digit k”', '… negative <word>'],
        Object.entries(neg).map(([word, v]) => [word, v.attribute, pct(v.prompt), pct(v.promptWithNegative), pct(v.plain), pct(v.plainWithNegative)]),
      ),
    ].join('\n');
  },
};

export default section;
