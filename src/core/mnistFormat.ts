/**
 * MNIST as the site ships it, without tfjs: the compact binary read by Node scripts, the browser worker and
 * build-time components alike, its pixel code (x = v/127.5 − 1 and back) and the fixed stratified split.
 *
 * File format (version 1, little-endian), usually gzip-compressed on disk (`mnist.bin.gz`):
 *
 * | offset | type       | field                                                   |
 * |--------|------------|---------------------------------------------------------|
 * | 0      | 4 × ASCII  | magic `DLMN`                                            |
 * | 4      | uint32     | format version (1)                                      |
 * | 8, 12  | uint32 × 2 | rows, cols (28, 28)                                     |
 * | 16, 20 | uint32 × 2 | train count, test (held-out) count                      |
 * | 24     | uint32     | seed of the split                                       |
 * | 28     | uint32     | CRC-32 of every byte after the header                   |
 * | 32     | uint8 …    | train images, test images (row-major, 0 … 255), then    |
 * |        |            | train labels, test labels (0 … 9)                       |
 */
import { crc32 } from './crc32';
import { Mulberry32Rng } from './rng';

export const MNIST_MAGIC = 'DLMN';
export const MNIST_VERSION = 1;
export const MNIST_HEADER_BYTES = 32;
export const MNIST_ROWS = 28;
export const MNIST_COLS = 28;
export const MNIST_PIXELS = MNIST_ROWS * MNIST_COLS;
export const MNIST_CLASSES = 10;

