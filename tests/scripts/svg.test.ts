import { describe, expect, it } from 'vitest';
import { lossCurveSvg, niceTicks, smooth } from '../../scripts/lib/svg';

/** The (x, y) pairs of the first <path d="M…L…"> in the SVG. */
function firstPath(svg: string): [number, number][] {
  const d = /<path d="([^"]+)"/.exec(svg)![1];
  return d.split(/[ML]/).filter(Boolean).map((p) => p.split(',').map(Number) as [number, number]);
}

describe('niceTicks', () => {
  it('gives round steps of 1, 2 or 5 × 10^k inside the range', () => {
    expect(niceTicks(0, 1000, 5)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(niceTicks(0.13, 0.97, 4)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(3, 3)).toEqual([3]);
  });
});

describe('smooth', () => {
  it('is a bias-corrected exponential moving average (a constant stays constant)', () => {
    expect(smooth([2, 2, 2], 0.9)).toEqual([2, 2, 2].map((v) => expect.closeTo(v, 12)));
    const s = smooth([0, 1], 0.5);
    expect(s[0]).toBe(0);
    expect(s[1]).toBeCloseTo((0.5 * 0.5 * 0 + 0.5 * 1) / (0.5 * 0.5 + 0.5), 12);
  });
});

describe('lossCurveSvg', () => {
  const points: [number, number][] = [[10, 2.3], [20, 1.0], [30, 0.4], [40, 0.1], [50, NaN], [60, 0.05]];

  it('draws one vertex per finite point, left to right, with lower losses higher up', () => {
    const svg = lossCurveSvg(points, { smoothing: 0 });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    const xy = firstPath(svg);
    expect(xy.length).toBe(5);
    for (let i = 1; i < xy.length; i++) {
      expect(xy[i][0]).toBeGreaterThan(xy[i - 1][0]);
      expect(xy[i][1]).toBeGreaterThan(xy[i - 1][1]); // SVG y grows downwards
    }
  });

  it('uses a log axis for losses spanning decades: equal ratios are equal distances', () => {
    const svg = lossCurveSvg([[0, 1], [1, 0.1], [2, 0.01]], { smoothing: 0 });
    expect(svg).toContain('loss (log scale)');
    const xy = firstPath(svg);
    expect(xy[1][1] - xy[0][1]).toBeCloseTo(xy[2][1] - xy[1][1], 0);
    expect(() => lossCurveSvg([[0, 1], [1, -1]], { logY: true })).toThrow(/positive/);
  });

  it('escapes the title and adds a smoothed line when asked', () => {
    const svg = lossCurveSvg(points, { title: 'a < b & "c"', smoothing: 0.5 });
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(svg.match(/<path /g)!.length).toBe(2);
  });
});
