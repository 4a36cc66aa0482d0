import { describe, expect, it } from 'vitest';
import { axis, lossChart, pathOf, type Point } from '../../src/core/chart';

const frame = { width: 400, height: 200, margin: { top: 10, right: 10, bottom: 30, left: 50 } };

/** The (x, y) vertices of SVG path data made of M and L commands. */
const vertices = (d: string) => d.split(/[ML]/).filter(Boolean).map((p) => p.split(',').map(Number));

describe('axis', () => {
  it('maps the domain linearly onto the range and puts ticks at steps of 1, 2 or 5 × 10^k', () => {
    const x = axis([0, 1000], [50, 390]);
    expect([x(0), x(500), x(1000)]).toEqual([50, 220, 390]);
    expect(x.ticks.map((t) => t.value)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(x.ticks.map((t) => t.at)).toEqual([50, 118, 186, 254, 322, 390]);
    expect(axis([0.13, 0.97], [0, 1], { ticks: 4 }).ticks.map((t) => t.value)).toEqual([0.2, 0.4, 0.6, 0.8]);
  });

  it('maps a log domain so that equal ratios are equal distances, with more ticks the narrower the range and powers of ten beyond three decades', () => {
    const y = axis([0.01, 1], [190, 10], { log: true });
    expect(y(0.1)).toBeCloseTo(100, 9);
    expect(y(0.01) - y(0.1)).toBeCloseTo(y(0.1) - y(1), 9);
    expect(y.ticks.map((t) => t.value)).toEqual([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1]);
    expect(y.ticks.map((t) => t.label)).toEqual(['0.01', '0.02', '0.05', '0.1', '0.2', '0.5', '1']);
    expect(axis([1e-4, 10], [0, 1], { log: true }).ticks.map((t) => t.value)).toEqual([1e-4, 1e-3, 0.01, 0.1, 1, 10]);
    expect(axis([0.05, 0.3], [0, 1], { log: true }).ticks.map((t) => t.value)).toEqual([0.05, 0.1, 0.2, 0.3]);
    expect(axis([0.15, 0.4], [0, 1], { log: true }).ticks.map((t) => t.value)).toEqual([0.2, 0.3, 0.4]);
    const sliver = axis([0.111, 0.129], [0, 1], { log: true }).ticks.map((t) => t.value);
    expect(sliver.length).toBeGreaterThanOrEqual(2);
    for (const v of sliver) expect(v >= 0.111 && v <= 0.129).toBe(true);
    expect(() => axis([0, 1], [0, 1], { log: true })).toThrow(RangeError);
  });

  it('takes explicit tick values and a label function, and clamps when asked', () => {
    const x = axis([8, 1200], [0, 100], { log: true, tickValues: [10, 100, 1000], label: (v) => `${v} steps`, clamp: true });
    expect(x.ticks.map((t) => t.label)).toEqual(['10 steps', '100 steps', '1000 steps']);
    expect(x(1e6)).toBe(100);
    expect(axis([0, 14000], [0, 1]).ticks.map((t) => t.label)).toEqual(['0', '2000', '4000', '6000', '8000', '10000', '12000', '14000']);
    expect(axis([0, 3e6], [0, 1]).ticks.map((t) => t.label)).toContain('1.00e6');
  });
});

describe('pathOf', () => {
  it('draws M then L through every point at its scaled position, one decimal', () => {
    const x = axis([0, 10], [0, 100]);
    const y = axis([0, 1], [50, 0]);
    expect(pathOf([[0, 0], [5, 0.5], [10, 1 / 3]], x, y)).toBe('M0,50L50,25L100,33.3');
    expect(pathOf([], x, y)).toBe('');
  });
});

describe('lossChart', () => {
  const readings: Point[] = [[10, 2.3], [20, 1.0], [30, 0.4], [40, 0.1], [50, NaN], [60, 0.05]];

  it('drops non-finite readings, chooses a log axis for losses spanning decades and draws lower losses higher', () => {
    const c = lossChart(readings, frame);
    expect(c.points.length).toBe(5);
    expect(c.y.log).toBe(true);
    const v = vertices(c.raw);
    expect(v.length).toBe(5);
    for (let i = 1; i < v.length; i++) {
      expect(v[i][0]).toBeGreaterThan(v[i - 1][0]);
      expect(v[i][1]).toBeGreaterThan(v[i - 1][1]);
    }
    expect(c.smooth).toBe('');
    expect(c.x.domain).toEqual([0, 60]);
  });

  it('keeps a linear axis from zero for losses within a factor of 5, and a minimum x extent', () => {
    const c = lossChart([[1, 0.5], [2, 0.4]], frame, { minX: 10 });
    expect(c.y.log).toBe(false);
    expect(c.y.domain[0]).toBe(0);
    expect(c.x.domain).toEqual([0, 10]);
  });

  it('on a forced log axis drops non-positive losses; the smoothed line is the EMA of the drawn losses', () => {
    const c = lossChart([[1, 1], [2, 0], [3, 0.25], [4, 0.5]], frame, { logY: true, smoothing: 0.5 });
    expect(c.points.map((p) => p[0])).toEqual([1, 3, 4]);
    // bias-corrected EMA of 1, 0.25, 0.5 with decay ½, step by step
    const m1 = 0.5 * 1;
    const m2 = 0.5 * m1 + 0.5 * 0.25;
    const m3 = 0.5 * m2 + 0.5 * 0.5;
    expect(c.smoothed.map((p) => p[1])).toEqual([1, m2 / 0.75, m3 / 0.875].map((v) => expect.closeTo(v, 12)));
    expect(vertices(c.smooth).length).toBe(3);
  });

  it('labels both axes with a given formatter', () => {
    const c = lossChart([[0, 1], [14000, 0.01]], frame, { label: (v) => `<${v}>` });
    expect(c.x.ticks.at(-1)?.label).toBe('<14000>');
    expect(c.y.ticks.every((t) => t.label === `<${t.value}>`)).toBe(true);
  });

  it('gives an empty chart for no readings', () => {
    const c = lossChart([], frame);
    expect([c.points.length, c.raw, c.smooth]).toEqual([0, '', '']);
    expect(c.y.ticks.length).toBeGreaterThan(0);
  });
});

describe('lossChart on a long run', () => {
  const n = 300_000;
  const big: Point[] = Array.from({ length: n }, (_, i) => [i * 5, 1 + Math.sin(i / 50) * 0.1]);

  it('lossChart draws at most maxPoints vertices per path for 300k readings', () => {
    const chart = lossChart(big, frame, { logY: true, smoothing: 0.9, maxPoints: 2000 });
    expect(chart.points.length).toBe(n);
    expect(vertices(chart.raw).length).toBeLessThanOrEqual(2000);
    expect(vertices(chart.smooth).length).toBeLessThanOrEqual(2000);
    expect(chart.x.domain[1]).toBe((n - 1) * 5);
  });
});
