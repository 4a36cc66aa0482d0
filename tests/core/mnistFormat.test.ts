import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MNIST_HEADER_BYTES,
  decodeMnistFile,
  decodePixels,
  encodeMnist,
  encodePixels,
  fetchMnist,
  gunzip,
  labelsOf,
  parseMnist,
  pixelToUnit,
  stratifiedSplit,
  toFloatBatch,
  unitToPixel,
  type Split,
} from '../../src/core/mnistFormat';

/** A tiny hand-made dataset: `n` images whose pixels are (i·7 + k) mod 256 and labels i mod 10. */
function toySplit(n: number, offset = 0): Split {
  const images = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) for (let k = 0; k < 784; k++) images[i * 784 + k] = ((i + offset) * 7 + k) % 256;
  const labels = Uint8Array.from({ length: n }, (_, i) => (i + offset) % 10);
  return { images, labels, count: n };
}

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

  it('draws the recorded split for a small set (mulberry32 shuffles, as the shipped file was drawn)', () => {
    const { train, test } = stratifiedSplit(Uint8Array.from({ length: 40 }, (_, i) => i % 4), 2, 11, 4);
    expect(Array.from(test)).toEqual([29, 27, 24, 35, 12, 22, 5, 26]);
    expect(Array.from(train)).toEqual([23, 17, 11, 37, 20, 9, 8, 7, 15, 25, 16, 32, 39, 10, 18, 33, 21, 28, 34, 3, 6, 0, 4, 1, 2, 38, 36, 31, 19, 30, 13, 14]);
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

describe('the pixel code', () => {
  it('maps 0…255 to [−1, 1] as v/127.5 − 1 and back exactly, for every byte', () => {
    const all = Uint8Array.from({ length: 256 }, (_, v) => v);
    const x = decodePixels(all);
    for (let v = 0; v < 256; v++) {
      expect(x[v]).toBe(Math.fround(v / 127.5 - 1));
      expect(pixelToUnit(v)).toBe(v / 127.5 - 1);
    }
    expect([x[0], x[255]]).toEqual([-1, 1]);
    expect(Array.from(encodePixels(x))).toEqual(Array.from(all));
  });

  it('rounds and clips values outside [−1, 1] (NaN to 0) when encoding', () => {
    expect(Array.from(encodePixels([-1, 0, 1, -3, 3, NaN, 0.001, -0.999]))).toEqual([0, 128, 255, 0, 255, 0, 128, 0]);
    expect(unitToPixel(0.5)).toBe(Math.round(1.5 * 127.5));
  });

  it('decodes into a given array at an offset', () => {
    const out = new Float32Array(5).fill(9);
    decodePixels([0, 255], out, 2);
    expect(Array.from(out)).toEqual([9, 9, -1, 1, 9]);
  });
});

describe('batch helpers', () => {
  const split = toySplit(4);

  it('scale pixels to [−1, 1] as v/127.5 − 1 in the order of the indices', () => {
    const x = toFloatBatch(split, [2, 0]);
    expect(x.length).toBe(2 * 784);
    for (const [b, i] of [[0, 2], [1, 0]]) {
      for (const k of [0, 1, 100, 783]) expect(x[b * 784 + k]).toBe(Math.fround(split.images[i * 784 + k] / 127.5 - 1));
    }
    const extremes = toFloatBatch({ images: Uint8Array.from({ length: 784 }, (_, k) => (k % 2 ? 255 : 0)), labels: Uint8Array.of(0), count: 1 }, [0]);
    expect([extremes[0], extremes[1]]).toEqual([-1, 1]);
    expect(() => toFloatBatch(split, [4])).toThrow(RangeError);
  });

  it('pick the labels of the chosen examples', () => {
    expect(Array.from(labelsOf(split, [1, 3, 3]))).toEqual([1, 3, 3]);
  });
});
