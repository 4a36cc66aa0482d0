/**
 * Cross-attention maps for display (no tfjs): picking one map out of a text2img result's `attention` (see
 * src/workers/api.ts), checking that its weights sum to 1 over the prompt's real tokens, and drawing it upsampled
 * over its sample as an RGB PNG data URL.
 */
import { encodePng } from '../../core/png';

/** The part of a text2img result's `attention` the page reads. */
export interface AttentionMaps {
  layers: string[];
  steps: number[];
  positions: [number, number];
  tokens: number;
  /** [steps × layers × count × positions × tokens] */
  maps: Float32Array;
  /** [layers × count × positions × tokens] */
  mean: Float32Array;
}

/** Which maps: a kept step's index into `steps` (−1: the mean over every step), a layer index (−1: their mean). */
export interface AttentionView {
  step: number;
  layer: number;
}

/** The weights [positions × tokens] of one sample under a view, averaged over the layers when layer = −1. */
export function sampleWeights(a: AttentionMaps, count: number, sample: number, view: AttentionView): Float32Array {
  const [ph, pw] = a.positions;
  const block = ph * pw * a.tokens;
  const L = a.layers.length;
  const source = view.step < 0 ? a.mean : a.maps.subarray(view.step * L * count * block, (view.step + 1) * L * count * block);
  const layers = view.layer < 0 ? a.layers.map((_, k) => k) : [view.layer];
  const out = new Float32Array(block);
  for (const l of layers) {
    const o = (l * count + sample) * block;
    for (let i = 0; i < block; i++) out[i] += source[o + i] / layers.length;
  }
  return out;
}

/** One token's column of a [positions × tokens] weight array: the map [positions]. */
export function tokenMap(weights: Float32Array, tokens: number, token: number): Float32Array {
  const n = weights.length / tokens;
  return Float32Array.from({ length: n }, (_, p) => weights[p * tokens + token]);
}

/**
 * Over every position of the given weights: the least and largest sum over the first `real` tokens (should both be
 * 1: softmax over the prompt's tokens) and the largest weight on a pad token (should be 0).
 */
export function tokenSums(weights: Float32Array, tokens: number, real: number): { min: number; max: number; padMax: number } {
  let min = Infinity;
  let max = -Infinity;
  let padMax = 0;
  for (let p = 0; p < weights.length / tokens; p++) {
    let s = 0;
    for (let k = 0; k < tokens; k++) {
      const v = weights[p * tokens + k];
      if (k < real) s += v;
      else if (v > padMax) padMax = v;
    }
    if (s < min) min = s;
    if (s > max) max = s;
  }
  return { min, max, padMax };
}

/** Bilinear upsampling of a [h × w] map to [H × W] (pixel centres aligned, edges held: align_corners = false). */
export function upsample(map: ArrayLike<number>, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(H * W);
  const at = (y: number, x: number) => map[(y < 0 ? 0 : y >= h ? h - 1 : y) * w + (x < 0 ? 0 : x >= w ? w - 1 : x)];
  for (let Y = 0; Y < H; Y++) {
    const sy = ((Y + 0.5) * h) / H - 0.5;
    const y0 = Math.floor(sy);
    const fy = sy - y0;
    for (let X = 0; X < W; X++) {
      const sx = ((X + 0.5) * w) / W - 0.5;
      const x0 = Math.floor(sx);
      const fx = sx - x0;
      const top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx;
      const bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx;
      out[Y * W + X] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** The heat colour of a ∈ [0, 1]: dark red → orange → pale yellow. */
export function heat(a: number): [number, number, number] {
  const t = a <= 0 ? 0 : a >= 1 ? 1 : a;
  return [Math.round(120 + 135 * Math.sqrt(t)), Math.round(20 + 215 * t), Math.round(20 + 140 * t * t)];
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/**
 * A 28×28 (or `size`) digit in [−1, 1] with a map [h × w] upsampled over it: each pixel blends the digit's grey with
 * heat(value / vmax) by 0.85 · value / vmax. An RGB PNG data URL.
 */
export function overlayDataUrl(image: ArrayLike<number>, offset: number, map: ArrayLike<number>, h: number, w: number, vmax: number, size = 28): string {
  const up = upsample(map, h, w, size, size);
  const rgb = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    const g = (image[offset + i] + 1) * 127.5;
    const grey = g <= 0 ? 0 : g >= 255 ? 255 : g;
    const a = vmax > 0 ? up[i] / vmax : 0;
    const alpha = 0.85 * (a <= 0 ? 0 : a >= 1 ? 1 : a);
    const c = heat(a);
    for (let k = 0; k < 3; k++) rgb[i * 3 + k] = Math.round(grey * (1 - alpha) + c[k] * alpha);
  }
  return `data:image/png;base64,${base64(encodePng(rgb, size, size, { channels: 3 }))}`;
}
