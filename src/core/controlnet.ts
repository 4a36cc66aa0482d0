/**
 * ControlNet (Zhang, Rao & Agrawala 2023, "Adding Conditional Control to Text-to-Image Diffusion Models"): steer a
 * frozen denoiser with a control image by a trainable copy of its encoder, joined to it by zero convolutions.
 *
 *   f      = Z_hint(HintEncoder(c))                      c: the 28×28 hint; HintEncoder: conv + SiLU, avg-pool 2×, …
 *   (s_k, m) = Copy(x_t, t, y; stem += f)               the copy of the down path and middle (names as in the U-Net)
 *   r_k    = Z_k(s_k),  r_mid = Z_mid(m)                 Z: 1×1 convolutions whose weights and biases start at 0
 *   ε̂      = U-Net(x_t, t, y) with skip_k += λ·r_k and middle += λ·r_mid      λ: the control scale
 *
 * (§3.2, eq. 1–4 and Fig. 3; the hint enters after the copy's stem, as in the authors' Stable Diffusion code.)
 * Because every Z starts at zero, the untrained ControlNet adds exactly nothing: training starts from the frozen
 * model's own output, and the copy starts from the frozen encoder's weights (initFromBase), so its first gradients
 * refine features that already work instead of noise. Only the ControlNet's parameters train; λ = 0 gives the base
 * model bit for bit (controlledModel short-cuts it). Parameter names: the copy's are the U-Net's own
 * (`time.*`, `class.emb`, `in.conv`, `down*`, `mid.attn`, …); `hint.conv{k}` [3, 3, c_{k−1}, c_k]; `hint.zero`
 * [3, 3, c_last, channels[0]]; `zero.skip{k}` [1, 1, c, c], `zero.mid` [1, 1, c, c].
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadWeightsFromUrl, type NamedWeights } from './io';
import { conv2d, createConv2d, downsample2x, ParamStore, silu, type Conv2dParams } from './nn';
import type { EpsModel, TextContext } from './types';
import { createUNetEncoder, validateUNetConfig, type ControlResiduals, type UNet, type UNetConfig } from './unet';

export interface ControlNetConfig {
  /** The frozen U-Net's configuration (the copy has its down path and middle). */
  base: UNetConfig;
  /** [H, W, C] of the hint image; H / base H must be 2^(hintChannels.length − 1). */
  hintShape: [number, number, number];
  /** Channels of the hint encoder's convolutions; an average pool halves the grid between consecutive ones. */
  hintChannels: number[];
}

export interface ControlNet {
  readonly config: Readonly<ControlNetConfig>;
  /** The residuals for x_t, t, the condition and the hint (hint batch = x batch). Caller disposes. */
  residuals(x: tf.Tensor4D, t: tf.Tensor1D, classes: tf.Tensor1D | undefined, context: TextContext | undefined, hint: tf.Tensor4D): ControlResiduals;
  /** f = Z_hint(HintEncoder(hint)): what is added to the copy's stem (zero before training). Caller disposes. */
  hintFeatures(hint: tf.Tensor4D): tf.Tensor4D;
  readonly params: ReadonlyMap<string, tf.Variable>;
  paramCount(): number;
  getWeights(): Promise<Record<string, Float32Array>>;
  setWeights(weights: Record<string, ArrayLike<number>>): void;
  dispose(): void;
}

/** Throw unless the configuration can build a ControlNet. */
export function validateControlNetConfig(c: ControlNetConfig): void {
  validateUNetConfig(c.base);
  const problems: string[] = [];
  const k = c.hintChannels.length;
  if (k < 1 || c.hintChannels.some((ch) => !(Number.isInteger(ch) && ch >= 1))) problems.push('hintChannels must list at least one positive integer');
  const f = 2 ** Math.max(0, k - 1);
  if (c.hintShape[0] !== c.base.inputShape[0] * f || c.hintShape[1] !== c.base.inputShape[1] * f) {
    problems.push(`a ${c.hintShape[0]}×${c.hintShape[1]} hint reaches ${c.hintShape[0] / f}×${c.hintShape[1] / f} after ${k - 1} halvings, not the base's ${c.base.inputShape[0]}×${c.base.inputShape[1]}`);
  }
  if (!(c.hintShape[2] >= 1)) problems.push('hint channels must be ≥ 1');
  if (problems.length > 0) throw new Error(`invalid ControlNetConfig: ${problems.join('; ')}`);
}

