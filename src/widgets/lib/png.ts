/**
 * Greyscale images as PNG data URLs (core/png.ts encodes), the same during server rendering and in the
 * browser: widgets render <img> tags whose data URLs show a useful picture before any script has loaded.
 */
import { encodePng } from '../../core/png';

/** Map values in [lo, hi] to 0…255 (clipped). */
export function toGrey(values: ArrayLike<number>, lo = -1, hi = 1, offset = 0, count = values.length - offset): Uint8Array {
  const out = new Uint8Array(count);
  const scale = 255 / (hi - lo);
  for (let i = 0; i < count; i++) {
    const v = (values[offset + i] - lo) * scale;
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return out;
}

function base64(bytes: Uint8Array): string {
  if (typeof btoa === 'function') {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  }
  return (globalThis as unknown as { Buffer: { from(b: Uint8Array): { toString(e: string): string } } }).Buffer.from(bytes).toString('base64');
}

/** A data: URL of a greyscale image; `values` in [lo, hi], one image of width × height starting at `offset`. */
export function greyDataUrl(values: ArrayLike<number>, width: number, height: number, opts: { lo?: number; hi?: number; offset?: number } = {}): string {
  const grey = toGrey(values, opts.lo ?? -1, opts.hi ?? 1, opts.offset ?? 0, width * height);
  return `data:image/png;base64,${base64(encodePng(grey, width, height))}`;
}
