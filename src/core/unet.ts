/**
 * A tiny ε-prediction U-Net (after Ho et al. 2020, Appendix B; Ronneberger et al. 2015), small enough to
 * train in a browser. x_t is NHWC; level i runs at H/2^i with `channels[i]` channels.
 *
 *   emb = dense1(SiLU(dense0(sinusoid(t)))) [+ class.emb row of c, by oneHot × matrix]
 *   x → in.conv → down0.res* → avgPool → down1.res* → … → [mid.attn] → … → up1.res* → upsample → up0.res* → out
 *   `up{i}.res{j}` reads concat(h, output of the matching `down{i}.res{j}`); each res block adds
 *   dense(SiLU(emb)) per channel between its two convs; out = out.conv(SiLU(GroupNorm(h))).
 *   With `crossAttention` (the text-to-image model, as in Rombach et al. 2022, §3.3): after every res block and
 *   after the middle attention, h += xattn(GroupNorm(h)), multi-head attention whose queries are the H·W positions
 *   and whose keys and values are the prompt's token states (TextContext), padding masked.
 *
 * Parameter names (float32; E = tembDim, c = that block's channels):
 * | name                                                  | shape                 | role                            |
 * |-------------------------------------------------------|-----------------------|---------------------------------|
 * | `time.dense0.w/.b`, `time.dense1.w/.b`                 | [c_0, E], [E, E]      | timestep MLP                    |
 * | `class.emb` (conditional only)                         | [numClasses + 1, E]   | class rows; the last is ∅       |
 * | `in.conv.w/.b`                                         | [3, 3, C_in, c_0]     | stem                            |
 * | `{down,up}{i}.res{j}.norm0/.norm1.gamma/.beta`          | [c_in], [c]           | GroupNorm                       |
 * | `{down,up}{i}.res{j}.conv0/.conv1.w/.b`                 | [3, 3, c_in, c], …    | the two 3×3 convs               |
 * | `{down,up}{i}.res{j}.temb.w/.b`                         | [E, c]                | embedding projection            |
 * | `{down,up}{i}.res{j}.skip.w/.b` (when c_in ≠ c)         | [1, 1, c_in, c]       | residual projection             |
 * | `mid.attn.norm.*`, `mid.attn.{q,k,v,proj}.w/.b`         | [c], [c, c]           | single-head self-attention      |
 * | `{down,up}{i}.xattn{j}.*`, `mid.xattn.*` (text only)    | norm [c]; q [c, c]; k, v [d_ctx, c]; out [c, c] | cross-attention to the prompt |
 * | `out.norm.gamma/.beta`, `out.conv.w/.b`                 | [c_0], [3, 3, c_0, C_in] | head                         |
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EpsModel, TextContext } from './types';
import {
  attention,
  conv2d,
  createAttention,
  createConv2d,
  createDense,
  createGroupNorm,
  createMultiHeadAttention,
  dense,
  downsample2x,
  groupNorm,
  GROUP_NORM_EPSILON,
  multiHeadAttention,
  ParamStore,
  silu,
  timestepEmbedding,
  upsample2x,
  type AttentionParams,
  type Conv2dParams,
  type DenseParams,
  type GroupNormParams,
  type MultiHeadAttentionParams,
} from './nn';

export interface UNetConfig {
  /** [H, W, C] of x_t; H and W must be divisible by 2^(levels − 1). */
  inputShape: [number, number, number];
  /** Channels per resolution level (level i at H/2^i); its length is the number of levels. */
  channels: number[];
  /** Residual blocks per level on the way down (the way up has as many, one per skip). */
  numResBlocks: number;
  /** Single-head self-attention between the down and up paths at the lowest resolution. */
  attention: boolean;
  /** Width E of the timestep embedding MLP (the sinusoid has channels[0] features). */
  tembDim: number;
  /** GroupNorm groups (must divide every channel count, including the concatenations). */
  groups: number;
  /** Number of classes for conditioning; 0 = unconditional. Class id numClasses is the null class ∅. */
  numClasses: number;
  /** Text conditioning by cross-attention to a prompt's token states of width `contextDim`; absent = none. */
  crossAttention?: { contextDim: number; heads: number };
  /**
   * Patch stem: 2 folds each 2×2 block of pixels into channels before the stem (space-to-depth, H×W×C →
   * H/2×W/2×4C) and unfolds the head's 4C outputs back (depth-to-space), so level 0 runs at H/2. Absent or 1: none
   * (the stem sees the pixels, as every shipped model does).
   */
  patch?: 1 | 2;
}

