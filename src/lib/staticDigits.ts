/**
 * Build-time only (Astro frontmatter): a few held-out digits embedded in the page, so widgets show a real
 * digit in their server-rendered HTML before the worker or the data file has loaded.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseMnist, MNIST_PIXELS, type MnistData } from '../core/mnistFormat';

/** The digits file the build prepares (public/data/mnist.bin.gz), parsed; build time only. */
export function builtMnist(): MnistData {
  const file = resolve(process.cwd(), 'public/data/mnist.bin.gz');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(gunzipSync(readFileSync(file)));
  } catch (e) {
    throw new Error(`${file} is missing or unreadable: run \`node --import tsx scripts/prepare-data.ts\` (npm run build does). ${(e as Error).message}`);
  }
  return parseMnist(bytes, file);
}

export interface StaticDigits {
  /** base64 of `labels.length` × 784 uint8 pixels (0 = black … 255 = ink). */
  pixels: string;
  labels: number[];
  /** Their indices in the held-out split. */
  indices: number[];
}

let cached: StaticDigits | null = null;

/** The first `perClass` held-out digits of each class 0…9, in class order. */
export function staticDigits(perClass = 1): StaticDigits {
  if (cached && cached.labels.length === 10 * perClass) return cached;
  const { test } = builtMnist();
  const indices: number[] = [];
  for (let d = 0; d < 10; d++) {
    let found = 0;
    for (let i = 0; i < test.count && found < perClass; i++) {
      if (test.labels[i] === d) {
        indices.push(i);
        found++;
      }
    }
  }
  const out = new Uint8Array(indices.length * MNIST_PIXELS);
  indices.forEach((i, k) => out.set(test.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), k * MNIST_PIXELS));
  cached = { pixels: Buffer.from(out).toString('base64'), labels: indices.map((i) => test.labels[i]), indices };
  return cached;
}
