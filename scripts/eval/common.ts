/**
 * Shared pieces of `npm run eval` (scripts/eval.ts): the section interface, the evaluation context (data,
 * the classifier-mnist ruler and its features of the 1,000 held-out digits), seeded batched sampling,
 * generated-digit metrics (MNIST-FD, class entropy, confidence) and the eval.json merge.
 *
 * A section is one file scripts/eval/<name>.ts default-exporting an `EvalSection`; its result is stored
 * under models/eval.json[<name>], deep-merged into what is there, so sections (or parts of one, chosen
 * with --set) can run in separate processes and be re-run alone.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { classifierFromWeights, embed, type Classifier } from '../../src/core/classifier';
import { MNIST_PIXELS, batchTensor, type MnistData, type Split } from '../../src/core/data';
import { classHistogram, classStatistics, entropy, featureStats, frechetDistance, type GaussianStats } from '../../src/core/metrics';
import { fork, makeNoise } from '../../src/core/noise';
import type { Denoiser, SampleOptions, Sampler, Schedule } from '../../src/core/types';
import { loadWeightsFromDir } from '../lib/weights-file';

export type EvalOptionValue = number | string | boolean;

/** What every section gets. */
export interface EvalContext {
  /** Repository root. */
  readonly root: string;
  readonly data: MnistData;
  /** classifier-mnist, loaded from models/classifier-mnist/. */
  readonly classifier: Classifier;
  /** The classifier's penultimate features of the 1,000 held-out digits and their Gaussian statistics. */
  readonly heldOut: { features: Float32Array; rows: number; cols: number; stats: GaussianStats };
  /** `--set key=value` options (section-specific, e.g. samples=1000, rows=ddpm). */
  readonly options: Record<string, EvalOptionValue>;
  /** The tfjs backend in use. */
  readonly backend: string;
  /** Folder for cached generated samples (.cache/eval). */
  readonly cacheDir: string;
  log(message: string): void;
}

/** One section of models/eval.json. */
export interface EvalSection {
  /** Key in eval.json and the CLI name (same as the file name). */
  name: string;
  /** One line for the printed report. */
  title: string;
  /** Compute the section's results (plain JSON); they are deep-merged into eval.json[name]. */
  run(ctx: EvalContext): Promise<Record<string, unknown>>;
  /**
   * Optional, after the result is merged: derive numbers that need the whole merged section (e.g. a
   * comparison of rows computed by different processes) and publish it (e.g. into a model card); the
   * returned object is merged too.
   */
  finish?(merged: Record<string, unknown>, ctx: EvalContext): Promise<Record<string, unknown> | void>;
  /** Markdown table(s) of the merged section result, for the console (and model cards). */
  format?(result: Record<string, unknown>): string;
}

/** Metrics of a set of generated digits, measured with classifier-mnist. */
export interface DigitMetrics {
  /** Number of generated digits. */
  count: number;
  /** Fréchet distance of classifier features: generated vs the 1,000 held-out digits. */
  fd: number;
  /** Entropy (nats) of the histogram of predicted classes; ln 10 = 2.3026 when perfectly even. */
  classEntropy: number;
  /** Mean max-softmax probability. */
  meanConfidence: number;
  /** Share of digits with max-softmax probability ≥ 0.9. */
  confidentShare: number;
  /** Inception-style score exp(E KL(p(y|x) ‖ p(y))), at most 10. */
  classScore: number;
  /** Share of digits classified as the class they were conditioned on (conditional sampling only). */
  conditionAccuracy?: number;
  /** Fraction of digits per predicted class. */
  histogram: number[];
}

