import { describe, expect, it } from 'vitest';
import { makeSchedule } from '../../src/core/schedules';
import { qSampleArray } from '../../src/core/qsample';

/** Ho et al. 2020 eq. 4 in float64 with ᾱ_t = ∏(1 − β_s) from the linear β written out here. */
function reference(x0: number[], eps: number[], t: number): number[] {
  let alphaBar = 1;
  for (let s = 1; s <= t; s++) alphaBar *= 1 - (1e-4 + ((0.02 - 1e-4) * (s - 1)) / 999);
  return x0.map((x, i) => Math.sqrt(alphaBar) * x + Math.sqrt(1 - alphaBar) * eps[i]);
}

describe('qSampleArray', () => {
  const x0 = Array.from({ length: 50 }, (_, i) => Math.cos(i) * 0.9);
  const eps = Array.from({ length: 50 }, (_, i) => Math.sin(3 * i + 1) * 1.7);
  const schedule = makeSchedule('linear', 1000);

  it('matches the closed form x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε to float32 precision', () => {
    for (const t of [1, 10, 250, 500, 999, 1000]) {
      const ours = qSampleArray(x0, eps, schedule.alphaBar[t]);
      const ref = reference(x0, eps, t);
      expect(ours).toBeInstanceOf(Float32Array);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(ours[i] - ref[i])).toBeLessThan(2e-6);
    }
  });

  it('is x_0 at ᾱ = 1 and ε at ᾱ = 0', () => {
    expect(Array.from(qSampleArray(x0, eps, 1))).toEqual(x0.map(Math.fround));
    expect(Array.from(qSampleArray(x0, eps, 0))).toEqual(eps.map(Math.fround));
  });

  it('writes into a given array, which may be one of the inputs', () => {
    const out = Float32Array.from(x0);
    expect(qSampleArray(out, eps, 0.25, out)).toBe(out);
    expect(Array.from(out)).toEqual(x0.map((x, i) => Math.fround(0.5 * Math.fround(x) + Math.sqrt(0.75) * eps[i])));
  });

  it('refuses mismatched lengths and ᾱ outside [0, 1]', () => {
    expect(() => qSampleArray([1, 2], [1], 0.5)).toThrow(/x0 has 2 values, eps 1/);
    expect(() => qSampleArray([1], [1], 1.5)).toThrow(RangeError);
    expect(() => qSampleArray([1], [1], NaN)).toThrow(RangeError);
  });
});
