/**
 * Eval section `latent`: the latent diffusion model models/latent-mnist/ — our version of the
 * classifier-free guidance trade-off (Ho & Salimans 2022, Table 1 / Fig. 4). For each guidance strength w
 * (ε̃ = (1 + w) ε(z, c) − w ε(z, ∅); Stable Diffusion's scale s = 1 + w) it samples `perClass` digits of every
 * class with DDIM (η = 0, `steps` steps; every w starts batch b from the same x_T = makeNoise(fork(seed, b))),
 * decodes them, and measures with classifier-mnist: the share classified as the requested digit, MNIST-FD per
 * class (features of the generated digits of class c vs the 100 held-out digits of class c), and within-class
 * feature diversity. Also the autoencoder's reconstruction error on the 1,000 held-out digits and the
 * classifier's accuracy on reconstructions (the ceiling the decoder sets).
 *
 * Options (--set key=value):
 *   ws=0,0.5,1,2,3,5,7.5   guidance strengths to (re)compute
 *   perClass=50            generated digits per class and w
 *   steps=50, batch=250, seed=1
 *   model=models/latent-mnist (folder with autoencoder/ and denoiser/), card=true (write <model>/README.md); card=only
 *                          samples and measures nothing: it re-renders the card from what models/eval.json holds
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { decodeScaled, encodeScaled, loadLatentModel, type LatentModel } from '../../src/core/autoencoder';
import { crc32, type Split } from '../../src/core/data';
import { classifierFreeGuidance, conditioned, scaleFromW } from '../../src/core/guidance';
import { featureStats, frechetDistance, withinClassDiversity, type GaussianStats } from '../../src/core/metrics';
import { makeNoise } from '../../src/core/noise';
import { samplers } from '../../src/core/samplers';
import { embed } from '../../src/core/classifier';
import { batchTensor } from '../../src/core/data';
import { fileFetch } from '../jobs/_latent';
import { reconstructionReport } from '../jobs/latent-mnist-ae';
import { guidanceTable, pct, reconstructionTable, renderLatentCard, type GuidanceRow } from './latentCard';
import { cachedSamples, digitMetrics, embedImages, PIXELS, realDigitFloor, sampleMany, saveSamples, type EvalContext, type EvalSection } from './common';

export const DEFAULT_WS = [0, 0.5, 1, 2, 3, 5, 7.5] as const;
/** A reference level recorded in eval.json (key `targets`): the share of requested digits at w ≥ 2 it compares with. */
export const TARGET_SHARE = 0.95;

/** Requested class of generated digit i: balanced in every batch. */
export const classOf = (i: number) => i % 10;

function rowsOfClass(features: Float32Array, dim: number, labels: ArrayLike<number>, c: number): { data: Float32Array; rows: number; cols: number } {
  const idx: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] === c) idx.push(i);
  const data = new Float32Array(idx.length * dim);
  idx.forEach((i, r) => data.set(features.subarray(i * dim, (i + 1) * dim), r * dim));
  return { data, rows: idx.length, cols: dim };
}

/** Real-vs-real floor of the per-class FD: n seeded-random training digits of class c vs the held-out digits of c, per class. */
async function perClassFloor(ctx: EvalContext, classStats: GaussianStats[], n: number, seed = 11): Promise<number[]> {
  const train: Split = ctx.data.train;
  const u = makeNoise(seed).normalArray(train.count);
  const out: number[] = [];
  for (let c = 0; c < 10; c++) {
    const idx = Array.from({ length: train.count }, (_, i) => i)
      .filter((i) => train.labels[i] === c)
      .sort((a, b) => u[a] - u[b])
      .slice(0, n);
    const x = batchTensor(train, idx);
    const e = await embed(ctx.classifier, x);
    x.dispose();
    out.push(frechetDistance({ data: e.features, rows: idx.length, cols: e.dim }, classStats[c]));
  }
  return out;
}

/**
 * Where the quality is lost: (1) the decoder's robustness — classifier accuracy on decode(z_s + σ ε) of the held-out
 * digits' scaled latents; (2) the denoiser's one-step x̂_0 = (z_t − √(1−ᾱ_t) ε̂)/√ᾱ_t from noised real latents with
 * their true labels (eq. 15 of Ho et al.), decoded and classified, and its ε-MSE at that t.
 */
