/**
 * Pure helper behind <SdComparison> (build time only, no DOM, no fs): our text-to-image pipeline beside Stable
 * Diffusion v1, stage by stage. Ours is read from the shipped model files (their stored configs and parameter
 * counts), Stable Diffusion's from the one constants module, stableDiffusion.ts.
 */
import { getPath, formatNumber } from './values';
import type { ShippedModel } from './files';
import { STABLE_DIFFUSION_V1, countWords, shapeSize, shapeText } from './stableDiffusion';

/** What the component needs of our models: the parsed model.json (or config.json) of each and their parameter counts. */
export interface OurPipelineFiles {
  /** models/clip-mnist/model.json (its userDefinedMetadata.config: contextLength, vocabSize, width, layers). */
  clip: unknown;
  /** models/text2img-mnist/model.json (its config: inputShape, crossAttention.contextDim). */
  denoiser: unknown;
  /** models/latent-mnist/autoencoder/model.json (its config: inputShape). */
  autoencoder: unknown;
  /** Parameter counts read from the weights (files.ts shippedParamCount); null when a file is missing. */
  counts: { clipText: number | null; denoiser: number | null; autoencoder: number | null };
}

export interface ComparisonCell {
  text: string;
  value: number | null;
  /** A parameter count of a shipped model: the component renders it with <ParamCount> so the content check sees it. */
  param?: { model: ShippedModel; part?: string };
}

export interface ComparisonRow {
  key: string;
  /** The stage of the pipeline the row belongs to. */
  stage: string;
  label: string;
  ours: ComparisonCell;
  sd: { text: string; value: number; approximate: boolean };
  /** Stable Diffusion's value over ours ("6.4×", "≈ 3,000×"); null when ours is missing. */
  ratio: string | null;
}

