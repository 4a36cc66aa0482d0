import { crc32 as zlibCrc32, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodePng, tileImages } from '../../scripts/lib/png';

/** Minimal PNG reader written from the spec: chunks, CRCs, IHDR, and the unfiltered (filter 0) rows. */
function readPng(bytes: Uint8Array) {
  expect(Array.from(bytes.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: { type: string; data: Uint8Array }[] = [];
  for (let o = 8; o < bytes.length; ) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    const data = bytes.subarray(o + 8, o + 8 + len);
    expect(view.getUint32(o + 8 + len), `CRC of ${type}`).toBe(zlibCrc32(bytes.subarray(o + 4, o + 8 + len)));
    chunks.push({ type, data });
    o += 12 + len;
  }
  const ihdr = new DataView(chunks[0].data.buffer, chunks[0].data.byteOffset, 13);
  const width = ihdr.getUint32(0);
  const height = ihdr.getUint32(4);
  const channels = chunks[0].data[9] === 0 ? 1 : 3;
  const idat = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  const raw = inflateSync(idat);
  const pixels = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * channels + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (width * channels + 1) + 1, (y + 1) * (width * channels + 1)), y * width * channels);
  }
  return { types: chunks.map((c) => c.type), width, height, channels, bitDepth: chunks[0].data[8], pixels };
}

describe('encodePng', () => {
  it('writes a valid greyscale PNG whose pixels read back unchanged', () => {
    const px = Uint8Array.from({ length: 7 * 3 }, (_, i) => (i * 37) % 256);
    const png = readPng(encodePng(px, 7, 3));
    expect(png.types).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([png.width, png.height, png.channels, png.bitDepth]).toEqual([7, 3, 1, 8]);
    expect(Array.from(png.pixels)).toEqual(Array.from(px));
  });

  it('writes RGB too, deflates (smaller than stored blocks) and refuses a buffer of the wrong size', () => {
    const px = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => i * 20);
    const png = readPng(encodePng(px, 2, 2, 3));
    expect(png.channels).toBe(3);
    expect(Array.from(png.pixels)).toEqual(Array.from(px));
    expect(() => encodePng(px, 3, 3)).toThrow(/12 bytes for 3×3×1/);
    expect(encodePng(new Uint8Array(100 * 100), 100, 100).length).toBeLessThan(200);
  });
});

describe('tileImages', () => {
  it('places image i at row ⌊i/cols⌋, column i mod cols, with padding and nearest-neighbour scaling', () => {
    // three 2×2 images with constant values 10, 20, 30
    const imgs = Uint8Array.from([10, 10, 10, 10, 20, 20, 20, 20, 30, 30, 30, 30]);
    const { pixels, width, height } = tileImages(imgs, 3, 2, 2, { cols: 2, pad: 1, scale: 2, background: 0 });
    expect([width, height]).toEqual([2 * 4 + 3, 2 * 4 + 3]);
    const at = (x: number, y: number) => pixels[y * width + x];
    expect(at(0, 0)).toBe(0); // padding
    expect([at(1, 1), at(4, 4)]).toEqual([10, 10]); // first cell spans 1…4
    expect(at(5, 1)).toBe(0); // gap between columns
    expect([at(6, 1), at(9, 4)]).toEqual([20, 20]);
    expect([at(1, 6), at(4, 9)]).toEqual([30, 30]);
    expect(at(6, 6)).toBe(0); // empty fourth cell
  });
});
