/**
 * Named weights ↔ the TensorFlow.js weights format: a `model.json` whose `weightsManifest` lists
 * `{paths, weights: [{name, shape, dtype, quantization?}]}` and a `.bin` of the values concatenated in
 * manifest order (little-endian). Quantisation follows tf.io's conventions, so `tf.io.decodeWeights`
 * reads our files too: `float16` (IEEE half), or `uint8`/`uint16` with value = q · scale + min.
 * Everything here is pure except `loadWeightsFromUrl` (fetch); Node file helpers live in scripts/lib.
 */
import * as tf from '@tensorflow/tfjs-core';

/** One weight: its shape and float32 values (row-major). */
export interface NamedWeight {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}
/** A named set of weights; the key order is the order in the file. */
export type NamedWeights = Record<string, NamedWeight>;

export type QuantizationDtype = 'float16' | 'uint8' | 'uint16';

export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization?: { dtype: QuantizationDtype; min?: number; scale?: number };
}
export interface WeightsManifestGroup {
  paths: string[];
  weights: WeightsManifestEntry[];
}
/** The `model.json` we write (a subset of tf.io.ModelJSON). */
export interface WeightsModelJson {
  format: string;
  generatedBy: string;
  convertedBy: null;
  modelTopology: Record<string, unknown>;
  weightsManifest: WeightsManifestGroup[];
  userDefinedMetadata?: Record<string, unknown>;
}

export interface EncodeOptions {
  /** Stored as `userDefinedMetadata` (model name, config, training summary …). */
  metadata?: Record<string, unknown>;
  /** Store weights as float16 or affine-quantised uint8/uint16 instead of float32. */
  quantize?: QuantizationDtype | null;
  /** Weights with fewer elements than this stay float32 (biases are tiny and sensitive). Default 0. */
  minQuantizeSize?: number;
  /** Name of the `.bin` file in `paths`. Default `weights.bin`. */
  binName?: string;
}

