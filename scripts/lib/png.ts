/** Node-only: a minimal PNG encoder (8-bit grey or RGB, zlib via node:zlib) and an image-grid composer. */
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../src/core/data';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encode row-major 8-bit pixels (1 channel = grey, 3 = RGB) as a PNG file. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 = 1): Uint8Array {
  if (pixels.length !== width * height * channels) {
    throw new Error(`encodePng: ${pixels.length} bytes for ${width}×${height}×${channels}`);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 1 ? 0 : 2; // colour type: greyscale or truecolour
  // compression 0, filter 0, interlace 0
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1); // filter byte 0
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', new Uint8Array(deflateSync(raw, { level: 9 }))), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Float pixels in [−1, 1] → uint8 0…255 (clipped, rounded). */
export function toUint8Pixels(x: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(0, Math.min(255, Math.round((x[i] + 1) * 127.5)));
  return out;
}

export interface GridOptions {
  /** Images per row. */
  cols: number;
  /** Gap between cells, in output pixels (default 2). */
  pad?: number;
  /** Grey level of gaps and empty cells (default 128). */
  background?: number;
  /** Integer nearest-neighbour upscaling of each image (default 1). */
  scale?: number;
}

/** Tile `count` grey images of h×w (concatenated, uint8) into one grid image. */
export function tileImages(images: Uint8Array, count: number, h: number, w: number, opts: GridOptions): { pixels: Uint8Array; width: number; height: number } {
  if (images.length !== count * h * w) throw new Error(`tileImages: ${images.length} bytes for ${count} images of ${h}×${w}`);
  const { cols } = opts;
  const pad = opts.pad ?? 2;
  const s = opts.scale ?? 1;
  const rows = Math.max(1, Math.ceil(count / cols));
  const width = cols * w * s + (cols + 1) * pad;
  const height = rows * h * s + (rows + 1) * pad;
  const pixels = new Uint8Array(width * height).fill(opts.background ?? 128);
  for (let i = 0; i < count; i++) {
    const ox = pad + (i % cols) * (w * s + pad);
    const oy = pad + Math.floor(i / cols) * (h * s + pad);
    for (let y = 0; y < h * s; y++) {
      for (let x = 0; x < w * s; x++) {
        pixels[(oy + y) * width + ox + x] = images[i * h * w + Math.floor(y / s) * w + Math.floor(x / s)];
      }
    }
  }
  return { pixels, width, height };
}
