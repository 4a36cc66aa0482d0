/**
 * Build-time only (Astro frontmatter, Node): read the numbers that training and evaluation write to models/.
 * A missing file or key never fails the build: the caller renders "—" and the build log gets one warning.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { builtMnist } from '../../lib/staticDigits';
import { countClipParams, validateClipConfig, type ClipConfig } from '../../core/clip';
import { countUNetParams, MNIST_UNET_CONFIG, type UNetConfig } from '../../core/unet';
import { crossAttentionParams, getPath, manifestParamCount, pixelStats, totalParams, unetParamBreakdown } from './values';

const cache = new Map<string, unknown>();
const warned = new Set<string>();

/** console.warn once per message (a value used on several pages warns once). */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(`[lesson values] ${message}`);
}

/** Parsed JSON of a file relative to the project root, or undefined (with a warning) when missing or invalid. */
export function readJson(relPath: string): unknown {
  if (cache.has(relPath)) return cache.get(relPath);
  const file = resolve(process.cwd(), relPath);
  let value: unknown;
  if (!existsSync(file)) {
    warnOnce(`${relPath} does not exist yet; its values render as —`);
  } else {
    try {
      value = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      warnOnce(`${relPath} is not valid JSON (${(e as Error).message}); its values render as —`);
    }
  }
  cache.set(relPath, value);
  return value;
}

/** A value at a dotted path in a JSON file, or undefined (with a warning) when the file or key is missing. */
export function jsonValue(relPath: string, path: string): unknown {
  const root = readJson(relPath);
  if (root === undefined) return undefined;
  const v = getPath(root, path);
  if (v === undefined) warnOnce(`${relPath} has no key "${path}"; it renders as —`);
  return v;
}

/** The U-Net configuration the shipped model was trained with (models/unet-mnist/config.json), else MNIST_UNET_CONFIG. */
export function shippedUNetConfig(): { config: UNetConfig; source: 'models/unet-mnist/config.json' | 'MNIST_UNET_CONFIG' } {
  const rel = 'models/unet-mnist/config.json';
  if (!existsSync(resolve(process.cwd(), rel))) return { config: MNIST_UNET_CONFIG, source: 'MNIST_UNET_CONFIG' };
  const c = unetConfigFrom(getPath(readJson(rel), 'metadata.config'));
  if (!c) {
    warnOnce(`${rel} has no usable metadata.config; using MNIST_UNET_CONFIG`);
    return { config: MNIST_UNET_CONFIG, source: 'MNIST_UNET_CONFIG' };
  }
  return { config: c, source: rel };
}

/** The shipped models a parameter count on the site may name: folders under models/ holding a model.json. */
export const SHIPPED_MODELS = ['unet-mnist', 'latent-mnist/denoiser', 'latent-mnist/autoencoder', 'classifier-mnist', 'clip-mnist', 'text2img-mnist', 'controlnet-mnist', 'flow-mnist', 'consistency-mnist'] as const;
export type ShippedModel = (typeof SHIPPED_MODELS)[number];

/** A U-Net configuration from a model.json's userDefinedMetadata.config, or null when it is not one. */
function unetConfigFrom(c: unknown): UNetConfig | null {
  const u = c as Partial<UNetConfig> | undefined;
  const ok =
    u !== undefined &&
    u !== null &&
    Array.isArray(u.inputShape) &&
    Array.isArray(u.channels) &&
    typeof u.numResBlocks === 'number' &&
    typeof u.attention === 'boolean' &&
    typeof u.tembDim === 'number' &&
    typeof u.groups === 'number' &&
    typeof u.numClasses === 'number';
  return ok ? (u as UNetConfig) : null;
}

/** A CLIP configuration from a model.json's userDefinedMetadata.config, or null when it is not one. */
function clipConfigFrom(c: unknown): ClipConfig | null {
  const u = c as Partial<ClipConfig> | undefined;
  if (u === undefined || u === null || typeof u !== 'object' || !('vocabSize' in u) || !('imageChannels' in u)) return null;
  try {
    validateClipConfig(u as ClipConfig);
    return u as ClipConfig;
  } catch {
    return null;
  }
}

/** The parts a CLIP's count can be split into (countClipParams of src/core/clip.ts). */
export const CLIP_PARTS = ['text', 'image', 'tokenEmbedding', 'positionEmbedding', 'textBlocks', 'textHead', 'logitScale'] as const;

/**
 * The parameter count of a shipped model, read from models/<model>/model.json: the whole network (the values its
 * weights file holds), or one part of a U-Net (unetParamBreakdown of the config stored in the same file) or of a
 * CLIP (countClipParams: 'text', 'image', …), checked to add up to the file's count; 'xattn' is every cross-attention
 * layer of a text-conditioned U-Net together (crossAttentionParams). Null (with a warning) when the
 * file is missing; a part of something that is neither, an unknown part, or a config that disagrees with the
 * weights fails the build: those are mistakes.
 */
export function shippedParamCount(model: ShippedModel, part?: string): number | null {
  if (!(SHIPPED_MODELS as readonly string[]).includes(model)) throw new Error(`no shipped model "${model}" (${SHIPPED_MODELS.join(', ')})`);
  const rel = `models/${model}/model.json`;
  const json = readJson(rel);
  if (json === undefined) return null;
  const total = manifestParamCount(json);
  if (part === undefined) return total;
  const stored = getPath(json, 'userDefinedMetadata.config');
  const clip = clipConfigFrom(stored);
  if (clip) {
    const counts = countClipParams(clip);
    if (counts.total !== total) throw new Error(`${rel}: its config counts ${counts.total} parameters, its weights ${total}`);
    if (!(CLIP_PARTS as readonly string[]).includes(part)) throw new Error(`${rel}: no part "${part}" (${CLIP_PARTS.join(', ')})`);
    return counts[part as (typeof CLIP_PARTS)[number]];
  }
  const cfg = unetConfigFrom(stored);
  if (!cfg) throw new Error(`${rel}: parts are only defined for U-Nets and CLIP models`);
  const parts = unetParamBreakdown(cfg);
  if (totalParams(parts) !== total || countUNetParams(cfg) !== total) {
    throw new Error(`${rel}: its config counts ${countUNetParams(cfg)} parameters, its weights ${total}`);
  }
  if (part === 'xattn') {
    if (!cfg.crossAttention) throw new Error(`${rel}: part "xattn" needs a U-Net with cross-attention`);
    return crossAttentionParams(cfg).params;
  }
  const p = parts.find((x) => x.key === part);
  if (!p) throw new Error(`${rel}: no part "${part}" (${parts.map((x) => x.key).join(', ')})`);
  return p.params;
}

let pixelCache: { mean: number; std: number } | undefined;

/** Mean and standard deviation of the training digits' pixels on the [−1, 1] scale (public/data/mnist.bin.gz). */
export function trainingPixelStats(): { mean: number; std: number } {
  if (pixelCache) return pixelCache;
  pixelCache = pixelStats(builtMnist().train.images);
  return pixelCache;
}
