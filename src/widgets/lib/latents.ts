/** Latents for display (no tfjs): an NHWC latent split into one image per channel. */

/** One Float32Array per channel of the first [h, w, c] latent in `values`, with its range. */
export function latentChannels(values: Float32Array, [h, w, c]: readonly [number, number, number]): { pixels: Float32Array; lo: number; hi: number }[] {
  return Array.from({ length: c }, (_, k) => {
    const pixels = new Float32Array(h * w);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < h * w; i++) {
      const v = values[i * c + k];
      pixels[i] = v;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    return { pixels, lo, hi };
  });
}
