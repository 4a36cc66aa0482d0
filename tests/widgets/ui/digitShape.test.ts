import { describe, expect, it } from 'vitest';
import { digitLike, shapeRange, shapeStats } from '../../../src/widgets/ui/digitShape';

/** A 28 × 28 image in [−1, 1] with ink (+1) at the given (x, y) cells. */
function image(cells: [number, number][]): Float32Array {
  const a = new Float32Array(784).fill(-1);
  for (const [x, y] of cells) a[y * 28 + x] = 1;
  return a;
}
const line = (x0: number, y0: number, len: number, dx = 0, dy = 1): [number, number][] => Array.from({ length: len }, (_, i) => [x0 + i * dx, y0 + i * dy]);

describe('shapeStats', () => {
  it('counts one diagonal stroke as one (8-connected) and its ink share', () => {
    const s = shapeStats(image(line(5, 5, 10, 1, 1)), 0, 28, 28, 0);
    expect(s.strokes).toBe(1);
    expect(s.ink).toBeCloseTo(10 / 784, 6);
  });
  it('counts separate strokes, ignores specks smaller than three pixels, and reads at an offset', () => {
    const cells = [...line(3, 3, 8), ...line(20, 3, 8), ...line(10, 20, 5, 1, 0), [25, 25] as [number, number], [0, 27] as [number, number]];
    const two = new Float32Array(784 * 2).fill(-1);
    two.set(image(cells), 784);
    const s = shapeStats(two, 784, 28, 28, 0);
    expect(s.strokes).toBe(3);
    expect(s.ink).toBeCloseTo(23 / 784, 6);
  });
  it('finds no stroke in a blank image', () => {
    expect(shapeStats(image([]), 0, 28, 28, 0)).toEqual({ ink: 0, strokes: 0 });
  });
});

describe('shapeRange and digitLike', () => {
  const stats = Array.from({ length: 100 }, (_, i) => ({ ink: 0.1 + i * 0.001, strokes: i < 97 ? 1 : i < 99 ? 2 : 5 }));
  const r = shapeRange(stats, 0.99);
  it('takes the range that all but 1 % of the digits lie in', () => {
    expect(r.inkLo).toBeCloseTo(0.1, 9);
    expect(r.inkHi).toBeCloseTo(0.198, 9);
    expect(r.maxStrokes).toBe(2);
    expect(r.count).toBe(100);
  });
  it('calls a shape unlike a real digit when it has too many strokes, too much or too little ink, or none', () => {
    expect(digitLike({ ink: 0.15, strokes: 1 }, r)).toBe(true);
    expect(digitLike({ ink: 0.15, strokes: 2 }, r)).toBe(true);
    expect(digitLike({ ink: 0.15, strokes: 3 }, r)).toBe(false);
    expect(digitLike({ ink: 0.3, strokes: 1 }, r)).toBe(false);
    expect(digitLike({ ink: 0.05, strokes: 1 }, r)).toBe(false);
    expect(digitLike({ ink: 0.15, strokes: 0 }, r)).toBe(false);
  });
  it('refuses an empty set', () => {
    expect(() => shapeRange([])).toThrow(RangeError);
  });
});