export const WEIGHTS_FORMAT = 'diffusion-lab-weights';
const BYTES: Record<QuantizationDtype | 'float32', number> = { float32: 4, float16: 2, uint16: 2, uint8: 1 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE 754 binary16 bits, round to nearest even (overflow → ±Infinity). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** IEEE 754 binary16 bits → number. */
export function float16BitsToFloat32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Affine quantisation range as tfjs-converter computes it: scale = (max − min)/qMax, min nudged so 0 is exact. */
export function affineQuantizationRange(min: number, max: number, dtype: 'uint8' | 'uint16'): { min: number; scale: number } {
  const qMax = dtype === 'uint8' ? 255 : 65535;
  if (!(max > min)) return { min, scale: 1 };
  const scale = (max - min) / qMax;
  const zeroPoint = Math.min(qMax, Math.max(0, Math.round(-min / scale)));
  return { min: -zeroPoint * scale, scale };
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Encode named weights as {modelJson, weightData}; the weights are not modified. */
export function encodeWeights(weights: NamedWeights, opts: EncodeOptions = {}): { modelJson: WeightsModelJson; weightData: ArrayBuffer } {
  const entries: WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const [name, w] of Object.entries(weights)) {
    const n = sizeOf(w.shape);
    if (w.data.length !== n) throw new Error(`encodeWeights: "${name}" has ${w.data.length} values for shape [${w.shape}]`);
    const entry: WeightsManifestEntry = { name, shape: [...w.shape], dtype: 'float32' };
    const q = opts.quantize && n >= (opts.minQuantizeSize ?? 0) ? opts.quantize : null;
    if (q === 'float16') {
      const bits = new Uint16Array(n);
      for (let i = 0; i < n; i++) bits[i] = float32ToFloat16Bits(w.data[i]);
      entry.quantization = { dtype: 'float16' };
      parts.push(new Uint8Array(bits.buffer));
    } else if (q === 'uint8' || q === 'uint16') {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < n; i++) {
        lo = Math.min(lo, w.data[i]);
        hi = Math.max(hi, w.data[i]);
      }
      if (n === 0) lo = hi = 0;
      const { min, scale } = affineQuantizationRange(lo, hi, q);
      const qMax = q === 'uint8' ? 255 : 65535;
      const out = q === 'uint8' ? new Uint8Array(n) : new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.min(qMax, Math.max(0, Math.round((w.data[i] - min) / scale)));
      entry.quantization = { dtype: q, min, scale };
      parts.push(new Uint8Array(out.buffer));
    } else {
      parts.push(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
    }
    entries.push(entry);
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const bin = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    bin.set(p, o);
    o += p.length;
  }
  const modelJson: WeightsModelJson = {
    format: WEIGHTS_FORMAT,
    generatedBy: 'diffusion-lab src/core/io.ts',
    convertedBy: null,
    modelTopology: {},
    weightsManifest: [{ paths: [opts.binName ?? 'weights.bin'], weights: entries }],
  };
  if (opts.metadata) modelJson.userDefinedMetadata = opts.metadata;
  return { modelJson, weightData: bin.buffer };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Check a parsed model.json and return its manifest entries and bin paths; throws naming `source`. */
export function validateModelJson(json: unknown, source = 'model.json'): { entries: WeightsManifestEntry[]; paths: string[] } {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}`);
  };
  if (!isObj(json)) fail('not a JSON object');
  const manifest = (json as Record<string, unknown>).weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) fail('no weightsManifest: not a TensorFlow.js weights file');
  const entries: WeightsManifestEntry[] = [];
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const group of manifest as unknown[]) {
    if (!isObj(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) fail('a weightsManifest group lacks paths or weights');
    const g = group as { paths: unknown[]; weights: unknown[] };
    for (const p of g.paths) {
      if (typeof p !== 'string' || p.length === 0) fail(`bad weights path ${JSON.stringify(p)}`);
      paths.push(p as string);
    }
    for (const e of g.weights) {
      if (!isObj(e) || typeof e.name !== 'string') fail('a weight entry has no name');
      const entry = e as Record<string, unknown> & { name: string };
      const shape = entry.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
        fail(`weight "${entry.name}" has a bad shape ${JSON.stringify(shape)}`);
      }
      if (entry.dtype !== 'float32') fail(`weight "${entry.name}" has dtype ${JSON.stringify(entry.dtype)}; only float32 is supported`);
      if (seen.has(entry.name)) fail(`weight "${entry.name}" is listed twice`);
      seen.add(entry.name);
      const q = entry.quantization;
      if (q !== undefined) {
        if (!isObj(q) || !['float16', 'uint8', 'uint16'].includes(q.dtype as string)) {
          fail(`weight "${entry.name}" has unknown quantization ${JSON.stringify(q)}`);
        }
        const qq = q as { dtype: string; min?: unknown; scale?: unknown };
        if (qq.dtype !== 'float16' && !(Number.isFinite(qq.min) && Number.isFinite(qq.scale))) {
          fail(`weight "${entry.name}" is ${qq.dtype}-quantised without a finite min and scale`);
        }
      }
      entries.push(entry as unknown as WeightsManifestEntry);
    }
  }
  return { entries, paths };
}

/** Bytes the manifest entries occupy in the .bin. */
export function expectedByteLength(entries: readonly WeightsManifestEntry[]): number {
  return entries.reduce((s, e) => s + sizeOf(e.shape) * BYTES[e.quantization?.dtype ?? 'float32'], 0);
}

function concatBuffers(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(data)) return new Uint8Array(data);
  const out = new Uint8Array(data.reduce((s, b) => s + b.byteLength, 0));
  let o = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

/**
 * Decode a parsed model.json and its weight data (one buffer, or one per path) into named float32 weights.
 * Throws an Error naming `source` (the model.json location) for a malformed manifest, a .bin of the wrong
 * length, or any NaN/Infinity in the decoded values.
 */
export function decodeWeights(
  modelJson: unknown,
  weightData: ArrayBuffer | ArrayBuffer[],
  source = 'model.json',
): { weights: NamedWeights; metadata: Record<string, unknown> } {
  const { entries, paths } = validateModelJson(modelJson, source);
  const bytes = concatBuffers(weightData);
  const expected = expectedByteLength(entries);
  const binName = `${paths.join(' + ')} (listed in ${source})`;
  if (bytes.length !== expected) {
    throw new Error(`${binName}: ${bytes.length < expected ? 'truncated' : 'too long'}: ${bytes.length} bytes, the manifest needs ${expected}`);
  }
  const weights: NamedWeights = {};
  let o = 0;
  for (const e of entries) {
    const n = sizeOf(e.shape);
    const q = e.quantization;
    const nBytes = n * BYTES[q?.dtype ?? 'float32'];
    const chunk = bytes.slice(o, o + nBytes); // a copy: aligned, and detached from the download buffer
    o += nBytes;
    let data: Float32Array;
    if (!q) data = new Float32Array(chunk.buffer);
    else if (q.dtype === 'float16') {
      const bits = new Uint16Array(chunk.buffer);
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = float16BitsToFloat32(bits[i]);
    } else {
      const qs = q.dtype === 'uint8' ? chunk : new Uint16Array(chunk.buffer);
      const { min, scale } = q as { min: number; scale: number };
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = qs[i] * scale + min;
    }
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(data[i])) {
        throw new Error(`${binName}: weight "${e.name}" contains ${data[i]} at index ${i}; the file is corrupt`);
      }
    }
    weights[e.name] = { shape: e.shape, data };
  }
  const meta = (modelJson as Record<string, unknown>).userDefinedMetadata;
  return { weights, metadata: isObj(meta) ? meta : {} };
}

/** Resolve a weights path against the URL of the model.json that lists it. */
function siblingUrl(modelJsonUrl: string, path: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('/')) return path;
  const q = modelJsonUrl.search(/[?#]/);
  const base = q >= 0 ? modelJsonUrl.slice(0, q) : modelJsonUrl;
  return base.slice(0, base.lastIndexOf('/') + 1) + path;
}

/**
 * Fetch `<baseUrl>/model.json` (or `baseUrl` itself when it ends in `.json`) and its weight files, and
 * decode them. Works wherever `fetch` does (browser, worker, Node ≥ 18). Errors name the failing URL.
 */
export async function loadWeightsFromUrl(
  baseUrl: string,
  fetchImpl: typeof fetch = fetch,
): Promise<{ weights: NamedWeights; metadata: Record<string, unknown>; modelJson: WeightsModelJson }> {
  const jsonUrl = /\.json([?#].*)?$/.test(baseUrl) ? baseUrl : baseUrl.replace(/\/?$/, '/') + 'model.json';
  const get = async (url: string) => {
    let res: Response;
    try {
      res = await fetchImpl(url);
    } catch (e) {
      throw new Error(`${url}: could not be fetched (${(e as Error).message})`);
    }
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
    return res;
  };
  const text = await (await get(jsonUrl)).text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${jsonUrl}: invalid JSON (${(e as Error).message})`);
  }
  const { paths } = validateModelJson(json, jsonUrl);
  const buffers = await Promise.all(paths.map(async (p) => (await get(siblingUrl(jsonUrl, p))).arrayBuffer()));
  const { weights, metadata } = decodeWeights(json, buffers, jsonUrl);
  return { weights, metadata, modelJson: json as WeightsModelJson };
}

