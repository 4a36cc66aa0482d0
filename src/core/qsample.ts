/**
 * The forward process on plain arrays, for code without tfjs (build-time figures, widgets):
 * x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (Ho et al. 2020, eq. 4). The tensor version is core/forward.ts's `qSample`.
 */

/** x_t for one image from its ᾱ_t, as float32; `out` may be given (and may be x0 or eps itself). */
export function qSampleArray(x0: ArrayLike<number>, eps: ArrayLike<number>, alphaBar: number, out = new Float32Array(x0.length)): Float32Array {
  if (x0.length !== eps.length) throw new RangeError(`x0 has ${x0.length} values, eps ${eps.length}`);
  if (out.length !== x0.length) throw new RangeError(`out has ${out.length} values, x0 ${x0.length}`);
  if (!(alphaBar >= 0 && alphaBar <= 1)) throw new RangeError(`ᾱ must lie in [0, 1], got ${alphaBar}`);
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  for (let i = 0; i < x0.length; i++) out[i] = a * x0[i] + b * eps[i];
  return out;
}