/** The patch size of a configuration (1 when absent). */
export const patchOf = (c: Pick<UNetConfig, 'patch'>): number => c.patch ?? 1;

/** Space-to-depth: [N, H, W, C] → [N, H/p, W/p, p·p·C], each p×p block's pixels (row-major) as channel groups. */
export function foldPatches(x: tf.Tensor4D, p: number): tf.Tensor4D {
  if (p === 1) return x;
  const [n, h, w, c] = x.shape;
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [n * (h / p), p, w / p, p * c]), [0, 2, 1, 3]), [n, h / p, w / p, p * p * c]));
}

/** Depth-to-space, the inverse of foldPatches. */
export function unfoldPatches(x: tf.Tensor4D, p: number): tf.Tensor4D {
  if (p === 1) return x;
  const [n, hp, wp, cc] = x.shape;
  const c = cc / (p * p);
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [n * hp, wp, p, p * c]), [0, 2, 1, 3]), [n, hp * p, wp * p, c]));
}

/**
 * The shipped unet-mnist (models/unet-mnist/config.json): 28×28×1, levels 28/14/7 with 16/32/32 channels,
 * self-attention at 7×7, 10 classes + ∅; 128,961 parameters. (32/32/32 would be 170,241.)
 */
export const MNIST_UNET_CONFIG: Readonly<UNetConfig> = {
  inputShape: [28, 28, 1],
  channels: [16, 32, 32],
  numResBlocks: 1,
  attention: true,
  tembDim: 64,
  groups: 8,
  numClasses: 10,
};

/** The shipped latent-mnist denoiser (models/latent-mnist/denoiser/config.json): latents 7×7×4, one level of 64 channels, one res block each way, attention, 10 classes + ∅; 232,388 parameters. */
export const LATENT_UNET_CONFIG: Readonly<UNetConfig> = {
  inputShape: [7, 7, 4],
  channels: [64],
  numResBlocks: 1,
  attention: true,
  tembDim: 64,
  groups: 8,
  numClasses: 10,
};

interface ResBlockParams {
  norm0: GroupNormParams;
  conv0: Conv2dParams;
  temb: DenseParams;
  norm1: GroupNormParams;
  conv1: Conv2dParams;
  skip?: Conv2dParams;
}

function createResBlock(store: ParamStore, name: string, inC: number, outC: number, tembDim: number, groups: number): ResBlockParams {
  return {
    norm0: createGroupNorm(store, `${name}.norm0`, inC, groups),
    conv0: createConv2d(store, `${name}.conv0`, 3, inC, outC),
    temb: createDense(store, `${name}.temb`, tembDim, outC),
    norm1: createGroupNorm(store, `${name}.norm1`, outC, groups),
    conv1: createConv2d(store, `${name}.conv1`, 3, outC, outC),
    skip: inC === outC ? undefined : createConv2d(store, `${name}.skip`, 1, inC, outC),
  };
}

/** h = conv0(SiLU(GN(x))) + W·SiLU(emb); out = skip(x) + conv1(SiLU(GN(h))) (Ho et al. 2020's ResNet block, no dropout). */
function resBlock(p: ResBlockParams, x: tf.Tensor4D, embAct: tf.Tensor2D): tf.Tensor4D {
  const h = conv2d(p.conv0, groupNorm(p.norm0, x, 'silu'));
  // GN(h + W·SiLU(emb)): the sum is folded into the norm (on wasm it is never formed).
  const out = conv2d(p.conv1, groupNorm(p.norm1, h, 'silu', GROUP_NORM_EPSILON, dense(p.temb, embAct)));
  return tf.add(p.skip ? conv2d(p.skip, x) : x, out);
}

interface CrossAttentionParams {
  norm: GroupNormParams;
  mha: MultiHeadAttentionParams;
}

/** h + attn(GN(h)) with queries from the H·W positions and keys/values from the prompt's states, pads masked. */
function crossAttention(p: CrossAttentionParams, h: tf.Tensor4D, context: TextContext, layer: string): tf.Tensor4D {
  const [n, hh, ww, c] = h.shape;
  const tokens = tf.reshape(groupNorm(p.norm, h), [n, hh * ww, c]) as tf.Tensor3D;
  const onWeights = context.onAttention ? (w: tf.Tensor4D) => context.onAttention!(layer, w) : undefined;
  const out = multiHeadAttention(p.mha, tokens, { context: context.states, keyMask: context.mask, onWeights });
  return tf.add(h, tf.reshape(out, [n, hh, ww, c]));
}

