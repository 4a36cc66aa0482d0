/**
 * A small convolutional autoencoder for latent diffusion (Rombach et al. 2022, §3.1): 28×28×1 ↔ 7×7×c.
 * Diffusion runs on z · latentScale, scaled to unit variance like Stable Diffusion's 0.18215.
 *
 *   encode: x ─ enc.conv0 ─ SiLU ─ avgPool ─ enc.conv1 ─ SiLU ─ avgPool ─ enc.conv2 ─ SiLU ─ enc.out (1×1 → c) = z
 *   decode: z ─ dec.in ─ SiLU ─ dec.conv0 ─ SiLU ─ up2x ─ dec.conv1 ─ SiLU ─ up2x ─ dec.conv2 ─ SiLU ─ dec.out ─ tanh = x̂
 *
 * | name           | shape                 | resolution | what                          |
 * |----------------|-----------------------|------------|-------------------------------|
 * | `enc.conv0.w/b`| [3, 3, C_in, c_0]     | H          | stem                          |
 * | `enc.conv1.w/b`| [3, 3, c_0, c_1]      | H/2        | after a 2×2 average pool      |
 * | `enc.conv2.w/b`| [3, 3, c_1, c_1]      | H/4        | after a 2×2 average pool      |
 * | `enc.out.w/b`  | [1, 1, c_1, c]        | H/4        | latent projection z           |
 * | `dec.in.w/b`   | [3, 3, c, c_1]        | H/4        | latent stem                   |
 * | `dec.conv0.w/b`| [3, 3, c_1, c_1]      | H/4        |                               |
 * | `dec.conv1.w/b`| [3, 3, c_1, c_0]      | H/2        | after nearest 2× upsampling   |
 * | `dec.conv2.w/b`| [3, 3, c_0, c_0]      | H          | after nearest 2× upsampling   |
 * | `dec.out.w/b`  | [3, 3, c_0, C_in]     | H          | head, then tanh               |
 *
 * Only stride-1 convs, avgPool and upsample2x (nn/resample.ts): no maxPool, no gather, no resize gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadWeightsFromUrl, encodeWeights, type EncodeOptions, type NamedWeights, type WeightsModelJson } from './io';
import { parseUNetMetadata, unetFromWeights, type UNetMetadata } from './models';
import { conv2d, createConv2d, downsample2x, ParamStore, silu, upsample2x, type Conv2dParams } from './nn';
import { makeSchedule } from './schedules';
import type { Schedule } from './types';
import type { UNet } from './unet';

export interface AutoencoderConfig {
  /** [H, W, C] of images; H and W divisible by 4. */
  inputShape: [number, number, number];
  /** Channels at full and half resolution [c_0, c_1]; the quarter resolution uses c_1 too. */
  channels: [number, number];
  /** Latent channels c (the latent is H/4 × W/4 × c). */
  latentChannels: number;
}

/** MNIST 28×28×1 → 7×7×4 latents (matches LATENT_UNET_CONFIG). */
export const MNIST_AUTOENCODER_CONFIG: Readonly<AutoencoderConfig> = { inputShape: [28, 28, 1], channels: [32, 64], latentChannels: 4 };

/** An autoencoder with its parameters; encode/decode are pure given the parameters' current values. */
export interface Autoencoder {
  readonly config: Readonly<AutoencoderConfig>;
  /** [H/4, W/4, c] of a latent. */
  readonly latentShape: [number, number, number];
  /** x ∈ [−1, 1] [N, H, W, C] → unscaled z [N, H/4, W/4, c]; caller disposes. */
  encode(x: tf.Tensor4D): tf.Tensor4D;
  /** Unscaled z → x̂ ∈ (−1, 1) (tanh); caller disposes. */
  decode(z: tf.Tensor4D): tf.Tensor4D;
  /** Name → trainable variable, in a stable order. */
  readonly params: ReadonlyMap<string, tf.Variable>;
  paramCount(): number;
  getWeights(): Promise<Record<string, Float32Array>>;
  setWeights(weights: Record<string, ArrayLike<number>>): void;
  dispose(): void;
}