/** Deep-merge plain objects (arrays and other values are replaced). */
export function deepMerge(base: unknown, patch: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(base) || !isObj(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = k in out ? deepMerge(out[k], v) : v;
  return out;
}

/** Read eval.json (empty object when absent). */
export function readEvalJson(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
}

/**
 * Merge `result` into eval.json[key] (re-read just before writing; atomic rename); returns the merged section.
 * A result for other weights (its `weightsCrc` differs from the stored one) replaces the section instead, so rows
 * measured on older weights never sit next to new ones.
 */
export function mergeEvalJson(file: string, key: string, result: Record<string, unknown>): Record<string, unknown> {
  const all = readEvalJson(file);
  const previous = (all[key] ?? {}) as Record<string, unknown>;
  const sameWeights = previous.weightsCrc === undefined || result.weightsCrc === undefined || previous.weightsCrc === result.weightsCrc;
  const merged = (sameWeights ? deepMerge(previous, result) : result) as Record<string, unknown>;
  all[key] = merged;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file + '.tmp', JSON.stringify(all, null, 1) + '\n');
  renameSync(file + '.tmp', file);
  return merged;
}

/** Load classifier-mnist from models/classifier-mnist/ (the caller disposes it). */
export function loadClassifierFromDir(dir: string): Classifier {
  const { weights, metadata } = loadWeightsFromDir(dir);
  return classifierFromWeights(weights, metadata, join(dir, 'model.json'));
}

/** Classifier outputs of images given as floats in [−1, 1] ([n·784], NHWC order). */
export async function embedImages(clf: Classifier, images: Float32Array, n: number) {
  const x = tf.tensor4d(images, [n, 28, 28, 1]);
  try {
    return await embed(clf, x);
  } finally {
    x.dispose();
  }
}

/** The classifier's features of the held-out split (all 1,000 digits). */
export async function heldOutFeatures(clf: Classifier, test: Split): Promise<EvalContext['heldOut']> {
  const idx = Int32Array.from({ length: test.count }, (_, i) => i);
  const x = batchTensor(test, idx);
  const e = await embed(clf, x);
  x.dispose();
  const m = { features: e.features, rows: test.count, cols: e.dim };
  return { ...m, stats: featureStats({ data: m.features, rows: m.rows, cols: m.cols }) };
}

/** MNIST-FD and class statistics of generated digits (floats in [−1, 1]); `conditionedOn` gives per-digit target classes. */
export async function digitMetrics(ctx: Pick<EvalContext, 'classifier' | 'heldOut'>, images: Float32Array, n: number, conditionedOn?: ArrayLike<number>): Promise<DigitMetrics> {
  const e = await embedImages(ctx.classifier, images, n);
  const fd = frechetDistance({ data: e.features, rows: n, cols: e.dim }, ctx.heldOut.stats);
  const hist = classHistogram(e.predicted, 10);
  let conf = 0;
  let confident = 0;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let k = 0; k < 10; k++) m = Math.max(m, e.probs[i * 10 + k]);
    conf += m;
    if (m >= 0.9) confident++;
    if (conditionedOn && e.predicted[i] === conditionedOn[i]) hits++;
  }
  const stats = classStatistics({ data: e.probs, rows: n, cols: 10 });
  return {
    count: n,
    fd,
    classEntropy: entropy(hist),
    meanConfidence: conf / n,
    confidentShare: confident / n,
    classScore: stats.score,
    ...(conditionedOn ? { conditionAccuracy: hits / n } : {}),
    histogram: Array.from(hist),
  };
}

/**
 * The sample-size floor of MNIST-FD: FD between `n` training digits (a seeded random choice) and the
 * 1,000 held-out digits; a perfect generator would score about this with n samples.
 */
export async function realDigitFloor(ctx: Pick<EvalContext, 'classifier' | 'heldOut' | 'data'>, n: number, seed = 7): Promise<number> {
  const rng = makeNoise(seed);
  const u = rng.normalArray(ctx.data.train.count);
  const order = Int32Array.from({ length: ctx.data.train.count }, (_, i) => i).sort((a, b) => u[a] - u[b]);
  const x = batchTensor(ctx.data.train, order.subarray(0, n));
  const e = await embed(ctx.classifier, x);
  x.dispose();
  return frechetDistance({ data: e.features, rows: n, cols: e.dim }, ctx.heldOut.stats);
}

