/**
 * A tiny CLIP (Radford et al. 2021) for 28×28 MNIST digits and short style captions: a text transformer and an
 * image CNN map into one embedding space, trained so that matching (image, caption) pairs have the larger
 * cosine similarity (symmetric InfoNCE, §2.3 and Figure 3 of the paper).
 *
 *   text:  ids ─ oneHot × text.tokenEmb + text.posEmb ─ layers × pre-norm block (causal MHA, MLP) ─ text.lnFinal
 *          = states [N, L, d];  states at the first <eos> × text.proj ─ L2-normalise = text embedding [N, E]
 *   image: x ─ conv0 ─ SiLU ─ avgPool ─ conv1 ─ SiLU ─ avgPool ─ conv2 ─ SiLU ─ reduce (1×1) ─ flatten 7·7·c_f
 *          ─ fc ─ SiLU ─ proj ─ L2-normalise = image embedding [N, E]
 *   logits = exp(min(logitScale, ln 100)) · imageEmb · textEmbᵀ
 *
 * The image encoder flattens its 7×7 map instead of pooling it globally, so where the ink is (a digit's width
 * and slant) and how much of it there is (stroke thickness) stay readable by the dense layers. The text encoder
 * is causal like CLIP's: every state at or before <eos> is independent of what follows it (the pads).
 * Only ops with right gradients on wasm: token ids enter by oneHot × matrix (tf.gather's gradient is missing on
 * wasm), <eos> states are picked by a one-hot mask × sum, downsampling is avgPool (wasm MaxPoolGrad is wrong).
 *
 * Parameter names (d = width, E = embedDim, V = vocabSize, L = contextLength, c_i = imageChannels[i]):
 * | name                                             | shape              | role                              |
 * |--------------------------------------------------|--------------------|-----------------------------------|
 * | `text.tokenEmb`, `text.posEmb`                    | [V, d], [L, d]     | token and learned position tables |
 * | `text.block{i}.ln1/.ln2.gamma/.beta`              | [d]                | pre-norm LayerNorms               |
 * | `text.block{i}.attn.{q,k,v,out}.w/.b`             | [d, d], [d]        | causal multi-head self-attention  |
 * | `text.block{i}.mlp.fc.w/.b`, `.mlp.proj.w/.b`     | [d, r·d], [r·d, d] | feed-forward, QuickGELU           |
 * | `text.lnFinal.gamma/.beta`, `text.proj`           | [d], [d, E]        | final LayerNorm, projection       |
 * | `image.conv{0,1,2}.w/.b`                          | [3, 3, c_in, c_i]  | 3×3 convs at 28, 14, 7            |
 * | `image.reduce.w/.b`                               | [1, 1, c_2, c_f]   | channel reduction before flatten  |
 * | `image.fc.w/.b`, `image.proj.w/.b`                | [49·c_f, H], [H, E]| dense head                        |
 * | `logitScale`                                      | []                 | log inverse temperature           |
 */
import * as tf from '@tensorflow/tfjs-core';
import { assignWeights, encodeWeights, loadWeightsFromUrl, weightsFromTensors, type EncodeOptions, type NamedWeights, type WeightsModelJson } from './io';
import {
  conv2d,
  createConv2d,
  createDense,
  createLayerNorm,
  createTransformerBlock,
  dense,
  downsample2x,
  layerNorm,
  ParamStore,
  silu,
  transformerBlock,
  type Conv2dParams,
  type DenseParams,
  type LayerNormParams,
  type TransformerBlockParams,
} from './nn';

export interface ClipConfig {
  /** Number of token ids (the tokenizer's vocabulary, specials included). */
  vocabSize: number;
  /** Tokens per caption L, <eos> included. */
  contextLength: number;
  /** Transformer width d. */
  width: number;
  /** Attention heads (must divide width). */
  heads: number;
  /** Transformer blocks. */
  layers: number;
  /** MLP hidden width = mlpRatio · d. */
  mlpRatio: number;
  /** Joint embedding size E. */
  embedDim: number;
  /** Channels of the three 3×3 convs (at 28×28, 14×14 and 7×7). */
  imageChannels: [number, number, number];
  /** Channels c_f after the 1×1 reduction; the flattened 7×7×c_f map feeds the dense head. */
  imageFlatChannels: number;
  /** Hidden width H of the image's dense head. */
  imageHidden: number;
  /** Token id of <eos>; the text embedding is read at its first occurrence. */
  eosId: number;
  /** Token id of <pad> (after <eos>). */
  padId: number;
}