/** A U-Net with its parameters; `model` is pure given the parameters' current values. */
export interface UNet {
  readonly config: Readonly<UNetConfig>;
  /** ε̂ = ε_θ(x_t, t[, classes]); see EpsModel. Classes omitted on a conditional model mean ∅ for all. */
  readonly model: EpsModel;
  /** ε̂ with a ControlNet's residuals, times `scale`, added to the skips and the middle (see ControlResiduals). */
  readonly controlled: (x: tf.Tensor4D, t: tf.Tensor1D, classes: tf.Tensor1D | undefined, context: TextContext | undefined, residuals: ControlResiduals, scale: number) => tf.Tensor4D;
  /** Name → trainable variable, in a stable order. */
  readonly params: ReadonlyMap<string, tf.Variable>;
  paramCount(): number;
  /** Copies of every parameter's values by name (async read). */
  getWeights(): Promise<Record<string, Float32Array>>;
  /** Overwrite every parameter by name; throws on missing, unknown or mis-sized entries. */
  setWeights(weights: Record<string, ArrayLike<number>>): void;
  dispose(): void;
}

/** Throw unless the configuration can build a U-Net. */
export function validateUNetConfig(c: UNetConfig): void {
  const [h, w, ch] = c.inputShape;
  const levels = c.channels.length;
  const problems: string[] = [];
  if (levels < 1) problems.push('channels must list at least one level');
  const patch = c.patch ?? 1;
  if (patch !== 1 && patch !== 2) problems.push(`patch must be 1 or 2, got ${String(patch)}`);
  const div = 2 ** Math.max(0, levels - 1) * (patch === 2 ? 2 : 1);
  if (h % div !== 0 || w % div !== 0) problems.push(`${h}×${w} is not divisible by ${div} (one avgPool per extra level${patch === 2 ? ', and the 2×2 patch stem' : ''})`);
  if (!(ch >= 1)) problems.push('input channels must be ≥ 1');
  if (!(c.numResBlocks >= 1)) problems.push('numResBlocks must be ≥ 1');
  if (c.tembDim % 2 !== 0 || c.channels[0] % 2 !== 0) problems.push('tembDim and channels[0] must be even');
  if (!(c.numClasses >= 0) || !Number.isInteger(c.numClasses)) problems.push('numClasses must be an integer ≥ 0');
  for (const cc of c.channels) if (cc % c.groups !== 0) problems.push(`${c.groups} groups do not divide ${cc} channels`);
  const xa = c.crossAttention;
  if (xa && (!(xa.contextDim >= 1) || !Number.isInteger(xa.heads) || xa.heads < 1 || c.channels.some((cc) => cc % xa.heads !== 0))) {
    problems.push(`crossAttention needs contextDim ≥ 1 and a number of heads dividing every level's channels`);
  }
  if (problems.length > 0) throw new Error(`invalid UNetConfig: ${problems.join('; ')}`);
}

/** What a ControlNet adds to a U-Net (Zhang et al. 2023, §3.2): one residual per skip connection, in the order the down path makes them, and one for the middle. */
export interface ControlResiduals {
  readonly skips: readonly tf.Tensor4D[];
  readonly mid: tf.Tensor4D;
}

/**
 * The down path and middle of a U-Net (stem, down res blocks with their cross-attention, middle attention), built
 * on a given store with the base names (`time.*`, `class.emb`, `in.conv`, `down*`, `mid.*`). The U-Net below is
 * this encoder plus an up path; a ControlNet (src/core/controlnet.ts) builds a second one, its trainable copy.
 */
export interface UNetEncoder {
  /**
   * Run the encoder. `stemAdd` (same shape as the stem's output) is added right after `in.conv`: a ControlNet's
   * hint features enter there. Returns the embedding activation SiLU(emb), one skip per down res block, and the
   * hidden state after the middle. Call inside a tidy.
   */
  run(x: tf.Tensor4D, t: tf.Tensor1D, classes?: tf.Tensor1D, context?: TextContext, stemAdd?: tf.Tensor4D): { embAct: tf.Tensor2D; skips: tf.Tensor4D[]; hidden: tf.Tensor4D };
  /** Channels of each skip, in order, and of the middle. */
  readonly skipChannels: readonly number[];
  readonly midChannels: number;
}