/** Throw unless the configuration can build an autoencoder. */
export function validateAutoencoderConfig(c: AutoencoderConfig): void {
  const problems: string[] = [];
  if (!Array.isArray(c.inputShape) || c.inputShape.length !== 3) problems.push('inputShape must be [H, W, C]');
  else {
    const [h, w, ch] = c.inputShape;
    if (h % 4 !== 0 || w % 4 !== 0) problems.push(`${h}×${w} is not divisible by 4 (two 2× downsamplings)`);
    if (!(ch >= 1)) problems.push('input channels must be ≥ 1');
  }
  if (!Array.isArray(c.channels) || c.channels.length !== 2 || !c.channels.every((v) => Number.isInteger(v) && v >= 1)) {
    problems.push('channels must be two positive integers');
  }
  if (!Number.isInteger(c.latentChannels) || c.latentChannels < 1) problems.push('latentChannels must be a positive integer');
  if (problems.length > 0) throw new Error(`invalid AutoencoderConfig: ${problems.join('; ')}`);
}

/** Build an autoencoder with deterministic initial weights from `seed` (identical on every backend). */
export function createAutoencoder(config: AutoencoderConfig, seed: number): Autoencoder {
  validateAutoencoderConfig(config);
  const cfg: Readonly<AutoencoderConfig> = {
    inputShape: [...config.inputShape],
    channels: [config.channels[0], config.channels[1]],
    latentChannels: config.latentChannels,
  };
  const [h, w, inC] = cfg.inputShape;
  const [c0, c1] = cfg.channels;
  const lc = cfg.latentChannels;
  const store = new ParamStore(seed);
  // He-style scale 2 for convs followed by SiLU; the heads use scale 1.
  const enc: Conv2dParams[] = [createConv2d(store, 'enc.conv0', 3, inC, c0, 2), createConv2d(store, 'enc.conv1', 3, c0, c1, 2), createConv2d(store, 'enc.conv2', 3, c1, c1, 2)];
  const encOut = createConv2d(store, 'enc.out', 1, c1, lc);
  const decIn = createConv2d(store, 'dec.in', 3, lc, c1, 2);
  const dec: Conv2dParams[] = [createConv2d(store, 'dec.conv0', 3, c1, c1, 2), createConv2d(store, 'dec.conv1', 3, c1, c0, 2), createConv2d(store, 'dec.conv2', 3, c0, c0, 2)];
  const decOut = createConv2d(store, 'dec.out', 3, c0, inC);
  const latentShape: [number, number, number] = [h / 4, w / 4, lc];

  const check = (x: tf.Tensor4D, shape: readonly number[], what: string) => {
    if (x.rank !== 4 || x.shape[1] !== shape[0] || x.shape[2] !== shape[1] || x.shape[3] !== shape[2]) {
      throw new Error(`autoencoder ${what} expects [N, ${shape}], got [${x.shape}]`);
    }
  };
  return {
    config: cfg,
    latentShape,
    encode: (x) =>
      tf.tidy(() => {
        check(x, cfg.inputShape, 'encode');
        let hdn = silu(conv2d(enc[0], x));
        hdn = silu(conv2d(enc[1], downsample2x(hdn)));
        hdn = silu(conv2d(enc[2], downsample2x(hdn)));
        return conv2d(encOut, hdn);
      }),
    decode: (z) =>
      tf.tidy(() => {
        check(z, latentShape, 'decode');
        let hdn = silu(conv2d(decIn, z));
        hdn = silu(conv2d(dec[0], hdn));
        hdn = silu(conv2d(dec[1], upsample2x(hdn)));
        hdn = silu(conv2d(dec[2], upsample2x(hdn)));
        return tf.tanh(conv2d(decOut, hdn));
      }),
    params: store.variables,
    paramCount: () => store.count(),
    getWeights: () => store.getWeights(),
    setWeights: (weights) => store.setWeights(weights),
    dispose: () => store.dispose(),
  };
}