/** The default tiny CLIP: 242,129 parameters (text 109,056, image 133,072, logitScale 1); 484 KB as float16. */
export const DEFAULT_CLIP_CONFIG: Readonly<ClipConfig> = {
  vocabSize: 64,
  contextLength: 12,
  width: 64,
  heads: 4,
  layers: 2,
  mlpRatio: 4,
  embedDim: 64,
  imageChannels: [16, 32, 64],
  imageFlatChannels: 16,
  imageHidden: 128,
  eosId: 2,
  padId: 0,
};

/** Input images are MNIST-sized: [N, 28, 28, 1] in [−1, 1]. */
export const CLIP_IMAGE_SHAPE: readonly [number, number, number] = [28, 28, 1];
/** logitScale starts at ln(1/0.07) (temperature 0.07) and is clamped at ln 100 in the forward pass (§2.5). */
export const INITIAL_LOGIT_SCALE = Math.log(1 / 0.07);
export const MAX_LOGIT_SCALE = Math.log(100);

/** Throw unless the configuration can build a CLIP. */
export function validateClipConfig(c: ClipConfig): void {
  const problems: string[] = [];
  const posInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;
  for (const key of ['vocabSize', 'contextLength', 'width', 'heads', 'layers', 'mlpRatio', 'embedDim', 'imageFlatChannels', 'imageHidden'] as const) {
    if (!posInt(c[key])) problems.push(`${key} must be a positive integer, got ${JSON.stringify(c[key])}`);
  }
  if (posInt(c.width) && posInt(c.heads) && c.width % c.heads !== 0) problems.push(`${c.heads} heads do not divide width ${c.width}`);
  if (!Array.isArray(c.imageChannels) || c.imageChannels.length !== 3 || !c.imageChannels.every(posInt)) {
    problems.push('imageChannels must be three positive integers');
  }
  for (const key of ['eosId', 'padId'] as const) {
    if (!Number.isInteger(c[key]) || c[key] < 0 || c[key] >= c.vocabSize) problems.push(`${key} ${c[key]} is not a token id below vocabSize ${c.vocabSize}`);
  }
  if (c.eosId === c.padId) problems.push('eosId and padId must differ');
  if (problems.length > 0) throw new Error(`invalid ClipConfig: ${problems.join('; ')}`);
}

/** Every parameter's shape by name, in the order createClip creates them (the weight file's order). */
export function clipParamShapes(config: ClipConfig): Record<string, number[]> {
  validateClipConfig(config);
  const { vocabSize: V, contextLength: L, width: d, layers, mlpRatio, embedDim: E, imageFlatChannels: cf, imageHidden: H } = config;
  const [c0, c1, c2] = config.imageChannels;
  const shapes: Record<string, number[]> = { 'text.tokenEmb': [V, d], 'text.posEmb': [L, d] };
  const denseShapes = (name: string, i: number, o: number) => {
    shapes[`${name}.w`] = [i, o];
    shapes[`${name}.b`] = [o];
  };
  const convShapes = (name: string, k: number, i: number, o: number) => {
    shapes[`${name}.w`] = [k, k, i, o];
    shapes[`${name}.b`] = [o];
  };
  const lnShapes = (name: string) => {
    shapes[`${name}.gamma`] = [d];
    shapes[`${name}.beta`] = [d];
  };
  for (let i = 0; i < layers; i++) {
    const b = `text.block${i}`;
    lnShapes(`${b}.ln1`);
    for (const p of ['q', 'k', 'v', 'out']) denseShapes(`${b}.attn.${p}`, d, d);
    lnShapes(`${b}.ln2`);
    denseShapes(`${b}.mlp.fc`, d, mlpRatio * d);
    denseShapes(`${b}.mlp.proj`, mlpRatio * d, d);
  }
  lnShapes('text.lnFinal');
  shapes['text.proj'] = [d, E];
  convShapes('image.conv0', 3, CLIP_IMAGE_SHAPE[2], c0);
  convShapes('image.conv1', 3, c0, c1);
  convShapes('image.conv2', 3, c1, c2);
  convShapes('image.reduce', 1, c2, cf);
  denseShapes('image.fc', (CLIP_IMAGE_SHAPE[0] / 4) * (CLIP_IMAGE_SHAPE[1] / 4) * cf, H);
  denseShapes('image.proj', H, E);
  shapes.logitScale = [];
  return shapes;
}