export function createUNetEncoder(store: ParamStore, cfg: Readonly<UNetConfig>): UNetEncoder {
  const { channels, numResBlocks, tembDim, groups, numClasses } = cfg;
  const patch = patchOf(cfg);
  const inC = cfg.inputShape[2] * patch * patch;
  const levels = channels.length;
  const sinDim = channels[0];
  const time0 = createDense(store, 'time.dense0', sinDim, tembDim);
  const time1 = createDense(store, 'time.dense1', tembDim, tembDim);
  const classEmb = numClasses > 0 ? store.create('class.emb', [numClasses + 1, tembDim], { kind: 'uniform', limit: Math.sqrt(3) }) : null;
  const inConv = createConv2d(store, 'in.conv', 3, inC, channels[0]);
  const xa = cfg.crossAttention;
  const xattns = new Map<string, CrossAttentionParams>();
  const addXattn = (name: string, ch: number) => {
    if (xa) xattns.set(name, { norm: createGroupNorm(store, `${name}.norm`, ch, groups), mha: createMultiHeadAttention(store, name, ch, xa.heads, { contextDim: xa.contextDim }) });
  };
  const down: ResBlockParams[][] = [];
  const skipChannels: number[] = [];
  let c = channels[0];
  for (let i = 0; i < levels; i++) {
    const blocks: ResBlockParams[] = [];
    for (let j = 0; j < numResBlocks; j++) {
      blocks.push(createResBlock(store, `down${i}.res${j}`, c, channels[i], tembDim, groups));
      c = channels[i];
      addXattn(`down${i}.xattn${j}`, c);
      skipChannels.push(c);
    }
    down.push(blocks);
  }
  const midAttn: AttentionParams | null = cfg.attention ? createAttention(store, 'mid.attn', c, groups) : null;
  addXattn('mid.xattn', c);

  return {
    skipChannels,
    midChannels: c,
    run(x, t, classes, context, stemAdd) {
      const [n, h, w, ch] = x.shape;
      if (h !== cfg.inputShape[0] || w !== cfg.inputShape[1] || ch !== cfg.inputShape[2]) {
        throw new Error(`U-Net expects [N, ${cfg.inputShape}], got [${x.shape}]`);
      }
      if (t.shape[0] !== n) throw new Error(`expected ${n} timesteps, got ${t.shape[0]}`);
      let emb = dense(time1, silu(dense(time0, timestepEmbedding(t, sinDim))));
      if (classEmb !== null) {
        // oneHot × matrix instead of gather: gather's gradient (UnsortedSegmentSum) is missing on wasm.
        const ids = classes ?? tf.fill([n], numClasses, 'int32');
        if (ids.shape[0] !== n) throw new Error(`expected ${n} class ids, got ${ids.shape[0]}`);
        const oneHot = tf.cast(tf.oneHot(tf.cast(ids, 'int32'), numClasses + 1), 'float32') as tf.Tensor2D;
        emb = tf.add(emb, tf.matMul(oneHot, classEmb as tf.Tensor2D));
      } else if (classes !== undefined) {
        throw new Error('this U-Net is unconditional (numClasses = 0) but class ids were given');
      }
      const embAct = silu(emb);
      if (xa && !context) throw new Error('this U-Net is text-conditioned: it needs a TextContext (an empty prompt for ∅)');
      if (!xa && context) throw new Error('this U-Net has no cross-attention, but a TextContext was given');
      const cross = (name: string, hh: tf.Tensor4D) => (context ? crossAttention(xattns.get(name) as CrossAttentionParams, hh, context, name) : hh);

      let hidden = conv2d(inConv, foldPatches(x, patch));
      if (stemAdd) hidden = tf.add(hidden, stemAdd);
      const skips: tf.Tensor4D[] = [];
      for (let i = 0; i < levels; i++) {
        down[i].forEach((block, j) => {
          hidden = cross(`down${i}.xattn${j}`, resBlock(block, hidden, embAct));
          skips.push(hidden);
        });
        if (i < levels - 1) hidden = downsample2x(hidden);
      }
      if (midAttn !== null) hidden = attention(midAttn, hidden);
      hidden = cross('mid.xattn', hidden);
      return { embAct, skips, hidden };
    },
  };
}

