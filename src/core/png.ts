/**
 * The project's PNG encoder, plain JavaScript (no DOM, no Node built-ins): widgets and build-time components
 * make data URLs with it, scripts write sample grids with it. 8-bit greyscale or RGB, no filtering. The image
 * data is a zlib stream of stored (uncompressed) deflate blocks unless a `deflate` is passed (scripts pass
 * node:zlib's `deflateSync`).
 */
import { crc32 } from './crc32';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const MAX_STORED = 65535;

/** Adler-32 of `bytes` (RFC 1950, the zlib trailer). */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A zlib stream (RFC 1950) of `data` in stored deflate blocks (RFC 1951 §3.2.4), ≤ 65,535 bytes each. */
export function zlibStored(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / MAX_STORED));
  const out = new Uint8Array(2 + data.length + blocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const chunk = data.subarray(b * MAX_STORED, Math.min(data.length, (b + 1) * MAX_STORED));
    out[o++] = b === blocks - 1 ? 1 : 0;
    out[o++] = chunk.length & 0xff;
    out[o++] = chunk.length >>> 8;
    out[o++] = ~chunk.length & 0xff;
    out[o++] = (~chunk.length >>> 8) & 0xff;
    out.set(chunk, o);
    o += chunk.length;
  }
  new DataView(out.buffer).setUint32(o, adler32(data));
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export interface PngOptions {
  /** 1 = greyscale, 3 = RGB (default 1). */
  channels?: 1 | 3;
  /** Raw bytes → zlib stream (default: stored blocks, zlibStored). */
  deflate?: (raw: Uint8Array) => Uint8Array;
}

/** Encode row-major 8-bit pixels (width × height × channels) as a PNG file. */
export function encodePng(pixels: Uint8Array, width: number, height: number, opts: PngOptions = {}): Uint8Array {
  const channels = opts.channels ?? 1;
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`encodePng: ${pixels.length} bytes for ${width}×${height}×${channels}`);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 1 ? 0 : 2; // colour type: greyscale or truecolour; compression, filter, interlace 0
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1)); // filter byte 0 before each row
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', (opts.deflate ?? zlibStored)(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
