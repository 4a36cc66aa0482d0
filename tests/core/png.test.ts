import { crc32 as zlibCrc32, deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { adler32, encodePng, zlibStored } from '../../src/core/png';

/** A PNG reader written from the spec: signature, chunks with zlib's CRC-32, IHDR, zlib's inflate, filter-0 rows. */
function readPng(png: Uint8Array) {
  expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: { type: string; data: Uint8Array }[] = [];
  for (let o = 8; o < png.length; ) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    expect(view.getUint32(o + 8 + len), `CRC of ${type}`).toBe(zlibCrc32(png.subarray(o + 4, o + 8 + len)));
    chunks.push({ type, data: png.subarray(o + 8, o + 8 + len) });
    o += 12 + len;
  }
  const ihdr = new DataView(chunks[0].data.buffer, chunks[0].data.byteOffset, 13);
  const width = ihdr.getUint32(0);
  const height = ihdr.getUint32(4);
  const channels = chunks[0].data[9] === 0 ? 1 : 3;
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (stride + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { types: chunks.map((c) => c.type), width, height, channels, bitDepth: chunks[0].data[8], pixels };
}

describe('encodePng', () => {
  it('round-trips a 28×28 greyscale image through an independent zlib inflater', () => {
    const grey = Uint8Array.from({ length: 784 }, (_, i) => (i * 37) % 256);
    const png = readPng(encodePng(grey, 28, 28));
    expect(png.types).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([png.width, png.height, png.channels, png.bitDepth]).toEqual([28, 28, 1, 8]);
    expect(Array.from(png.pixels)).toEqual(Array.from(grey));
  });

  it('handles images larger than one stored deflate block, and RGB', () => {
    const grey = Uint8Array.from({ length: 300 * 250 }, (_, i) => (i * 7) % 251);
    expect(Array.from(readPng(encodePng(grey, 300, 250)).pixels)).toEqual(Array.from(grey));
    const rgb = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => i * 4);
    const png = readPng(encodePng(rgb, 5, 4, { channels: 3 }));
    expect(png.channels).toBe(3);
    expect(Array.from(png.pixels)).toEqual(Array.from(rgb));
  });

  it('uses a given deflate for the image data (what scripts do with node:zlib)', () => {
    const grey = new Uint8Array(64 * 64).fill(200);
    const small = encodePng(grey, 64, 64, { deflate: (raw) => new Uint8Array(deflateSync(raw)) });
    expect(small.length).toBeLessThan(encodePng(grey, 64, 64).length / 10);
    expect(Array.from(readPng(small).pixels)).toEqual(Array.from(grey));
  });

  it('rejects a pixel count that does not match the size', () => {
    expect(() => encodePng(new Uint8Array(10), 4, 4)).toThrow(/10 bytes for 4×4×1/);
    expect(() => encodePng(new Uint8Array(16), 4, 4, { channels: 3 })).toThrow(RangeError);
  });
});

describe('the zlib pieces', () => {
  it('Adler-32 agrees with zlib and has the RFC 1950 value for "Wikipedia"', () => {
    expect(adler32(new TextEncoder().encode('Wikipedia'))).toBe(0x11e60398);
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) % 256);
    const z = deflateSync(bytes);
    expect(adler32(bytes)).toBe(z.readUInt32BE(z.length - 4)); // zlib's trailer is the Adler-32 of the input
  });

  it('stored blocks inflate back to the input, also when empty', () => {
    for (const n of [0, 1, 65535, 65536, 140_000]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 11) % 256);
      expect(Buffer.compare(inflateSync(zlibStored(data)), Buffer.from(data))).toBe(0);
    }
  });
});
