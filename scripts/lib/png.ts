/** Node-only: PNG files for model cards (the core encoder with node:zlib's deflate) and an image-grid composer. */
import { deflateSync } from 'node:zlib';
import { encodePng as encodePngWith } from '../../src/core/png';

/** Encode row-major 8-bit pixels (1 channel = grey, 3 = RGB) as a PNG file, deflated at zlib level 9. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 = 1): Uint8Array {
  return encodePngWith(pixels, width, height, { channels, deflate: (raw) => new Uint8Array(deflateSync(raw, { level: 9 })) });
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
