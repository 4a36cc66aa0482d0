import { describe, expect, it } from 'vitest';
import { unitsPerPixel } from '../../../src/widgets/ui/readableText';
import { previewNoised } from '../../../src/widgets/ui/previewNoise';
import { makeSchedule } from '../../../src/core/schedules';

describe('unitsPerPixel (chart text at its CSS size)', () => {
  it('is viewBox units per CSS pixel when the chart is drawn smaller than its viewBox', () => {
    // A 640-unit schedule plot on a 390 px phone (about 320 px wide): 11-unit text becomes 22 units, 11 px again.
    expect(unitsPerPixel(640, 320)).toBe(2);
    expect(11 * unitsPerPixel(640, 320) * (320 / 640)).toBe(11);
  });
  it('is 1 when the chart is drawn at or above its viewBox size, and for unknown sizes', () => {
    expect(unitsPerPixel(300, 400)).toBe(1);
    expect(unitsPerPixel(300, 300)).toBe(1);
    expect(unitsPerPixel(300, 0)).toBe(1);
    expect(unitsPerPixel(0, 300)).toBe(1);
    expect(unitsPerPixel(Number.NaN, 300)).toBe(1);
  });
});

describe('previewNoised (what a noising widget shows before the worker answers)', () => {
  const x0 = Float32Array.from({ length: 784 }, (_, i) => (i % 7 === 0 ? 1 : -1));
  const schedule = makeSchedule('linear', 1000);
  it('is the clean digit at t = 0 and differs from it ever more as t grows', () => {
    const ts = [0, 100, 500, 1000];
    const out = previewNoised(x0, schedule, ts, 3);
    expect(out.length).toBe(ts.length * 784);
    expect(Array.from(out.subarray(0, 784))).toEqual(Array.from(x0));
    const dist = (k: number) => Math.sqrt(out.subarray(k * 784, (k + 1) * 784).reduce((s, v, i) => s + (v - x0[i]) ** 2, 0) / 784);
    expect(dist(1)).toBeGreaterThan(0.1);
    expect(dist(2)).toBeGreaterThan(dist(1));
    expect(dist(3)).toBeGreaterThan(dist(2));
  });
  it('at t = 1000 is nearly pure unit-variance noise, the same for the same seed', () => {
    const a = previewNoised(x0, schedule, [1000], 5);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.15);
    expect(std).toBeGreaterThan(0.85);
    expect(std).toBeLessThan(1.15);
    expect(previewNoised(x0, schedule, [1000], 5)).toEqual(a);
    expect(previewNoised(x0, schedule, [1000], 6)).not.toEqual(a);
  });
});