/** Build a U-Net with deterministic initial weights from `seed` (identical on every backend). */
export function createUNet(config: UNetConfig, seed: number): UNet {
  validateUNetConfig(config);
  const cfg: Readonly<UNetConfig> = { ...config, inputShape: [...config.inputShape], channels: [...config.channels] };
  if (cfg.patch === undefined) delete (cfg as UNetConfig).patch;
  const { channels, numResBlocks, tembDim, groups } = cfg;
  const patch = patchOf(cfg);
  const inC = cfg.inputShape[2] * patch * patch;
  const levels = channels.length;
  const store = new ParamStore(seed);
  const encoder = createUNetEncoder(store, cfg);

  const xa = cfg.crossAttention;
  const xattns = new Map<string, CrossAttentionParams>();
  const skipChannels = [...encoder.skipChannels];
  let c = encoder.midChannels;
  const up: ResBlockParams[][] = new Array(levels);
  for (let i = levels - 1; i >= 0; i--) {
    const blocks: ResBlockParams[] = [];
    for (let j = numResBlocks - 1; j >= 0; j--) {
      const skipC = skipChannels.pop() as number;
      if ((c + skipC) % groups !== 0) throw new Error(`invalid UNetConfig: ${groups} groups do not divide ${c + skipC} channels`);
      blocks.push(createResBlock(store, `up${i}.res${j}`, c + skipC, channels[i], tembDim, groups));
      c = channels[i];
      const name = `up${i}.xattn${j}`;
      if (xa) xattns.set(name, { norm: createGroupNorm(store, `${name}.norm`, c, groups), mha: createMultiHeadAttention(store, name, c, xa.heads, { contextDim: xa.contextDim }) });
    }
    up[i] = blocks;
  }
  const outNorm = createGroupNorm(store, 'out.norm', c, groups);
  const outConv = createConv2d(store, 'out.conv', 3, c, inC);

  const forward = (x: tf.Tensor4D, t: tf.Tensor1D, classes: tf.Tensor1D | undefined, context: TextContext | undefined, control?: { residuals: ControlResiduals; scale: number }) =>
    tf.tidy(() => {
      const { embAct, skips, hidden: h0 } = encoder.run(x, t, classes, context);
      let hidden = h0;
      if (control) {
        // ControlNet (Zhang et al. 2023, eq. 4): the copy's zero-convolution outputs, times the control scale, are
        // added to the frozen network's skip connections and middle; nothing else in the network changes.
        const { residuals, scale } = control;
        if (residuals.skips.length !== skips.length) throw new Error(`expected ${skips.length} skip residuals, got ${residuals.skips.length}`);
        skips.forEach((s, k) => (skips[k] = tf.add(s, tf.mul(residuals.skips[k], scale))));
        hidden = tf.add(hidden, tf.mul(residuals.mid, scale));
      }
      const cross = (name: string, hh: tf.Tensor4D) => (context ? crossAttention(xattns.get(name) as CrossAttentionParams, hh, context, name) : hh);
      for (let i = levels - 1; i >= 0; i--) {
        up[i].forEach((block, k) => {
          hidden = cross(`up${i}.xattn${numResBlocks - 1 - k}`, resBlock(block, tf.concat([hidden, skips.pop() as tf.Tensor4D], 3), embAct));
        });
        if (i > 0) hidden = upsample2x(hidden);
      }
      return unfoldPatches(conv2d(outConv, groupNorm(outNorm, hidden, 'silu')), patch);
    });
  const model: EpsModel = (x, t, classes, context) => forward(x, t, classes, context);

  return {
    config: cfg,
    model,
    controlled: (x, t, classes, context, residuals, scale) => forward(x, t, classes, context, { residuals, scale }),
    params: store.variables,
    paramCount: () => store.count(),
    getWeights: () => store.getWeights(),
    setWeights: (weights) => store.setWeights(weights),
    dispose: () => store.dispose(),
  };
}

/** Number of parameters a configuration would have, without allocating anything on a backend. */
export function countUNetParams(config: UNetConfig): number {
  const { channels, numResBlocks, tembDim, numClasses, attention: attn, crossAttention: xa } = config;
  const xattn = (ch: number) => (xa ? 2 * ch + 2 * (ch * ch + ch) + 2 * (xa.contextDim * ch + ch) : 0);
  const inC = config.inputShape[2] * patchOf(config) ** 2;
  const conv = (k: number, a: number, b: number) => k * k * a * b + b;
  const res = (a: number, b: number) => 2 * a + conv(3, a, b) + tembDim * b + b + 2 * b + conv(3, b, b) + (a === b ? 0 : conv(1, a, b));
  let n = channels[0] * tembDim + tembDim + tembDim * tembDim + tembDim;
  if (numClasses > 0) n += (numClasses + 1) * tembDim;
  n += conv(3, inC, channels[0]);
  let c = channels[0];
  const skips: number[] = [];
  for (const ci of channels) {
    for (let j = 0; j < numResBlocks; j++) {
      n += res(c, ci);
      c = ci;
      n += xattn(c);
      skips.push(c);
    }
  }
  if (attn) n += 2 * c + 4 * (c * c + c);
  n += xattn(c);
  for (let i = channels.length - 1; i >= 0; i--) {
    for (let j = 0; j < numResBlocks; j++) {
      n += res(c + (skips.pop() as number), channels[i]);
      c = channels[i];
      n += xattn(c);
    }
  }
  n += 2 * c + conv(3, c, inC);
  return n;
}