export interface SdComparisonView {
  rows: ComparisonRow[];
  /** Inconsistencies between our files (e.g. the denoiser reads states of another width than the text encoder writes). */
  problems: string[];
  /** Rows whose value of ours is missing. */
  missing: string[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const shape = (v: unknown): number[] | null => (Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x > 0) ? (v as number[]) : null);

/** A model file's stored config: model.json's userDefinedMetadata.config, or config.json's metadata.config. */
export function storedConfig(json: unknown): unknown {
  return getPath(json, 'userDefinedMetadata.config') ?? getPath(json, 'metadata.config');
}

/** A ratio as text: one decimal below 10, whole numbers below 100, two significant digits above; "≈" when approximate. */
export function ratioText(r: number, approximate: boolean): string {
  let t: string;
  if (r < 10) t = formatNumber(r, { digits: 1, bounds: [] });
  else if (r < 100) t = formatNumber(Math.round(r), { bounds: [] });
  else {
    const p = 10 ** (Math.floor(Math.log10(r)) - 1);
    t = formatNumber(Math.round(r / p) * p, { bounds: [] });
  }
  return `${approximate ? '≈ ' : ''}${t}×`;
}

const count = (n: number | null): string => (n === null ? '—' : formatNumber(n));
const shapeCell = (s: number[] | null): ComparisonCell => (s === null ? { text: '—', value: null } : { text: `${shapeText(s)} (${formatNumber(shapeSize(s))} numbers)`, value: shapeSize(s) });

/** Our pipeline and Stable Diffusion v1's, row by row in pipeline order. */
export function sdComparison(files: OurPipelineFiles): SdComparisonView {
  const SD = STABLE_DIFFUSION_V1;
  const clip = storedConfig(files.clip);
  const unet = storedConfig(files.denoiser);
  const ae = storedConfig(files.autoencoder);
  const contextLength = num(getPath(clip, 'contextLength'));
  const vocabSize = num(getPath(clip, 'vocabSize'));
  const width = num(getPath(clip, 'width'));
  const layers = num(getPath(clip, 'layers'));
  const latent = shape(getPath(unet, 'inputShape'));
  const contextDim = num(getPath(unet, 'crossAttention.contextDim'));
  const image = shape(getPath(ae, 'inputShape'));
  const shrink = image && latent ? image[0] / latent[0] : null;
  const { clipText, denoiser, autoencoder } = files.counts;
  const total = clipText !== null && denoiser !== null && autoencoder !== null ? clipText + denoiser + autoencoder : null;
  const sdTotal = SD.params.textEncoder + SD.params.unet + SD.params.autoencoder;

  const problems: string[] = [];
  if (width !== null && contextDim !== null && width !== contextDim) problems.push(`text2img-mnist's cross-attention reads states of width ${contextDim}, clip-mnist writes ${width}`);
  if (image && latent && (image[0] / latent[0] !== image[1] / latent[1] || !Number.isInteger(image[0] / latent[0]))) problems.push(`the autoencoder's ${shapeText(image)} and the denoiser's ${shapeText(latent)} latents do not shrink both sides by one whole factor`);

  const sdExact = (value: number, text = formatNumber(value)) => ({ text, value, approximate: false });
  const sdApprox = (value: number) => ({ text: `≈ ${countWords(value)}`, value, approximate: true });
  const plain = (v: number | null): ComparisonCell => ({ text: count(v), value: v });
  const params = (v: number | null, model: ShippedModel, part?: string): ComparisonCell => ({ text: count(v), value: v, param: { model, part } });

  const rows: Omit<ComparisonRow, 'ratio'>[] = [
    { key: 'vocab', stage: 'tokenizer', label: 'vocabulary (tokens it knows)', ours: plain(vocabSize), sd: sdExact(SD.vocabSize) },
    { key: 'tokens', stage: 'tokenizer', label: 'context: token positions per prompt', ours: plain(contextLength), sd: sdExact(SD.contextLength) },
    { key: 'textLayers', stage: 'text encoder', label: 'transformer blocks', ours: plain(layers), sd: sdExact(SD.textLayers) },
    { key: 'textWidth', stage: 'text encoder', label: 'numbers per token state (what cross-attention reads)', ours: plain(width), sd: sdExact(SD.textWidth) },
    { key: 'textParams', stage: 'text encoder', label: 'parameters (frozen while the denoiser trains)', ours: params(clipText, 'clip-mnist', 'text'), sd: sdApprox(SD.params.textEncoder) },
    { key: 'latent', stage: 'denoiser', label: 'latent it denoises', ours: shapeCell(latent), sd: sdExact(shapeSize(SD.latentShape), `${shapeText(SD.latentShape)} (${formatNumber(shapeSize(SD.latentShape))} numbers)`) },
    { key: 'denoiserParams', stage: 'denoiser', label: 'U-Net parameters, cross-attention included', ours: params(denoiser, 'text2img-mnist'), sd: sdApprox(SD.params.unet) },
    { key: 'image', stage: 'autoencoder', label: 'image it decodes to', ours: shapeCell(image), sd: sdExact(shapeSize(SD.imageShape), `${shapeText(SD.imageShape)} (${formatNumber(shapeSize(SD.imageShape))} numbers)`) },
    { key: 'shrink', stage: 'autoencoder', label: 'each side shrunk by', ours: plain(shrink), sd: sdExact(SD.downsampling) },
    {
      key: 'perLatent',
      stage: 'autoencoder',
      label: 'image numbers per latent number',
      ours: image && latent ? { text: formatNumber(shapeSize(image) / shapeSize(latent), { digits: 1, bounds: [] }).replace(/\.0$/, ''), value: shapeSize(image) / shapeSize(latent) } : plain(null),
      sd: sdExact(shapeSize(SD.imageShape) / shapeSize(SD.latentShape)),
    },
    { key: 'aeParams', stage: 'autoencoder', label: 'parameters (encoder and decoder)', ours: params(autoencoder, 'latent-mnist/autoencoder'), sd: sdApprox(SD.params.autoencoder) },
    { key: 'total', stage: 'all three networks', label: 'parameters', ours: plain(total), sd: sdApprox(sdTotal) },
  ];
  const missing = rows.filter((r) => r.ours.value === null).map((r) => `${r.stage}: ${r.label}`);
  return {
    rows: rows.map((r) => ({ ...r, ratio: r.ours.value !== null && r.ours.value > 0 ? ratioText(r.sd.value / r.ours.value, r.sd.approximate) : null })),
    problems,
    missing,
  };
}