async function diagnostics(ctx: EvalContext, model: LatentModel, seed: number) {
  const test = ctx.data.test;
  const n = test.count;
  const labels = Array.from(test.labels);
  const x = batchTensor(test, Array.from({ length: n }, (_, i) => i));
  const z = encodeScaled(model, x);
  x.dispose();
  const noise = makeNoise(seed + 100);
  const accuracyOf = async (zs: tf.Tensor4D) => {
    const img = decodeScaled(model, zs);
    const e = await embed(ctx.classifier, img);
    img.dispose();
    let ok = 0;
    for (let i = 0; i < n; i++) if (e.predicted[i] === labels[i]) ok++;
    return ok / n;
  };
  const decoderRobustness: { sigma: number; accuracy: number }[] = [];
  for (const sigma of [0, 0.25, 0.5, 1]) {
    const eps = noise.normal(z.shape) as tf.Tensor4D;
    const zs = tf.tidy(() => tf.add(z, tf.mul(eps, sigma)) as tf.Tensor4D);
    decoderRobustness.push({ sigma, accuracy: await accuracyOf(zs) });
    tf.dispose([eps, zs]);
  }
  const oneStep: { t: number; epsMse: number; x0PredAccuracy: number }[] = [];
  const classes = tf.tensor1d(labels, 'int32');
  for (const t of [100, 300, 500, 700, 900]) {
    const ab = model.schedule.alphaBar[t];
    const eps = noise.normal(z.shape) as tf.Tensor4D;
    const [x0Pred, mse] = tf.tidy(() => {
      const zt = tf.add(tf.mul(z, Math.sqrt(ab)), tf.mul(eps, Math.sqrt(1 - ab))) as tf.Tensor4D;
      const epsHat = model.unet.model(zt, tf.fill([n], t, 'int32') as tf.Tensor1D, classes);
      return [tf.div(tf.sub(zt, tf.mul(epsHat, Math.sqrt(1 - ab))), Math.sqrt(ab)) as tf.Tensor4D, tf.mean(tf.squaredDifference(epsHat, eps))];
    });
    oneStep.push({ t, epsMse: (await mse.data())[0], x0PredAccuracy: await accuracyOf(x0Pred) });
    tf.dispose([eps, x0Pred, mse]);
  }
  tf.dispose([classes, z]);
  return {
    decoderRobustness,
    decoderRobustnessNote: 'classifier accuracy on decode(z_s + σ ε) for the 1,000 held-out digits (z_s = scaled latents, unit variance)',
    oneStep,
    oneStepNote: 'held-out latents noised to t, one ε̂ with the true label, x̂_0 decoded and classified; ε-MSE at that t',
  };
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

function fileCrc(dir: string): string {
  return (crc32(new Uint8Array(readFileSync(join(dir, 'weights.bin')))) >>> 0).toString(16).padStart(8, '0');
}

const section: EvalSection = {
  name: 'latent',
  title: 'latent-mnist: classifier-free guidance trade-off (Ho & Salimans 2022) and the autoencoder ceiling',
  async run(ctx: EvalContext) {
    const o = ctx.options;
    if (o.card === 'only') return {}; // nothing measured: finish() re-renders the card from eval.json
    const dirOpt = String(o.model ?? 'models/latent-mnist');
    const dir = isAbsolute(dirOpt) ? dirOpt : join(ctx.root, dirOpt);
    const ws = o.ws === undefined ? [...DEFAULT_WS] : String(o.ws).split(',').map(Number);
    if (ws.some((w) => !Number.isFinite(w) || w < 0)) throw new Error(`ws must be numbers ≥ 0, got ${o.ws}`);
    const perClass = Number(o.perClass ?? 50);
    const steps = Number(o.steps ?? 50);
    const batchSize = Number(o.batch ?? 250);
    const seed = Number(o.seed ?? 1);
    const count = 10 * perClass;
    const model: LatentModel = await loadLatentModel(pathToFileURL(dir).href, fileFetch);
    const crc = `${fileCrc(join(dir, 'autoencoder'))}-${fileCrc(join(dir, 'denoiser'))}`;
    const dim = ctx.heldOut.cols;
    const testLabels = ctx.data.test.labels;
    const classStats = Array.from({ length: 10 }, (_, c) => featureStats(rowsOfClass(ctx.heldOut.features, dim, testLabels, c)));
    const nullClass = model.unet.config.numClasses;
    const guidance: Record<string, GuidanceRow> = {};
    let reconstruction: Record<string, unknown>;
    let diag: Awaited<ReturnType<typeof diagnostics>> | undefined;
    try {
      ctx.log('reconstructions of the 1,000 held-out digits');
      const r = await reconstructionReport((x) => tf.tidy(() => decodeScaled(model, encodeScaled(model, x))), ctx.data.test, ctx.data.test.count, ctx.classifier);
      reconstruction = {
        count: ctx.data.test.count,
        mse: r.mse,
        psnrDb: 10 * Math.log10(4 / r.mse),
        perClassMse: r.perClassMse,
        accuracyOriginal: r.accOriginal,
        accuracyReconstructed: r.accReconstructed,
        note: 'MSE on pixels in [−1, 1]; accuracy of classifier-mnist on the originals vs on decode(encode(x)): the ceiling the decoder sets',
      };
      if (o.diagnostics !== false) {
        ctx.log('diagnostics: decoder robustness and one-step x̂_0 from noised held-out latents');
        diag = await diagnostics(ctx, model, seed);
      }
      for (const w of ws) {
        const key = `w=${w}`;
        const cacheKey = `latent-${crc}-w${w}-n${count}-s${seed}-b${batchSize}-st${steps}`;
        const metaFile = join(ctx.cacheDir, `${cacheKey}.json`);
        let images = cachedSamples(ctx.cacheDir, cacheKey, count * PIXELS);
        let seconds = 0;
        if (images && existsSync(metaFile)) {
          seconds = (JSON.parse(readFileSync(metaFile, 'utf8')) as { seconds: number }).seconds;
          ctx.log(`${key}: ${count} cached digits`);
        } else {
          const t0 = performance.now();
          images = await sampleMany({
            sampler: samplers.ddim,
            schedule: model.schedule,
            denoiser: (b, size) => {
              const classes = Array.from({ length: size }, (_, j) => classOf(b * batchSize + j));
              // w = 0 is the plain conditional model: no unconditional half.
              return w === 0 ? conditioned(model.unet.model, classes) : classifierFreeGuidance(model.unet.model, { classes, w, nullClass });
            },
            shape: [...model.unet.config.inputShape] as [number, number, number],
            count,
            batchSize,
            seed,
            sampleOptions: { steps, eta: 0 },
            decode: (z0) => decodeScaled(model, z0),
            onBatch: (done, total) => ctx.log(`${key}: ${done}/${total} digits, ${((performance.now() - t0) / 1000).toFixed(0)} s`),
          });
          seconds = (performance.now() - t0) / 1000;
          saveSamples(ctx.cacheDir, cacheKey, images);
          writeFileSync(metaFile, JSON.stringify({ seconds }));
        }
        const labels = Int32Array.from({ length: count }, (_, i) => classOf(i));
        const e = await embedImages(ctx.classifier, images, count);
        const overall = await digitMetrics(ctx, images, count, labels);
        const perClassShare: number[] = [];
        const perClassFd: number[] = [];
        for (let c = 0; c < 10; c++) {
          let hit = 0;
          let n = 0;
          for (let i = 0; i < count; i++) {
            if (labels[i] !== c) continue;
            n++;
            if (e.predicted[i] === c) hit++;
          }
          perClassShare.push(hit / n);
          perClassFd.push(frechetDistance(rowsOfClass(e.features, e.dim, labels, c), classStats[c]));
        }
        const div = withinClassDiversity({ data: e.features, rows: count, cols: e.dim }, labels);
        guidance[key] = {
          w,
          s: scaleFromW(w),
          count,
          perClassCount: perClass,
          share: overall.conditionAccuracy ?? NaN,
          perClassShare,
          perClassFd,
          meanClassFd: mean(perClassFd),
          overallFd: overall.fd,
          diversity: div.mean,
          perClassDiversity: Array.from(div.perClass),
          meanConfidence: overall.meanConfidence,
          seconds,
        };
        ctx.log(`${key}: requested digit ${pct(guidance[key].share)}, mean per-class FD ${guidance[key].meanClassFd.toFixed(2)}, diversity ${div.mean.toFixed(2)}, ${seconds.toFixed(0)} s`);
      }
    } finally {
      model.dispose();
    }
    const floor = await perClassFloor(ctx, classStats, perClass);
    const realDiversity = withinClassDiversity({ data: ctx.heldOut.features, rows: ctx.heldOut.rows, cols: dim }, testLabels);
    return {
      model: dirOpt,
      weightsCrc: crc,
      sampler: { name: 'ddim', steps, eta: 0 },
      seed,
      batchSize,
      perClass,
      guidanceConvention: 'Ho & Salimans 2022: eps~ = (1 + w) eps(z, c) - w eps(z, null); Stable Diffusion scale s = 1 + w',
      reconstruction,
      fdFloorPerClass: floor,
      fdFloorMean: mean(floor),
      fdFloorNote: `per-class MNIST-FD of ${perClass} seeded-random training digits of class c vs the 100 held-out digits of c: what a perfect generator would score with ${perClass} digits per class`,
      fdOverallFloor: await realDigitFloor(ctx, count),
      realDiversity: realDiversity.mean,
      realDiversityNote: 'within-class feature diversity of the 1,000 held-out digits (true labels)',
      guidance,
      ...(diag ? { diagnostics: diag } : {}),
    };
  },
  async finish(merged, ctx) {
    const g = (merged.guidance ?? {}) as Record<string, GuidanceRow>;
    const strong = Object.values(g).filter((r) => r.w >= 2);
    const target = {
      target: `at w ≥ 2, ≥ ${100 * TARGET_SHARE} % of samples classified as the requested digit`,
      values: Object.fromEntries(strong.map((r) => [`w=${r.w}`, r.share])),
      met: strong.length > 0 && strong.every((r) => r.share >= TARGET_SHARE),
    };
    const patch = { targets: { requestedDigitAtW2Plus: target } };
    if (ctx.options.card !== false) {
      const dirOpt = String(merged.model ?? 'models/latent-mnist');
      const dir = isAbsolute(dirOpt) ? dirOpt : join(ctx.root, dirOpt);
      // The card lists the folder's files, itself included: write it twice so its own size is right.
      for (let i = 0; i < 2; i++) writeFileSync(join(dir, 'README.md'), renderLatentCard({ ...merged, ...patch }, dir));
      ctx.log(`wrote ${join(dir, 'README.md')}`);
    }
    return patch;
  },
  format: (result) => guidanceTable(result) + '\n\n' + reconstructionTable(result),
};

/** The trade-off table. */
export default section;