/** Read variables (or any tensors) into named weights with async reads; nothing is disposed. */
export async function weightsFromTensors(params: Record<string, tf.Tensor>): Promise<NamedWeights> {
  const out: NamedWeights = {};
  for (const [name, t] of Object.entries(params)) {
    out[name] = { shape: [...t.shape], data: Float32Array.from(await t.data()) };
  }
  return out;
}

/**
 * Assign loaded weights to variables by name. Every variable needs a weight of the same shape; weights
 * that match no variable are an error too (a different model), unless `allowExtra`.
 */
export function assignWeights(
  params: Record<string, tf.Variable>,
  weights: NamedWeights,
  source = 'weights',
  opts: { allowExtra?: boolean } = {},
): void {
  const missing = Object.keys(params).filter((k) => !(k in weights));
  if (missing.length) throw new Error(`${source}: missing weight(s) ${missing.map((m) => `"${m}"`).join(', ')}`);
  if (!opts.allowExtra) {
    const extra = Object.keys(weights).filter((k) => !(k in params));
    if (extra.length) throw new Error(`${source}: unexpected weight(s) ${extra.map((m) => `"${m}"`).join(', ')} for this model`);
  }
  for (const [name, v] of Object.entries(params)) {
    const w = weights[name];
    if (w.shape.length !== v.shape.length || w.shape.some((d, i) => d !== v.shape[i])) {
      throw new Error(`${source}: weight "${name}" has shape [${w.shape}], the model expects [${v.shape}]`);
    }
  }
  for (const [name, v] of Object.entries(params)) {
    tf.tidy(() => v.assign(tf.tensor(weights[name].data, v.shape, 'float32')));
  }
}

/** Total number of values in a weight set (the parameter count). */
export function countParams(weights: NamedWeights | Record<string, { shape: readonly number[] }>): number {
  return Object.values(weights).reduce((s, w) => s + sizeOf(w.shape), 0);
}