/** Parameter counts by part: the text encoder (tables, blocks, final LN + projection), the image encoder, logitScale. */
export function countClipParams(config: ClipConfig): {
  tokenEmbedding: number;
  positionEmbedding: number;
  textBlocks: number;
  textHead: number;
  text: number;
  image: number;
  logitScale: number;
  total: number;
} {
  const shapes = clipParamShapes(config);
  const size = (name: string) => shapes[name].reduce((a, b) => a * b, 1);
  const sumWhere = (pred: (name: string) => boolean) => Object.keys(shapes).filter(pred).reduce((s, n) => s + size(n), 0);
  const tokenEmbedding = size('text.tokenEmb');
  const positionEmbedding = size('text.posEmb');
  const textBlocks = sumWhere((n) => n.startsWith('text.block'));
  const textHead = sumWhere((n) => n.startsWith('text.lnFinal') || n === 'text.proj');
  const image = sumWhere((n) => n.startsWith('image.'));
  const text = tokenEmbedding + positionEmbedding + textBlocks + textHead;
  return { tokenEmbedding, positionEmbedding, textBlocks, textHead, text, image, logitScale: 1, total: text + image + 1 };
}

/** The model's layers, structured (the same variables as `params`). */
export interface ClipModules {
  text: {
    tokenEmb: tf.Variable;
    posEmb: tf.Variable;
    blocks: TransformerBlockParams[];
    lnFinal: LayerNormParams;
    proj: tf.Variable;
  };
  image: {
    convs: [Conv2dParams, Conv2dParams, Conv2dParams];
    reduce: Conv2dParams;
    fc: DenseParams;
    proj: DenseParams;
  };
}

export interface ClipModel {
  readonly config: Readonly<ClipConfig>;
  /** Name → trainable variable in file order (what scripts/lib/trainer.ts optimises and saves). */
  readonly params: Record<string, tf.Variable>;
  /** The scalar log inverse temperature (also `params.logitScale`). */
  readonly logitScale: tf.Variable;
  readonly modules: ClipModules;
  paramCount(): number;
  /** Copies of every parameter (async reads). */
  getWeights(): Promise<NamedWeights>;
  /** Overwrite every parameter by name; throws on missing, unknown or mis-shaped weights. */
  setWeights(weights: NamedWeights, source?: string): void;
  dispose(): void;
}

