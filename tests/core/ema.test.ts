import { describe, expect, it } from 'vitest';
import { emaSeries } from '../../src/core/ema';

describe('emaSeries', () => {
  it('is the bias-corrected EMA: a constant stays constant, and each value is the normalised weighted sum', () => {
    expect(emaSeries([2, 2, 2, 2], 0.9)).toEqual([2, 2, 2, 2].map((v) => expect.closeTo(v, 12)));
    const xs = [3, -1, 4, 1, 5, 9, 2, 6];
    const d = 0.7;
    const ours = emaSeries(xs, d);
    xs.forEach((_, i) => {
      // Written out: Σ_k d^(i−k) x_k / Σ_k d^(i−k)
      let num = 0;
      let den = 0;
      for (let k = 0; k <= i; k++) {
        num += d ** (i - k) * xs[k];
        den += d ** (i - k);
      }
      expect(ours[i]).toBeCloseTo(num / den, 12);
    });
  });

  it('starts at the first value, passes values through at decay 0, and refuses a decay outside [0, 1)', () => {
    expect(emaSeries([5, 1], 0.99)[0]).toBeCloseTo(5, 12);
    expect(emaSeries([5, 1, 7], 0)).toEqual([5, 1, 7]);
    expect(emaSeries([], 0.9)).toEqual([]);
    expect(() => emaSeries([1], 1)).toThrow(RangeError);
    expect(() => emaSeries([1], -0.1)).toThrow(RangeError);
  });
});
