/** Path straightness and energy distance (src/core/flowMetrics.ts) against closed forms and a float64 brute force written here. */
import { describe, expect, it } from 'vitest';
import { energyDistance, pathStraightness } from '../../src/core/flowMetrics';
import { makeRng } from '../../src/core/rng';

/** Frames of `count` paths in `dim` dimensions from per-path point lists: frames[k] = all paths' k-th points. */
function framesOf(paths: number[][][]): Float64Array[] {
  const K = paths[0].length;
  const dim = paths[0][0].length;
  return Array.from({ length: K }, (_, k) => Float64Array.from(paths.flatMap((p) => p[k].slice(0, dim))));
}

describe('pathStraightness', () => {
  it('is 0 on straight paths walked at any uneven pace, in any dimension', () => {
    const rng = makeRng(1);
    const paths: number[][][] = [];
    for (let i = 0; i < 5; i++) {
      const a = [rng.normal(), rng.normal(), rng.normal()];
      const b = [rng.normal(), rng.normal(), rng.normal()];
      const ts = [0, 0.05, 0.3, 0.31, 0.8, 1];
      paths.push(ts.map((t) => a.map((v, j) => (1 - t) * v + t * b[j])));
    }
    expect(pathStraightness(framesOf(paths), 5, 3)).toBeCloseTo(0, 12);
    // Two frames are always a straight segment.
    expect(pathStraightness(framesOf(paths.map((p) => [p[0], p[3]])), 5, 3)).toBe(0);
  });

  it('gives 2/√2 − 1 for the right-angle path (0,0) → (1,0) → (1,1)', () => {
    const v = pathStraightness(framesOf([[[0, 0], [1, 0], [1, 1]]]), 1, 2);
    expect(v).toBeCloseTo(2 / Math.SQRT2 - 1, 14);
    expect(v).toBeCloseTo(Math.SQRT2 - 1, 14);
  });

  it('averages over paths, counts a path that never moves as 0 and skips one that returns to its start', () => {
    const right = [[0, 0], [1, 0], [1, 1]];
    const straight = [[0, 0], [1, 1], [2, 2]];
    const still = [[5, 5], [5, 5], [5, 5]];
    const loop = [[0, 0], [3, 0], [0, 0]];
    expect(pathStraightness(framesOf([right, straight]), 2, 2)).toBeCloseTo((Math.SQRT2 - 1) / 2, 14);
    expect(pathStraightness(framesOf([right, still]), 2, 2)).toBeCloseTo((Math.SQRT2 - 1) / 2, 14);
    expect(pathStraightness(framesOf([right, loop]), 2, 2)).toBeCloseTo(Math.SQRT2 - 1, 14);
    expect(pathStraightness(framesOf([loop]), 1, 2)).toBe(0);
    // A zig-zag of n unit-diagonal moves: length n√2 over a displacement n (alternating in y) → √2 − 1 as well.
    const zig = Array.from({ length: 5 }, (_, k) => [k, k % 2]);
    expect(pathStraightness(framesOf([zig]), 1, 2)).toBeCloseTo((4 * Math.SQRT2) / 4 - 1, 14);
  });

  it('needs at least two frames', () => {
    expect(() => pathStraightness([new Float64Array(2)], 1, 2)).toThrow(RangeError);
  });
});

/** Brute force in float64: 2·mean‖x − y‖ − mean‖x − x′‖ − mean‖y − y′‖ over all pairs (self-pairs included). */
function energy64(x: number[][], y: number[][]): number {
  const mean = (a: number[][], b: number[][]) => {
    let s = 0;
    for (const p of a) for (const q of b) s += Math.hypot(...p.map((v, j) => v - q[j]));
    return s / (a.length * b.length);
  };
  return 2 * mean(x, y) - mean(x, x) - mean(y, y);
}

const cloud = (seed: number, n: number, dim: number, shift = 0) => {
  const r = makeRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: dim }, (_, j) => r.normal() + (j === 0 ? shift : 0)));
};
const flat = (p: number[][]) => Float64Array.from(p.flat());

describe('energyDistance', () => {
  it('matches a float64 brute force on random clouds of different sizes and dimensions', () => {
    for (const [nx, ny, dim] of [[7, 11, 2], [20, 5, 3], [1, 9, 4]]) {
      const x = cloud(nx * 10 + dim, nx, dim);
      const y = cloud(ny * 100 + dim, ny, dim, 0.7);
      expect(energyDistance(flat(x), nx, flat(y), ny, dim)).toBeCloseTo(energy64(x, y), 12);
    }
  });

  it('reads 2-D points by default and gives 2|a − b| for two single points', () => {
    const x = cloud(3, 6, 2);
    const y = cloud(4, 8, 2);
    expect(energyDistance(flat(x), 6, flat(y), 8)).toBeCloseTo(energy64(x, y), 12);
    expect(energyDistance([0, 0], 1, [3, 4], 1)).toBeCloseTo(10, 14);
  });

  it('is ≈ 0 for identical sets and positive, growing with the shift, for shifted ones', () => {
    const x = cloud(5, 40, 2);
    expect(Math.abs(energyDistance(flat(x), 40, flat(x), 40))).toBeLessThan(1e-12);
    const shifted = [0.5, 1, 2].map((d) => energyDistance(flat(x), 40, flat(x.map(([a, b]) => [a + d, b])), 40));
    expect(shifted[0]).toBeGreaterThan(0);
    expect(shifted[1]).toBeGreaterThan(shifted[0]);
    expect(shifted[2]).toBeGreaterThan(shifted[1]);
    // Two independent draws of one distribution are much closer than a shift by 2.
    expect(energyDistance(flat(x), 40, flat(cloud(6, 40, 2)), 40)).toBeLessThan(shifted[2] / 4);
  });

  it('refuses an empty side', () => {
    expect(() => energyDistance([], 0, [1, 2], 1)).toThrow(RangeError);
    expect(() => energyDistance([1, 2], 1, [], 0)).toThrow(RangeError);
  });
});