/** Build a CLIP with deterministic initial weights from `seed` (identical on every backend). */
export function createClip(config: ClipConfig, seed: number): ClipModel {
  validateClipConfig(config);
  const cfg: Readonly<ClipConfig> = { ...config, imageChannels: [...config.imageChannels] };
  const { vocabSize: V, contextLength: L, width: d, heads, layers, mlpRatio, embedDim: E } = cfg;
  const [c0, c1, c2] = cfg.imageChannels;
  const store = new ParamStore(seed);
  // CLIP's init (its model.py): token table std 0.02, positions std 0.01, residual writers scaled by 1/(2·layers).
  const uniformStd = (std: number) => ({ kind: 'uniform' as const, limit: std * Math.sqrt(3) });
  const tokenEmb = store.create('text.tokenEmb', [V, d], uniformStd(0.02));
  const posEmb = store.create('text.posEmb', [L, d], uniformStd(0.01));
  const blocks = Array.from({ length: layers }, (_, i) => createTransformerBlock(store, `text.block${i}`, d, heads, mlpRatio * d, 1 / (2 * layers)));
  const lnFinal = createLayerNorm(store, 'text.lnFinal', d);
  const textProj = store.create('text.proj', [d, E], uniformStd(1 / Math.sqrt(d)));
  // He-scaled convs and hidden dense (each feeds a SiLU); the 1×1 reduction and the projection are linear.
  const convs: [Conv2dParams, Conv2dParams, Conv2dParams] = [
    createConv2d(store, 'image.conv0', 3, CLIP_IMAGE_SHAPE[2], c0, 2),
    createConv2d(store, 'image.conv1', 3, c0, c1, 2),
    createConv2d(store, 'image.conv2', 3, c1, c2, 2),
  ];
  const reduce = createConv2d(store, 'image.reduce', 1, c2, cfg.imageFlatChannels);
  const flat = (CLIP_IMAGE_SHAPE[0] / 4) * (CLIP_IMAGE_SHAPE[1] / 4) * cfg.imageFlatChannels;
  const fc = createDense(store, 'image.fc', flat, cfg.imageHidden, 2);
  const imageProj = createDense(store, 'image.proj', cfg.imageHidden, E);
  const logitScale = store.create('logitScale', [], { kind: 'ones' });
  tf.tidy(() => logitScale.assign(tf.scalar(INITIAL_LOGIT_SCALE)));

  const params = Object.fromEntries(store.variables) as Record<string, tf.Variable>;
  return {
    config: cfg,
    params,
    logitScale,
    modules: { text: { tokenEmb, posEmb, blocks, lnFinal, proj: textProj }, image: { convs, reduce, fc, proj: imageProj } },
    paramCount: () => store.count(),
    getWeights: () => weightsFromTensors(params),
    setWeights: (weights, source = 'CLIP weights') => assignWeights(params, weights, source),
    dispose: () => store.dispose(),
  };
}

/** Rows scaled to unit L2 norm: x / √(Σ x² + 1e-12); caller disposes. */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12))) as tf.Tensor2D);
}

/** What the text encoder returns; the caller disposes every tensor (e.g. `tf.dispose(Object.values(enc))`). */
export interface TextEncoding {
  /** [N, E], unit L2 norm. */
  embedding: tf.Tensor2D;
  /** [N, L, d]: the final-LayerNorm state of every token (for a cross-attention denoiser). */
  states: tf.Tensor3D;
  /** [N] int32: position of the first <eos> (L − 1 for a row without one). */
  eosIndex: tf.Tensor1D;
  /** [N, L] float32: 1 at positions ≤ eosIndex, 0 after (a key mask for cross-attention). */
  tokenMask: tf.Tensor2D;
}

function checkIds(model: ClipModel, ids: tf.Tensor2D): void {
  const L = model.config.contextLength;
  if (ids.rank !== 2 || ids.shape[1] !== L) throw new Error(`CLIP text encoder expects ids [N, ${L}], got [${ids.shape}]`);
  if (ids.dtype !== 'int32') throw new Error(`CLIP text encoder expects int32 ids, got ${ids.dtype}`);
}

/** [N, L] one-hot of the first <eos> per row (the last position when a row has none). */
function eosSelector(ids: tf.Tensor2D, eosId: number): tf.Tensor2D {
  const L = ids.shape[1];
  const isEos = tf.cast(tf.equal(ids, eosId), 'float32');
  const first = tf.mul(isEos, tf.cast(tf.equal(tf.cumsum(isEos, 1), 1), 'float32'));
  const missing = tf.sub(1, tf.sum(first, 1, true));
  return tf.add(first, tf.mul(missing, tf.oneHot(tf.tensor1d([L - 1], 'int32'), L))) as tf.Tensor2D;
}

/** Token states [N, L, d] after the final LayerNorm (causal: state i depends on tokens 0…i only); caller disposes. */
export function textStates(model: ClipModel, ids: tf.Tensor2D): tf.Tensor3D {
  checkIds(model, ids);
  const { vocabSize: V, width: d } = model.config;
  const t = model.modules.text;
  return tf.tidy(() => {
    const [n, L] = ids.shape;
    // oneHot × table, not tf.gather: gather's gradient (UnsortedSegmentSum) is missing on wasm.
    const oneHot = tf.cast(tf.oneHot(tf.reshape(ids, [n * L]) as tf.Tensor1D, V), 'float32') as tf.Tensor2D;
    let x = tf.add(tf.reshape(tf.matMul(oneHot, t.tokenEmb as tf.Tensor2D), [n, L, d]), t.posEmb) as tf.Tensor3D;
    for (const block of t.blocks) x = transformerBlock(block, x, { causal: true });
    return layerNorm(t.lnFinal, x);
  });
}

