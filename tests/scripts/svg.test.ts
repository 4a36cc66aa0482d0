import { describe, expect, it } from 'vitest';
import { lossCurveSvg } from '../../scripts/lib/svg';

/** The (x, y) pairs of the first <path d="M…L…"> in the SVG. */
function firstPath(svg: string): [number, number][] {
  const d = /<path d="([^"]+)"/.exec(svg)![1];
  return d.split(/[ML]/).filter(Boolean).map((p) => p.split(',').map(Number) as [number, number]);
}

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

  it('labels round ticks: 1, 2, 5 × 10^k on a log axis over two decades, steps of 1, 2 or 5 × 10^k on x', () => {
    const svg = lossCurveSvg([[0, 1.5], [500, 0.3], [1000, 0.03]], { smoothing: 0 });
    const labels = [...svg.matchAll(/text-anchor="(end|middle)"[^>]*fill="#444">([^<]+)</g)].map((m) => [m[1], m[2]]);
    expect(labels.filter(([a]) => a === 'end').map(([, l]) => l)).toEqual(['0.05', '0.1', '0.2', '0.5', '1']);
    expect(labels.filter(([a]) => a === 'middle').map(([, l]) => l)).toEqual(['0', '200', '400', '600', '800', '1000']);
  });

  it('smooths long histories by default with a bias-corrected EMA', () => {
    const many = Array.from({ length: 300 }, (_, i) => [i, 1 + (i % 2)] as [number, number]);
    const svg = lossCurveSvg(many);
    expect(svg.match(/<path /g)!.length).toBe(2);
    expect(lossCurveSvg(many.slice(0, 50)).match(/<path /g)!.length).toBe(1);
  });
});
