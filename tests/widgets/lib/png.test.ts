import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { greyDataUrl, toGrey } from '../../../src/widgets/lib/png';

/** Decode a greyscale 8-bit PNG with Node's zlib (an independent inflater) and check every CRC. */
function decode(png: Uint8Array): { width: number; height: number; pixels: Uint8Array } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let o = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Uint8Array) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  while (o < png.length) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    expect(view.getUint32(o + 8 + len)).toBe(crc(png.subarray(o + 4, o + 8 + len)));
    if (type === 'IHDR') {
      width = view.getUint32(o + 8);
      height = view.getUint32(o + 12);
      expect(png[o + 16]).toBe(8);
      expect(png[o + 17]).toBe(0);
    }
    if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width);
  }
  return { width, height, pixels };
}

describe('greyscale data URLs', () => {
  it('maps [−1, 1] to 0…255 with clipping', () => {
    expect([...toGrey([-2, -1, 0, 1, 3])]).toEqual([0, 0, 128, 255, 255]);
  });

  it('makes a data URL of one image out of a batch', () => {
    const batch = new Float32Array(2 * 4).fill(-1);
    batch.fill(1, 4);
    const url = greyDataUrl(batch, 2, 2, { offset: 4 });
    const png = Buffer.from(url.replace('data:image/png;base64,', ''), 'base64');
    expect([...decode(new Uint8Array(png)).pixels]).toEqual([255, 255, 255, 255]);
  });
});