/** Text encoder: embedding, states, <eos> positions and token mask for ids [N, L] int32; caller disposes all. */
export function encodeText(model: ClipModel, ids: tf.Tensor2D): TextEncoding {
  checkIds(model, ids);
  return tf.tidy(() => {
    const states = textStates(model, ids);
    const select = eosSelector(ids, model.config.eosId);
    const pooled = tf.sum(tf.mul(states, tf.expandDims(select, 2)), 1) as tf.Tensor2D; // [N, d]
    const embedding = l2Normalize(tf.matMul(pooled, model.modules.text.proj as tf.Tensor2D));
    const eosIndex = tf.cast(tf.argMax(select, 1), 'int32') as tf.Tensor1D;
    const tokenMask = tf.sub(1, tf.cumsum(select, 1, true)) as tf.Tensor2D;
    return { embedding, states, eosIndex, tokenMask };
  });
}

/** Just the unit-norm text embedding [N, E] (what the contrastive loss needs); caller disposes. */
export function textEmbedding(model: ClipModel, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => encodeText(model, ids).embedding);
}

/** Image encoder: x [N, 28, 28, 1] in [−1, 1] → unit-norm embedding [N, E]; caller disposes. */
export function encodeImage(model: ClipModel, x: tf.Tensor4D): tf.Tensor2D {
  const [, h, w, c] = x.shape;
  if (x.rank !== 4 || h !== CLIP_IMAGE_SHAPE[0] || w !== CLIP_IMAGE_SHAPE[1] || c !== CLIP_IMAGE_SHAPE[2]) {
    throw new Error(`CLIP image encoder expects [N, ${CLIP_IMAGE_SHAPE}], got [${x.shape}]`);
  }
  const m = model.modules.image;
  return tf.tidy(() => {
    let hidden = downsample2x(silu(conv2d(m.convs[0], x)));
    hidden = downsample2x(silu(conv2d(m.convs[1], hidden)));
    hidden = conv2d(m.reduce, silu(conv2d(m.convs[2], hidden)));
    const flat = tf.reshape(hidden, [x.shape[0], -1]) as tf.Tensor2D;
    return l2Normalize(dense(m.proj, silu(dense(m.fc, flat))));
  });
}

/** Cosine similarities [N_img, N_txt] of unit-norm embeddings; caller disposes. */
export function similarity(imageEmb: tf.Tensor2D, textEmb: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(imageEmb, tf.transpose(textEmb)));
}

/** CLIP logits exp(min(logitScale, ln 100)) · imageEmb · textEmbᵀ [N_img, N_txt]; caller disposes. */
export function clipLogits(imageEmb: tf.Tensor2D, textEmb: tf.Tensor2D, logitScale: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => tf.mul(tf.exp(tf.minimum(logitScale, MAX_LOGIT_SCALE)), similarity(imageEmb, textEmb)) as tf.Tensor2D);
}

/** For each image, a softmax over the given captions with the model's temperature [N_img, N_txt]; caller disposes. */
export function matchProbabilities(model: ClipModel, imageEmb: tf.Tensor2D, textEmb: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(clipLogits(imageEmb, textEmb, model.logitScale)));
}

