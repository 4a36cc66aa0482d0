/** Inpainting masks on plain arrays (tfjs-free: the worker, the widgets and the lessons share them). */

/** Which half of the image inpainting keeps (the other half is regenerated). */
export type KeepHalf = 'left' | 'right' | 'top' | 'bottom';
export const KEEP_HALVES = ['left', 'right', 'top', 'bottom'] as const satisfies readonly KeepHalf[];

/** A keep mask of h × w values, row-major: 1 in the kept half, 0 in the half to regenerate. */
export function halfMask(keep: KeepHalf, h: number, w: number): Float32Array {
  if (!(KEEP_HALVES as readonly string[]).includes(keep)) throw new RangeError(`unknown mask "${String(keep)}"`);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const kept = keep === 'left' ? x < w / 2 : keep === 'right' ? x >= w / 2 : keep === 'top' ? y < h / 2 : y >= h / 2;
      out[y * w + x] = kept ? 1 : 0;
    }
  }
  return out;
}