/** Build a ControlNet; the copy is random until initFromBase, the zero convolutions are zero. */
export function createControlNet(config: ControlNetConfig, seed: number): ControlNet {
  validateControlNetConfig(config);
  const cfg: Readonly<ControlNetConfig> = {
    base: { ...config.base, inputShape: [...config.base.inputShape], channels: [...config.base.channels] },
    hintShape: [...config.hintShape],
    hintChannels: [...config.hintChannels],
  };
  const store = new ParamStore(seed);
  const hintConvs: Conv2dParams[] = [];
  let c = cfg.hintShape[2];
  cfg.hintChannels.forEach((ch, k) => {
    hintConvs.push(createConv2d(store, `hint.conv${k}`, 3, c, ch));
    c = ch;
  });
  const hintZero = createConv2d(store, 'hint.zero', 3, c, cfg.base.channels[0], 0);
  const encoder = createUNetEncoder(store, cfg.base);
  const zeroSkips = encoder.skipChannels.map((ch, k) => createConv2d(store, `zero.skip${k}`, 1, ch, ch, 0));
  const zeroMid = createConv2d(store, 'zero.mid', 1, encoder.midChannels, encoder.midChannels, 0);

  const hintFeatures = (hint: tf.Tensor4D) =>
    tf.tidy(() => {
      const [, h, w, ch] = hint.shape;
      if (h !== cfg.hintShape[0] || w !== cfg.hintShape[1] || ch !== cfg.hintShape[2]) throw new Error(`ControlNet expects hints [N, ${cfg.hintShape}], got [${hint.shape}]`);
      let f = hint;
      hintConvs.forEach((p, k) => {
        if (k > 0) f = downsample2x(f);
        f = silu(conv2d(p, f));
      });
      return conv2d(hintZero, f);
    });

  return {
    config: cfg,
    hintFeatures,
    residuals(x, t, classes, context, hint) {
      if (hint.shape[0] !== x.shape[0]) throw new Error(`expected ${x.shape[0]} hints, got ${hint.shape[0]}`);
      return tf.tidy(() => {
        const { skips, hidden } = encoder.run(x, t, classes, context, hintFeatures(hint));
        return { skips: skips.map((s, k) => conv2d(zeroSkips[k], s)), mid: conv2d(zeroMid, hidden) };
      }) as ControlResiduals;
    },
    params: store.variables,
    paramCount: () => store.count(),
    getWeights: () => store.getWeights(),
    setWeights: (weights) => store.setWeights(weights),
    dispose: () => store.dispose(),
  };
}

/** Names of the ControlNet's parameters that copy the base U-Net's (everything but `hint.*` and `zero.*`). */
export function copiedNames(net: ControlNet): string[] {
  return [...net.params.keys()].filter((name) => !name.startsWith('hint.') && !name.startsWith('zero.'));
}

/** Initialise the copy from the frozen U-Net: every copied parameter takes the base parameter of the same name. */
export function initFromBase(net: ControlNet, base: UNet): void {
  tf.tidy(() => {
    for (const name of copiedNames(net)) {
      const src = base.params.get(name);
      const dst = net.params.get(name) as tf.Variable;
      if (!src || src.size !== dst.size) throw new Error(`initFromBase: the base U-Net has no parameter '${name}' of ${dst.size} values`);
      dst.assign(src);
    }
  });
}

/**
 * The controlled ε-network: ε̂ = base(x_t, t, y) with the ControlNet's residuals for `hint`, times `scale`, added.
 * `hint` holds one hint per example or one for a batch that is a multiple of it (classifier-free guidance doubles the
 * batch: the hint is tiled, so both branches see it). scale = 0 is the base model itself. Wrap it in any guidance.
 */