/** Number of parameters a configuration would have, without allocating anything. */
export function countAutoencoderParams(config: AutoencoderConfig): number {
  const conv = (k: number, a: number, b: number) => k * k * a * b + b;
  const [c0, c1] = config.channels;
  const inC = config.inputShape[2];
  const lc = config.latentChannels;
  return conv(3, inC, c0) + conv(3, c0, c1) + conv(3, c1, c1) + conv(1, c1, lc) + conv(3, lc, c1) + conv(3, c1, c1) + conv(3, c1, c0) + conv(3, c0, c0) + conv(3, c0, inC);
}

/**
 * Training loss of the autoencoder: mean (x̂ − x)² + zPenalty · mean z², where the decoder sees z + latentNoise · ε
 * (a light regulariser: the L2 term keeps the latent scale bounded, the noise makes the decoder tolerant of
 * the small errors a diffusion sampler leaves in z). Returns the scalar; caller disposes.
 */
export function autoencoderLoss(
  ae: Autoencoder,
  x: tf.Tensor4D,
  opts: { zPenalty?: number; latentNoise?: number; eps?: tf.Tensor4D } = {},
): tf.Scalar {
  return tf.tidy(() => {
    const z = ae.encode(x);
    const zIn = opts.latentNoise && opts.eps ? tf.add(z, tf.mul(opts.eps, opts.latentNoise)) : z;
    const rec = tf.mean(tf.squaredDifference(ae.decode(zIn as tf.Tensor4D), x));
    return (opts.zPenalty ? tf.add(rec, tf.mul(tf.mean(tf.square(z)), opts.zPenalty)) : rec) as tf.Scalar;
  });
}

/** What an autoencoder's model.json records besides its weights. */
export interface AutoencoderMetadata {
  name: string;
  config: AutoencoderConfig;
  /** Multiply z by this before diffusion (and divide before decoding) so the latents have unit variance. */
  latentScale: number;
  [key: string]: unknown;
}

