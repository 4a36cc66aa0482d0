/** Client-side helpers for the digits embedded by src/lib/staticDigits.ts (no tfjs). */

export const PIXELS = 784;

/** Decode the embedded base64 uint8 digits into [−1, 1] floats, one Float32Array per digit. */
export function decodeStaticDigits(base64: string, count: number): Float32Array[] {
  const binary = typeof atob === 'function' ? atob(base64) : Buffer.from(base64, 'base64').toString('binary');
  const out: Float32Array[] = [];
  for (let d = 0; d < count; d++) {
    const img = new Float32Array(PIXELS);
    for (let k = 0; k < PIXELS; k++) img[k] = binary.charCodeAt(d * PIXELS + k) / 127.5 - 1;
    out.push(img);
  }
  return out;
}