export interface SampleManyOptions {
  sampler: Sampler;
  schedule: Schedule;
  /** Builds the denoiser for batch `b` (e.g. conditioned on that batch's classes). */
  denoiser: (batch: number, size: number) => Denoiser;
  /** x_T shape without the batch dimension. */
  shape: [number, number, number];
  count: number;
  batchSize: number;
  /** Batch b uses makeNoise(fork(seed, b)) for x_T and then for z: the same x_T for every setting with this seed. */
  seed: number;
  sampleOptions: Omit<SampleOptions, 'noise'>;
  /** Map the sampler's output (e.g. decode latents) before reading back; the caller's tensor is disposed here. */
  decode?: (x0: tf.Tensor4D) => tf.Tensor4D;
  onBatch?: (done: number, total: number) => void;
  /** Checked before each batch: when it returns true, stop and return the digits made so far (fewer than count). */
  shouldStop?: () => boolean;
  /** Cache each finished batch as <cacheDir>/<cacheKey>-b<b>.f32 and reuse it, so an interrupted run resumes. */
  cache?: { dir: string; key: string };
}

/**
 * Run a sampler over `count` samples in batches with seeded noise; returns the outputs as floats (NHWC),
 * fewer than `count` only when `shouldStop` ended the run early. Leaves no tensors behind.
 */
export async function sampleMany(o: SampleManyOptions): Promise<Float32Array> {
  const chunks: Float32Array[] = [];
  for (let b = 0, done = 0; done < o.count; b++) {
    const size = Math.min(o.batchSize, o.count - done);
    const batchKey = o.cache ? `${o.cache.key}-b${b}` : '';
    const hit = o.cache ? cachedSamples(o.cache.dir, batchKey, -1) : null;
    if (hit && hit.length > 0 && (o.decode ? hit.length % size === 0 : hit.length === size * o.shape[0] * o.shape[1] * o.shape[2])) {
      chunks.push(hit);
      done += size;
      o.onBatch?.(done, o.count);
      continue;
    }
    if (o.shouldStop?.()) break;
    const noise = makeNoise(fork(o.seed, b));
    const xT = noise.normal([size, ...o.shape]) as tf.Tensor4D;
    let x0: tf.Tensor4D;
    try {
      x0 = await o.sampler(o.denoiser(b, size), xT, o.schedule, { ...o.sampleOptions, noise });
    } finally {
      xT.dispose();
    }
    const out = o.decode ? tf.tidy(() => o.decode!(x0)) : x0;
    const values = Float32Array.from(await out.data());
    chunks.push(values);
    if (out !== x0) out.dispose();
    x0.dispose();
    if (o.cache) saveSamples(o.cache.dir, batchKey, values);
    done += size;
    o.onBatch?.(done, o.count);
  }
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const all = new Float32Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return all;
}

/** Cached float32 samples, or null when absent or of another length (expectedLength −1: any length). */
export function cachedSamples(cacheDir: string, key: string, expectedLength: number): Float32Array | null {
  const file = join(cacheDir, `${key}.f32`);
  if (!existsSync(file)) return null;
  const b = readFileSync(file);
  if (expectedLength >= 0 && b.byteLength !== expectedLength * 4) return null;
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function saveSamples(cacheDir: string, key: string, data: Float32Array): void {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, `${key}.f32`);
  writeFileSync(file + '.tmp', new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  renameSync(file + '.tmp', file);
}

/** A markdown table. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const cell = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : 3)) : v);
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** A comma-separated --set option as trimmed strings, or the fallback when it is absent. */
export function optionList(v: unknown, fallback: readonly (number | string)[]): string[] {
  return v === undefined ? fallback.map(String) : String(v).split(',').map((s) => s.trim()).filter(Boolean);
}

/** Pixels per MNIST digit (re-exported for sections). */
export const PIXELS = MNIST_PIXELS;