/** Check `metadata` describes an autoencoder; throws an Error naming `source`. */
export function parseAutoencoderMetadata(metadata: Record<string, unknown>, source: string): AutoencoderMetadata {
  const config = metadata.config as AutoencoderConfig | undefined;
  if (!config || typeof config !== 'object') throw new Error(`${source}: model.json has no autoencoder configuration (userDefinedMetadata.config)`);
  try {
    validateAutoencoderConfig(config);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  const latentScale = metadata.latentScale;
  if (typeof latentScale !== 'number' || !Number.isFinite(latentScale) || latentScale <= 0) {
    throw new Error(`${source}: model.json has no valid latentScale (userDefinedMetadata.latentScale)`);
  }
  return { ...metadata, name: String(metadata.name ?? 'autoencoder'), config, latentScale };
}

/** Build an autoencoder from decoded weights; disposes it again if the weights do not fit. */
export function autoencoderFromWeights(weights: NamedWeights, metadata: AutoencoderMetadata, source: string): Autoencoder {
  const ae = createAutoencoder(metadata.config, 0);
  try {
    const values: Record<string, Float32Array> = {};
    for (const [name, w] of Object.entries(weights)) values[name] = w.data;
    ae.setWeights(values);
  } catch (e) {
    ae.dispose();
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  return ae;
}

export interface LoadedAutoencoder {
  autoencoder: Autoencoder;
  metadata: AutoencoderMetadata;
}

/** Fetch `<baseUrl>/model.json` and its weights and build the autoencoder. */
export async function loadAutoencoder(baseUrl: string, fetchImpl: typeof fetch = fetch): Promise<LoadedAutoencoder> {
  const { weights, metadata: raw } = await loadWeightsFromUrl(baseUrl, fetchImpl);
  const metadata = parseAutoencoderMetadata(raw, baseUrl);
  return { autoencoder: autoencoderFromWeights(weights, metadata, baseUrl), metadata };
}

/** Encode an autoencoder and its metadata as {modelJson, weightData} (async: reads the weights). */
export async function encodeAutoencoder(
  ae: Autoencoder,
  metadata: Omit<AutoencoderMetadata, 'config'>,
  opts: Omit<EncodeOptions, 'metadata'> = {},
): Promise<{ modelJson: WeightsModelJson; weightData: ArrayBuffer }> {
  const values = await ae.getWeights();
  const weights: NamedWeights = {};
  for (const [name, v] of ae.params) weights[name] = { shape: [...v.shape], data: values[name] };
  return encodeWeights(weights, { ...opts, metadata: { ...metadata, config: ae.config } });
}

/** A latent diffusion model: the autoencoder and the ε-network on scaled latents. */
export interface LatentModel {
  autoencoder: Autoencoder;
  /** ε-network on z · latentScale (class-conditional; null class = numClasses). */
  unet: UNet;
  schedule: Schedule;
  /** latentScale, from the autoencoder's file. */
  latentScale: number;
  metadata: { autoencoder: AutoencoderMetadata; denoiser: UNetMetadata };
  dispose(): void;
}

/** Scaled latents z·s → images: x̂ = decode(z_s / s); caller disposes. */
export function decodeScaled(model: Pick<LatentModel, 'autoencoder' | 'latentScale'>, zScaled: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => model.autoencoder.decode(tf.div(zScaled, model.latentScale)));
}

/** Images → scaled latents z·s; caller disposes. */
export function encodeScaled(model: Pick<LatentModel, 'autoencoder' | 'latentScale'>, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mul(model.autoencoder.encode(x), model.latentScale));
}

/**
 * Fetch a latent diffusion model folder: `<baseUrl>/autoencoder/` (autoencoder + latentScale) and
 * `<baseUrl>/denoiser/` (a U-Net file that loadUNet reads too).
 */
export async function loadLatentModel(baseUrl: string, fetchImpl: typeof fetch = fetch): Promise<LatentModel> {
  const base = baseUrl.replace(/\/?$/, '/');
  const [aeFile, unetFile] = await Promise.all([loadWeightsFromUrl(`${base}autoencoder/`, fetchImpl), loadWeightsFromUrl(`${base}denoiser/`, fetchImpl)]);
  const aeMeta = parseAutoencoderMetadata(aeFile.metadata, `${base}autoencoder/`);
  const unetMeta = parseUNetMetadata(unetFile.metadata, `${base}denoiser/`);
  const [lh, lw, lc] = [aeMeta.config.inputShape[0] / 4, aeMeta.config.inputShape[1] / 4, aeMeta.config.latentChannels];
  const [uh, uw, uc] = unetMeta.config.inputShape;
  if (lh !== uh || lw !== uw || lc !== uc) {
    throw new Error(`${base}: the autoencoder's latents are ${lh}×${lw}×${lc}, the denoiser expects ${uh}×${uw}×${uc}`);
  }
  const autoencoder = autoencoderFromWeights(aeFile.weights, aeMeta, `${base}autoencoder/`);
  let unet: UNet;
  try {
    unet = unetFromWeights(unetFile.weights, unetMeta, `${base}denoiser/`);
  } catch (e) {
    autoencoder.dispose();
    throw e;
  }
  return {
    autoencoder,
    unet,
    schedule: makeSchedule(unetMeta.schedule.kind, unetMeta.schedule.T),
    latentScale: aeMeta.latentScale,
    metadata: { autoencoder: aeMeta, denoiser: unetMeta },
    dispose: () => {
      autoencoder.dispose();
      unet.dispose();
    },
  };
}
