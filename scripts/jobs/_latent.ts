/** Helpers shared by the latent-mnist jobs and their evaluation (Node-only; not a job: the name starts with '_'). */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { autoencoderFromWeights, parseAutoencoderMetadata, type Autoencoder, type AutoencoderMetadata } from '../../src/core/autoencoder';
import { parseUNetMetadata, unetFromWeights, type UNetMetadata } from '../../src/core/models';
import { makeSchedule } from '../../src/core/schedules';
import type { Schedule } from '../../src/core/types';
import type { UNet } from '../../src/core/unet';
import { classifierFromWeights, type Classifier } from '../../src/core/classifier';
import { batchTensor, range, type SeededRandom, type Split } from '../../src/core/data';
import { encodePixels } from '../../src/core/mnistFormat';
import { assignWeights, decodeWeights, encodeWeights, weightsFromTensors, type NamedWeights } from '../../src/core/io';
import { loadWeightsFromDir } from '../lib/weights-file';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Where the two stages ship: models/latent-mnist/{autoencoder,denoiser}/. */
export const LATENT_MODEL_DIR = join(ROOT, 'models', 'latent-mnist');
export const CLASSIFIER_DIR = join(ROOT, 'models', 'classifier-mnist');

/** n standard normals from a SeededRandom by Box–Muller (no cached spare, so the stream state is one uint32). */
export function normals(rng: SeededRandom, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const theta = 2 * Math.PI * rng.next();
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/** The values float16 storage will give back (what ships), by encoding and decoding once. */
export function roundTripFloat16(weights: NamedWeights, minQuantizeSize = 1024): NamedWeights {
  const { modelJson, weightData } = encodeWeights(weights, { quantize: 'float16', minQuantizeSize });
  return decodeWeights(modelJson, weightData, 'float16 round trip').weights;
}

/** Load a saved autoencoder folder (model.json + weights.bin) from disk. */
export function loadAutoencoderDir(dir: string): { autoencoder: Autoencoder; metadata: AutoencoderMetadata } {
  const { weights, metadata: raw } = loadWeightsFromDir(dir);
  const source = join(dir, 'model.json');
  const metadata = parseAutoencoderMetadata(raw, source);
  return { autoencoder: autoencoderFromWeights(weights, metadata, source), metadata };
}

/** Load a saved U-Net folder (model.json + weights.bin) from disk with its schedule and metadata; the caller disposes unet. */
export function loadUNetDir(dir: string): { unet: UNet; schedule: Schedule; metadata: UNetMetadata } {
  const { weights, metadata: raw } = loadWeightsFromDir(dir);
  const source = join(dir, 'model.json');
  const metadata = parseUNetMetadata(raw, source);
  return { unet: unetFromWeights(weights, metadata, source), schedule: makeSchedule(metadata.schedule.kind, metadata.schedule.T), metadata };
}

/** Load the trained MNIST classifier (the ruler) from models/classifier-mnist/. */
export function loadClassifierDir(dir = CLASSIFIER_DIR): Classifier {
  const { weights, metadata } = loadWeightsFromDir(dir);
  return classifierFromWeights(weights, metadata, join(dir, 'model.json'));
}

/** Images in [−1, 1] (NHWC, one channel) → uint8 with white = 255 for a PNG grid. */
export async function toUint8Images(x: tf.Tensor4D): Promise<Uint8Array> {
  return encodePixels(await x.data());
}

/** Mean over all elements of (a − b)² for two equally long arrays. */
export function meanSquaredError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s / a.length;
}

/** Linear warm-up then cosine decay to finalLrFraction · peak. */
export function warmupCosine(step: number, steps: number, peak: number, warmupSteps: number, finalLrFraction: number): number {
  if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const p = (step - warmupSteps) / Math.max(1, steps - warmupSteps);
  return peak * (finalLrFraction + (1 - finalLrFraction) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, p))));
}

/** fetch over the local file system for `file://` URLs (Node's fetch has none), so the browser loaders run on disk folders. */
export const fileFetch = (async (input: string | URL | Request) => {
  const { existsSync, readFileSync } = await import('node:fs');
  const path = fileURLToPath(String(input));
  if (!existsSync(path)) return new Response('not found', { status: 404, statusText: 'Not Found' });
  return new Response(new Uint8Array(readFileSync(path)));
}) as typeof fetch;

/** A split's digits encoded once by the autoencoder and multiplied by latentScale: [count × h·w·c] floats (NHWC rows). */
export async function encodeSplitLatents(autoencoder: Autoencoder, latentScale: number, split: Split, perLatent: number): Promise<Float32Array> {
  const latents = new Float32Array(split.count * perLatent);
  for (let s = 0; s < split.count; s += 500) {
    const x = batchTensor(split, range(Math.min(500, split.count - s), s));
    const z = tf.tidy(() => tf.mul(autoencoder.encode(x), latentScale));
    latents.set(await z.data(), s * perLatent);
    x.dispose();
    z.dispose();
  }
  return latents;
}

/**
 * An exponential moving average of a model's parameters, as the latent jobs keep it: a non-trainable copy of each
 * parameter, checkpointed under `ema/<name>`, updated after every step with decay min(decay, (1 + step)/(10 + step)),
 * and shipped in float16 (the model's own parameters take the shipped values, so evaluation measures what ships).
 */
export function emaShadow(params: Record<string, tf.Variable>, decay: number) {
  const ema: Record<string, tf.Variable> = {};
  for (const [k, v] of Object.entries(params)) {
    const copy = v.clone();
    ema[k] = tf.variable(copy, false);
    copy.dispose();
  }
  return {
    /** The shadow as the trainer checkpoints it. */
    extraState: Object.fromEntries(Object.entries(ema).map(([k, v]) => [`ema/${k}`, v])),
    /** Fold the parameters after step `step` into the average. */
    update(step: number): void {
      const d = Math.min(decay, (1 + step) / (10 + step));
      tf.tidy(() => {
        for (const [k, v] of Object.entries(params)) ema[k].assign(tf.add(tf.mul(ema[k], d), tf.mul(v, 1 - d)));
      });
    },
    /** The average rounded to float16, also assigned to the parameters. */
    async exportWeights(source: string): Promise<NamedWeights> {
      const weights = roundTripFloat16(await weightsFromTensors(ema));
      assignWeights(params, weights, source);
      return weights;
    },
    dispose(): void {
      for (const v of Object.values(ema)) v.dispose();
    },
  };
}