export function controlledModel(base: UNet, net: ControlNet, hint: tf.Tensor4D, scale: number): EpsModel {
  if (!Number.isFinite(scale)) throw new RangeError(`control scale must be finite, got ${scale}`);
  return (x, t, classes, context) => {
    if (scale === 0) return base.model(x, t, classes, context);
    return tf.tidy(() => {
      const n = x.shape[0];
      const m = hint.shape[0];
      if (n % m !== 0) throw new Error(`a batch of ${n} cannot share ${m} hints`);
      const h = n === m ? hint : (tf.tile(hint, [n / m, 1, 1, 1]) as tf.Tensor4D);
      return base.controlled(x, t, classes, context, net.residuals(x, t, classes, context, h), scale);
    });
  };
}

/** A hint image as the network reads it: the 0/1 skeleton(s) (n·H·W bytes) as [n, H, W, 1] float32. Caller disposes. */
export function hintTensor(hints: ArrayLike<number>, n: number, h = 28, w = 28): tf.Tensor4D {
  if (hints.length !== n * h * w) throw new Error(`expected ${n * h * w} hint pixels, got ${hints.length}`);
  return tf.tensor4d(Float32Array.from(hints, (v) => (v ? 1 : 0)), [n, h, w, 1]);
}

/** What a ControlNet model file records besides its weights (model.json's userDefinedMetadata). */
export interface ControlNetMetadata {
  name: string;
  config: ControlNetConfig;
  /** The frozen U-Net's folder, relative to this one (e.g. '../latent-mnist/denoiser/'). */
  base: string;
  /** The autoencoder's folder, relative to this one, for a latent base. */
  autoencoder?: string;
  [key: string]: unknown;
}

/** Check `metadata` describes a ControlNet; throws an Error naming `source`. */
export function parseControlNetMetadata(metadata: Record<string, unknown>, source: string): ControlNetMetadata {
  const config = metadata.config as ControlNetConfig | undefined;
  if (!config || typeof config !== 'object' || !config.base || !Array.isArray(config.hintShape) || !Array.isArray(config.hintChannels)) {
    throw new Error(`${source}: model.json has no ControlNet configuration (userDefinedMetadata.config)`);
  }
  try {
    validateControlNetConfig(config);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  if (typeof metadata.base !== 'string' || metadata.base.length === 0) throw new Error(`${source}: model.json does not name its frozen base model (userDefinedMetadata.base)`);
  if (metadata.autoencoder !== undefined && typeof metadata.autoencoder !== 'string') throw new Error(`${source}: userDefinedMetadata.autoencoder must be a folder name`);
  return { ...metadata, name: String(metadata.name ?? 'controlnet'), config, base: metadata.base, autoencoder: metadata.autoencoder as string | undefined };
}

/** Build a ControlNet from decoded weights; disposes it again if the weights do not fit. */
export function controlNetFromWeights(weights: NamedWeights, metadata: ControlNetMetadata, source: string): ControlNet {
  const net = createControlNet(metadata.config, 0);
  try {
    const values: Record<string, Float32Array> = {};
    for (const [name, w] of Object.entries(weights)) values[name] = w.data;
    net.setWeights(values);
  } catch (e) {
    net.dispose();
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  return net;
}

/** Throw unless `base` is the U-Net this ControlNet was trained beside (same configuration). */
export function checkBase(net: ControlNet, base: UNet, source: string): void {
  const shape = (c: UNetConfig) => JSON.stringify([c.inputShape, c.channels, c.numResBlocks, c.attention, c.tembDim, c.groups, c.numClasses, c.crossAttention ?? null]);
  if (shape(net.config.base) !== shape(base.config)) throw new Error(`${source}: this ControlNet was trained for a different base U-Net (${shape(net.config.base)}, got ${shape(base.config)})`);
}

/** Fetch `<baseUrl>/model.json` and its weights and build the ControlNet (the base model is loaded separately, from metadata.base). */
export async function loadControlNet(baseUrl: string, fetchImpl: typeof fetch = fetch): Promise<{ net: ControlNet; metadata: ControlNetMetadata }> {
  const { weights, metadata: raw } = await loadWeightsFromUrl(baseUrl, fetchImpl);
  const metadata = parseControlNetMetadata(raw, baseUrl);
  return { net: controlNetFromWeights(weights, metadata, baseUrl), metadata };
}