/** One split: `count` images of 784 uint8 pixels (0 = black … 255 = white ink) and their labels. */
export interface Split {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

export interface MnistData {
  readonly train: Split;
  readonly test: Split;
  readonly rows: number;
  readonly cols: number;
  /** Seed the train/held-out split was drawn with. */
  readonly seed: number;
}

/**
 * Stratified split: `testPerClass` examples of every class are held out, the rest train; both index
 * lists are shuffled with `seed`. Deterministic for a given (labels, testPerClass, seed).
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  testPerClass: number,
  seed: number,
  numClasses = MNIST_CLASSES,
): { train: Int32Array; test: Int32Array } {
  const rng = new Mulberry32Rng(seed);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const train: number[] = [];
  const test: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    if (byClass[c].length < testPerClass) {
      throw new Error(`stratifiedSplit: class ${c} has ${byClass[c].length} examples, fewer than ${testPerClass}`);
    }
    const idx = rng.shuffle(Int32Array.from(byClass[c]));
    for (let k = 0; k < idx.length; k++) (k < testPerClass ? test : train).push(idx[k]);
  }
  return { train: rng.shuffle(Int32Array.from(train)), test: rng.shuffle(Int32Array.from(test)) };
}

/** Encode two splits into the (uncompressed) binary format above. */
export function encodeMnist(data: { train: Split; test: Split; seed: number }): Uint8Array {
  const { train, test } = data;
  for (const [name, s] of [['train', train], ['test', test]] as const) {
    if (s.images.length !== s.count * MNIST_PIXELS || s.labels.length !== s.count) {
      throw new Error(`encodeMnist: ${name} split has inconsistent sizes`);
    }
  }
  const out = new Uint8Array(MNIST_HEADER_BYTES + (train.count + test.count) * (MNIST_PIXELS + 1));
  let o = MNIST_HEADER_BYTES;
  for (const part of [train.images, test.images, train.labels, test.labels]) {
    out.set(part, o);
    o += part.length;
  }
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = MNIST_MAGIC.charCodeAt(i);
  view.setUint32(4, MNIST_VERSION, true);
  view.setUint32(8, MNIST_ROWS, true);
  view.setUint32(12, MNIST_COLS, true);
  view.setUint32(16, train.count, true);
  view.setUint32(20, test.count, true);
  view.setUint32(24, data.seed >>> 0, true);
  view.setUint32(28, crc32(out.subarray(MNIST_HEADER_BYTES)), true);
  return out;
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Parse the uncompressed binary; throws an Error saying what is wrong with a bad file. Views, no copies. */
export function parseMnist(bytes: Uint8Array, source = 'MNIST data'): MnistData {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}`);
  };
  if (isGzip(bytes)) fail('the file is still gzip-compressed; decode it with decodeMnistFile()');
  if (bytes.length < MNIST_HEADER_BYTES) {
    fail(`truncated: ${bytes.length} bytes, smaller than the ${MNIST_HEADER_BYTES}-byte header`);
  }
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== MNIST_MAGIC) fail(`not a Diffusion Lab MNIST file (magic ${JSON.stringify(magic)}, expected "${MNIST_MAGIC}")`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== MNIST_VERSION) fail(`format version ${version}, this code reads version ${MNIST_VERSION}; regenerate it with scripts/prepare-data.ts`);
  const rows = view.getUint32(8, true);
  const cols = view.getUint32(12, true);
  if (rows !== MNIST_ROWS || cols !== MNIST_COLS) fail(`images are ${rows}×${cols}, expected ${MNIST_ROWS}×${MNIST_COLS}`);
  const nTrain = view.getUint32(16, true);
  const nTest = view.getUint32(20, true);
  const expected = MNIST_HEADER_BYTES + (nTrain + nTest) * (MNIST_PIXELS + 1);
  if (bytes.length !== expected) {
    fail(`${bytes.length < expected ? 'truncated' : 'too long'}: ${bytes.length} bytes, the header promises ${expected} (${nTrain} train + ${nTest} held-out images)`);
  }
  const payload = bytes.subarray(MNIST_HEADER_BYTES);
  const stored = view.getUint32(28, true);
  const actual = crc32(payload);
  if (stored !== actual) fail(`corrupt: CRC-32 of the contents is ${actual.toString(16)}, the header says ${stored.toString(16)}`);
  let o = MNIST_HEADER_BYTES;
  const take = (n: number) => bytes.subarray(o, (o += n));
  const trainImages = take(nTrain * MNIST_PIXELS);
  const testImages = take(nTest * MNIST_PIXELS);
  const trainLabels = take(nTrain);
  const testLabels = take(nTest);
  for (const l of [trainLabels, testLabels]) {
    for (let i = 0; i < l.length; i++) if (l[i] >= MNIST_CLASSES) fail(`label ${l[i]} out of range 0…9`);
  }
  return {
    train: { images: trainImages, labels: trainLabels, count: nTrain },
    test: { images: testImages, labels: testLabels, count: nTest },
    rows,
    cols,
    seed: view.getUint32(24, true),
  };
}

/** Inflate gzip bytes with the platform's DecompressionStream (browsers, workers, Node ≥ 18). */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') {
    throw new Error('gunzip: DecompressionStream is not available in this environment');
  }
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Decode a file as stored (gzip or already inflated, e.g. by a server's Content-Encoding) and parse it. */
export async function decodeMnistFile(bytes: Uint8Array, source = 'MNIST data'): Promise<MnistData> {
  let raw = bytes;
  if (isGzip(bytes)) {
    try {
      raw = await gunzip(bytes);
    } catch (e) {
      throw new Error(`${source}: gzip stream is corrupt or truncated (${(e as Error).message})`);
    }
  }
  return parseMnist(raw, source);
}

/** Fetch and decode the MNIST file at `url` (browser worker or Node ≥ 18). */
export async function fetchMnist(url: string, fetchImpl: typeof fetch = fetch): Promise<MnistData> {
  const res = await fetchImpl(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  return decodeMnistFile(new Uint8Array(await res.arrayBuffer()), url);
}

/** A stored pixel 0…255 as the networks see it, in [−1, 1]: x = v/127.5 − 1. */
export function pixelToUnit(v: number): number {
  return v / 127.5 - 1;
}

/** The inverse for output images: v = round((x + 1)·127.5), clipped to 0…255 (NaN gives 0). */
export function unitToPixel(x: number): number {
  const v = Math.round((x + 1) * 127.5);
  return v >= 255 ? 255 : v > 0 ? v : 0;
}

/** pixelToUnit over an array of stored pixels, as float32, written into `out` from `offset` (a new array by default). */
export function decodePixels(bytes: ArrayLike<number>, out = new Float32Array(bytes.length), offset = 0): Float32Array {
  for (let k = 0; k < bytes.length; k++) out[offset + k] = pixelToUnit(bytes[k]);
  return out;
}

/** unitToPixel over an array of values in [−1, 1]: 8-bit pixels for PNGs and sample grids. */
export function encodePixels(x: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = unitToPixel(x[i]);
  return out;
}

/** Pixels of the chosen examples as float32 in [−1, 1] (decodePixels of each), concatenated. */
export function toFloatBatch(split: Split, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * MNIST_PIXELS);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    if (!(i >= 0 && i < split.count)) throw new RangeError(`toFloatBatch: index ${i} outside 0…${split.count - 1}`);
    decodePixels(split.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), out, b * MNIST_PIXELS);
  }
  return out;
}

/** Labels of the chosen examples (int32, ready for tf.tensor1d(…, 'int32') or tf.oneHot). */
export function labelsOf(split: Split, indices: ArrayLike<number>): Int32Array {
  const out = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) out[b] = split.labels[indices[b]];
  return out;
}

/** Indices 0 … n−1 (a whole split, or its first n examples). */
export function range(n: number, start = 0): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i;
  return out;
}