/** −mean_i Σ_j P_ij log softmax_j(logits_i): cross-entropy of row-softmaxes against row-normalised targets. */
function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  const p = tf.div(targets, tf.sum(targets, 1, true));
  return tf.neg(tf.mean(tf.sum(tf.mul(p, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

/**
 * Symmetric InfoNCE (Radford et al. 2021, Figure 3): the mean of the cross-entropy over rows (image → text) and
 * over columns (text → image) of the logits exp(min(logitScale, ln 100)) · imageEmb · textEmbᵀ. By default the
 * targets are the identity (pair i matches caption i), as in CLIP; then N_img = N_txt.
 *
 * Our variation: `targets` [N_img, N_txt] with 1 where caption j describes image i. Style captions repeat
 * within a batch (many thin upright 3s), and CLIP's identity targets would push such a digit away from its
 * other correct captions (false negatives). Each row, and each column for the text → image direction, is
 * normalised to sum 1 and used as a soft target; every row and column needs at least one positive.
 * Returns a scalar the caller disposes; nothing passed in is disposed.
 */
export function clipLoss(imageEmb: tf.Tensor2D, textEmb: tf.Tensor2D, logitScale: tf.Tensor, targets?: tf.Tensor2D): tf.Scalar {
  const [ni, nt] = [imageEmb.shape[0], textEmb.shape[0]];
  if (targets ? targets.shape[0] !== ni || targets.shape[1] !== nt : ni !== nt) {
    throw new Error(`clipLoss: ${ni} images and ${nt} captions need ${targets ? `targets [${ni}, ${nt}], got [${targets.shape}]` : 'targets when the counts differ'}`);
  }
  return tf.tidy(() => {
    const logits = clipLogits(imageEmb, textEmb, logitScale);
    const t = targets ? tf.cast(targets, 'float32') : tf.eye(ni);
    const imageToText = softCrossEntropy(logits, t as tf.Tensor2D);
    const textToImage = softCrossEntropy(tf.transpose(logits), tf.transpose(t));
    return tf.mul(tf.add(imageToText, textToImage), 0.5) as tf.Scalar;
  });
}

/** [N, N] targets with 1 where keys i and j are equal (e.g. the caption strings of a batch); caller disposes. */
export function matchTargets(keys: readonly (string | number)[]): tf.Tensor2D {
  const n = keys.length;
  const values = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) values[i * n + j] = keys[i] === keys[j] ? 1 : 0;
  return tf.tensor2d(values, [n, n]);
}

/** The training loss of a batch: clipLoss of encodeImage(x) and the text embeddings of ids; caller disposes. */
export function clipBatchLoss(model: ClipModel, x: tf.Tensor4D, ids: tf.Tensor2D, targets?: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => clipLoss(encodeImage(model, x), textEmbedding(model, ids), model.logitScale, targets));
}

/** What a CLIP model.json records besides its weights (e.g. the tokenizer's vocabulary, under other keys). */
export interface ClipMetadata {
  name: string;
  config: ClipConfig;
  [key: string]: unknown;
}

/** Check `metadata` describes a CLIP; throws an Error naming `source`. */
export function parseClipMetadata(metadata: Record<string, unknown>, source: string): ClipMetadata {
  const config = metadata.config as ClipConfig | undefined;
  if (!config || typeof config !== 'object') throw new Error(`${source}: model.json has no CLIP configuration (userDefinedMetadata.config)`);
  try {
    validateClipConfig(config);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  return { ...metadata, name: String(metadata.name ?? 'clip'), config };
}

/** Build a CLIP from decoded weights and their metadata; disposes it again if the weights do not fit. */
export function clipFromWeights(weights: NamedWeights, metadata: Record<string, unknown>, source = 'CLIP weights'): ClipModel {
  const { config } = parseClipMetadata(metadata, source);
  const model = createClip(config, 0);
  try {
    model.setWeights(weights, source);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Fetch `<baseUrl>/model.json` and its weights and build the CLIP. */
export async function loadClip(baseUrl: string, fetchImpl: typeof fetch = fetch): Promise<{ clip: ClipModel; metadata: ClipMetadata }> {
  const { weights, metadata: raw } = await loadWeightsFromUrl(baseUrl, fetchImpl);
  const metadata = parseClipMetadata(raw, baseUrl);
  return { clip: clipFromWeights(weights, metadata, baseUrl), metadata };
}

/** Encode a CLIP and its metadata as {modelJson, weightData} (async: reads the weights). */
export async function encodeClip(
  model: ClipModel,
  metadata: Omit<ClipMetadata, 'config'>,
  opts: Omit<EncodeOptions, 'metadata'> = {},
): Promise<{ modelJson: WeightsModelJson; weightData: ArrayBuffer }> {
  return encodeWeights(await model.getWeights(), { ...opts, metadata: { ...metadata, config: model.config } });
}
