import { describe, expect, it } from 'vitest';
import { appendCapped, downsampleMinMax, extent } from '../../src/core/downsample';

type Point = readonly [number, number];

describe('large series without spreads', () => {
  const n = 300_000;
  const big: Point[] = Array.from({ length: n }, (_, i) => [i * 5, 1 + Math.sin(i / 50) * 0.1]);
  big[123_457] = [123_457 * 5, 40]; // one spike
  big[200_001] = [200_001 * 5, 0.01]; // one dip

  it('extent finds the range of 300k values without spreading them into Math.min', () => {
    expect(extent(big.map(([, l]) => l))).toEqual([0.01, 40]);
    expect(extent(new Float32Array([3, -1, 2]))).toEqual([-1, 3]);
    expect(extent([])).toEqual([Infinity, -Infinity]);
  });

  it('downsampleMinMax keeps at most max points, the first and the last, in order, and the spikes', () => {
    const thin = downsampleMinMax(big, 2000);
    expect(thin.length).toBeLessThanOrEqual(2000);
    expect(thin.length).toBeGreaterThan(1900);
    expect(thin[0]).toBe(big[0]);
    expect(thin.at(-1)).toBe(big[n - 1]);
    for (let i = 1; i < thin.length; i++) expect(thin[i][0]).toBeGreaterThan(thin[i - 1][0]);
    expect(thin).toContain(big[123_457]);
    expect(thin).toContain(big[200_001]);
    const few: Point[] = [[1, 2], [2, 3]];
    expect(downsampleMinMax(few, 2000)).toEqual(few);
    expect(downsampleMinMax(big.slice(0, 10), 4).length).toBeLessThanOrEqual(4);
  });

});

describe('appendCapped: a live history that stays bounded', () => {
  it('appends in place below twice the cap, then thins to the cap keeping the first, last and extreme readings', () => {
    const cap = 100;
    let h: [number, number][] = [];
    let copies = 0;
    let spike = 0;
    for (let i = 0; i < 1000; i++) {
      const loss = i === 555 ? 9 : 1 / (1 + i);
      if (i === 555) spike = i;
      const next = appendCapped(h, [i, loss], cap);
      if (next !== h) copies++;
      h = next;
      expect(h.length).toBeLessThan(2 * cap);
      expect(h.at(-1)).toEqual([i, loss]);
    }
    // each thinning halves the history at least, so copies are rare: O(1) amortised per reading
    expect(copies).toBeGreaterThan(0);
    expect(copies).toBeLessThanOrEqual(Math.ceil(1000 / cap));
    expect(h[0]).toEqual([0, 1]);
    expect(h.some(([s]) => s === spike)).toBe(true);
    for (let i = 1; i < h.length; i++) expect(h[i][0]).toBeGreaterThan(h[i - 1][0]);
  });

  it('keeps a history under twice the cap as the same array', () => {
    const h: [number, number][] = [[0, 1]];
    expect(appendCapped(h, [1, 0.5], 10)).toBe(h);
    expect(h).toEqual([[0, 1], [1, 0.5]]);
  });
});
