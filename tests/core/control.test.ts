/**
 * The ControlNet lab's control signal (src/core/control.ts): the skeleton hint, the tolerant skeleton F-score and the
 * chamfer distance against brute-force references written here, the brush, and the URL form of a mask.
 */
import { describe, expect, it } from 'vitest';
import { inkMask, thin } from '../../src/core/captions';
import {
  BRUSH_RADIUS,
  chamferDistance,
  chessboardDistance,
  controlHint,
  controlHints,
  packMask,
  rasterizeStrokes,
  skeletonMatch,
  unpackMask,
  type Stroke,
} from '../../src/core/control';
import { MNIST_PIXELS } from '../../src/core/mnistFormat';
import { makeRng } from '../../src/core/rng';

const W = 28;
const H = 28;

/** A random 0/1 mask of w·h pixels, each on with probability p. */
function randomMask(seed: number, p: number, w = W, h = H): Uint8Array {
  const rng = makeRng(seed);
  return Uint8Array.from({ length: w * h }, () => (rng.uniform() < p ? 1 : 0));
}

function onPixels(mask: ArrayLike<number>, w: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) out.push([i % w, Math.floor(i / w)]);
  return out;
}

/** Brute force: min over on pixels of max(|dx|, |dy|). */
function bruteChessboard(mask: ArrayLike<number>, w: number, h: number): Float64Array {
  const on = onPixels(mask, w);
  const d = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let best = Infinity;
      for (const [u, v] of on) best = Math.min(best, Math.max(Math.abs(u - x), Math.abs(v - y)));
      d[y * w + x] = best;
    }
  }
  return d;
}

/** Brute force: share of a's pixels with a b pixel within chessboard `tol`, both ways, and the F-score. */
function bruteMatch(skel: ArrayLike<number>, hint: ArrayLike<number>, tol: number, w: number) {
  const s = onPixels(skel, w);
  const hh = onPixels(hint, w);
  const near = (p: [number, number], set: [number, number][]) => set.some(([u, v]) => Math.max(Math.abs(u - p[0]), Math.abs(v - p[1])) <= tol);
  if (s.length === 0 && hh.length === 0) return { precision: 1, recall: 1, f1: 1 };
  const precision = s.length === 0 ? 0 : s.filter((p) => near(p, hh)).length / s.length;
  const recall = hh.length === 0 ? 0 : hh.filter((p) => near(p, s)).length / hh.length;
  return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
}

/** Brute force: symmetric mean Euclidean nearest-neighbour distance. */
function bruteChamfer(a: ArrayLike<number>, b: ArrayLike<number>, w: number): number {
  const pa = onPixels(a, w);
  const pb = onPixels(b, w);
  if (pa.length === 0 && pb.length === 0) return 0;
  if (pa.length === 0 || pb.length === 0) return Infinity;
  const mean = (from: [number, number][], to: [number, number][]) =>
    from.reduce((s, [x, y]) => s + Math.min(...to.map(([u, v]) => Math.hypot(u - x, v - y))), 0) / from.length;
  return (mean(pa, pb) + mean(pb, pa)) / 2;
}

/** Distance from (px, py) to the segment a–b. */
function segDist(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const s = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
  return Math.hypot(px - ax - s * dx, py - ay - s * dy);
}

/** A 28×28 image with a filled rectangle of value `v` (rows y0..y1, cols x0..x1, inclusive). */
function bar(x0: number, x1: number, y0: number, y1: number, v = 255): Uint8Array {
  const img = new Uint8Array(MNIST_PIXELS);
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) img[y * W + x] = v;
  return img;
}

describe('chessboardDistance', () => {
  it('equals a brute-force float64 reference on random masks of several densities and shapes', () => {
    for (const [seed, p, w, h] of [
      [1, 0.02, 28, 28],
      [2, 0.1, 28, 28],
      [3, 0.5, 28, 28],
      [4, 0.005, 28, 28],
      [5, 0.05, 13, 7],
      [6, 0.2, 5, 19],
    ] as const) {
      const m = randomMask(seed, p, w, h);
      const d = chessboardDistance(m, w, h);
      expect(d).toBeInstanceOf(Float64Array);
      expect(Array.from(d), `seed ${seed}`).toEqual(Array.from(bruteChessboard(m, w, h)));
    }
  });

  it('is max(|dx|, |dy|) from a single pixel, 0 on the pixel, and Infinity everywhere for an empty mask', () => {
    const m = new Uint8Array(MNIST_PIXELS);
    m[3 * W + 20] = 1;
    const d = chessboardDistance(m);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) expect(d[y * W + x]).toBe(Math.max(Math.abs(x - 20), Math.abs(y - 3)));
    expect(chessboardDistance(new Uint8Array(MNIST_PIXELS)).every((v) => v === Infinity)).toBe(true);
  });
});

describe('skeletonMatch', () => {
  it('equals a brute-force tolerant matching on random masks at tolerance 0, 1 and 2', () => {
    for (let seed = 10; seed < 22; seed++) {
      const a = randomMask(seed, 0.03 + 0.01 * (seed % 4));
      const b = randomMask(seed + 100, 0.05);
      for (const tol of [0, 1, 2]) {
        const got = skeletonMatch(a, b, tol);
        const want = bruteMatch(a, b, tol, W);
        expect(got.precision, `seed ${seed} tol ${tol}`).toBeCloseTo(want.precision, 12);
        expect(got.recall, `seed ${seed} tol ${tol}`).toBeCloseTo(want.recall, 12);
        expect(got.f1, `seed ${seed} tol ${tol}`).toBeCloseTo(want.f1, 12);
      }
    }
    // A non-square grid.
    const a = randomMask(40, 0.1, 11, 6);
    const b = randomMask(41, 0.1, 11, 6);
    const got = skeletonMatch(a, b, 1, 11, 6);
    const want = bruteMatch(a, b, 1, 11);
    expect(got.f1).toBeCloseTo(want.f1, 12);
    expect(got.precision).toBeCloseTo(want.precision, 12);
  });

  it('scores 1 for two empty masks, 0 when exactly one is empty, 1 for identical ones', () => {
    const empty = new Uint8Array(MNIST_PIXELS);
    const m = randomMask(7, 0.05);
    expect(skeletonMatch(empty, empty)).toEqual({ precision: 1, recall: 1, f1: 1 });
    expect(skeletonMatch(m, empty).f1).toBe(0);
    expect(skeletonMatch(empty, m).f1).toBe(0);
    expect(skeletonMatch(m, empty).precision).toBe(0);
    expect(skeletonMatch(empty, m).recall).toBe(0);
    for (const tol of [0, 1, 3]) expect(skeletonMatch(m, m, tol)).toEqual({ precision: 1, recall: 1, f1: 1 });
  });

  it('forgives a one-pixel shift at tolerance 1 but not at tolerance 0', () => {
    const a = new Uint8Array(MNIST_PIXELS);
    const b = new Uint8Array(MNIST_PIXELS);
    for (let x = 5; x < 20; x++) {
      a[10 * W + x] = 1;
      b[11 * W + x] = 1; // one row down
    }
    expect(skeletonMatch(a, b, 1).f1).toBe(1);
    expect(skeletonMatch(a, b, 0).f1).toBe(0);
    // Shifted along itself: the overlap matches at 0, the two end pixels do not.
    const c = new Uint8Array(MNIST_PIXELS);
    for (let x = 6; x < 21; x++) c[10 * W + x] = 1;
    expect(skeletonMatch(a, c, 1).f1).toBe(1);
    const at0 = skeletonMatch(a, c, 0);
    expect(at0.precision).toBeCloseTo(14 / 15, 12);
    expect(at0.recall).toBeCloseTo(14 / 15, 12);
    expect(at0.f1).toBeLessThan(1);
  });
});

describe('chamferDistance', () => {
  it('equals a brute-force Euclidean reference and is symmetric', () => {
    for (let seed = 30; seed < 38; seed++) {
      const a = randomMask(seed, 0.02 + 0.01 * (seed % 3));
      const b = randomMask(seed + 50, 0.04);
      const d = chamferDistance(a, b);
      expect(d, `seed ${seed}`).toBeCloseTo(bruteChamfer(a, b, W), 12);
      expect(chamferDistance(b, a)).toBeCloseTo(d, 12);
    }
    const a = randomMask(60, 0.1, 9, 17);
    const b = randomMask(61, 0.1, 9, 17);
    expect(chamferDistance(a, b, 9, 17)).toBeCloseTo(bruteChamfer(a, b, 9), 12);
  });

  it('is 0 for identical or two empty masks, Infinity when exactly one is empty, and the exact offset for a shifted pixel', () => {
    const empty = new Uint8Array(MNIST_PIXELS);
    const m = randomMask(9, 0.05);
    expect(chamferDistance(m, m)).toBe(0);
    expect(chamferDistance(empty, empty)).toBe(0);
    expect(chamferDistance(m, empty)).toBe(Infinity);
    expect(chamferDistance(empty, m)).toBe(Infinity);
    const p = new Uint8Array(MNIST_PIXELS);
    const q = new Uint8Array(MNIST_PIXELS);
    p[2 * W + 3] = 1;
    q[6 * W + 6] = 1; // (3, 4) away: 5 pixels
    expect(chamferDistance(p, q)).toBeCloseTo(5, 12);
  });
});

describe('controlHint', () => {
  it('reduces a thick horizontal bar to a one-pixel-wide line along its axis, and is thin(inkMask(·))', () => {
    const img = bar(4, 23, 11, 17); // 7 rows thick, rows 11 … 17: axis at row 14
    const hint = controlHint(img);
    expect(hint).toEqual(thin(inkMask(img, 0), W, H));
    const on = onPixels(hint, W);
    expect(on.length).toBeGreaterThan(10);
    // Inside the bar only.
    for (const [x, y] of on) {
      expect(x >= 4 && x <= 23 && y >= 11 && y <= 17, `(${x}, ${y})`).toBe(true);
    }
    // Away from the ends: exactly one pixel per column, on the bar's axis.
    for (let x = 8; x <= 19; x++) {
      const col = on.filter(([u]) => u === x).map(([, v]) => v);
      expect(col, `column ${x}`).toEqual([14]);
    }
    // The same bar, vertical: the transposed answer.
    const vert = new Uint8Array(MNIST_PIXELS);
    for (let y = 4; y <= 23; y++) for (let x = 11; x <= 17; x++) vert[y * W + x] = 200;
    const vh = controlHint(vert);
    for (let y = 8; y <= 19; y++) {
      const row = onPixels(vh, W).filter(([, v]) => v === y).map(([u]) => u);
      expect(row, `row ${y}`).toEqual([14]);
    }
  });

  it('uses the 128 threshold by default, honours an offset and another threshold, and batches with controlHints', () => {
    const faint = bar(4, 23, 11, 17, 127);
    expect(controlHint(faint).every((v) => v === 0)).toBe(true);
    expect(controlHint(faint, 0, 100).some((v) => v === 1)).toBe(true);
    const a = bar(4, 23, 11, 17);
    const b = bar(10, 16, 3, 24);
    const both = new Uint8Array(3 * MNIST_PIXELS);
    both.set(a, MNIST_PIXELS);
    both.set(b, 2 * MNIST_PIXELS);
    expect(controlHint(both, MNIST_PIXELS)).toEqual(controlHint(a));
    const hs = controlHints(both, 2, MNIST_PIXELS);
    expect(hs.length).toBe(2 * MNIST_PIXELS);
    expect(hs.subarray(0, MNIST_PIXELS)).toEqual(controlHint(a));
    expect(hs.subarray(MNIST_PIXELS)).toEqual(controlHint(b));
    expect(controlHints(both, 0).length).toBe(0);
  });
});

describe('rasterizeStrokes', () => {
  it('puts a horizontal stroke’s ink within radius + 1 of the segment, full ink on it, and nothing elsewhere', () => {
    for (const r of [BRUSH_RADIUS, 2, 0.8]) {
      const img = rasterizeStrokes([[[5, 14], [22, 14]]], r);
      expect(img).toBeInstanceOf(Uint8Array);
      expect(img.length).toBe(MNIST_PIXELS);
      let inked = 0;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const d = segDist(x + 0.5, y + 0.5, 5, 14, 22, 14);
          const v = img[y * W + x];
          if (v > 0) {
            inked++;
            expect(d, `(${x}, ${y}) r ${r}`).toBeLessThanOrEqual(r + 1);
          }
          if (d <= r - 0.5) expect(v, `(${x}, ${y}) r ${r}`).toBe(255);
          // The stated antialiasing: round(255 · clamp(r + 0.5 − d)).
          expect(v).toBe(Math.round(255 * Math.max(0, Math.min(1, r + 0.5 - d))));
        }
      }
      expect(inked).toBeGreaterThan(17);
    }
  });

  it('draws a one-point stroke as a round dot (the same as a zero-length segment)', () => {
    const dot = rasterizeStrokes([[[14.5, 9.5]]], 2);
    const on = onPixels(dot, W);
    expect(on.length).toBeGreaterThan(4);
    expect(dot[9 * W + 14]).toBe(255);
    for (const [x, y] of on) expect(Math.hypot(x + 0.5 - 14.5, y + 0.5 - 9.5)).toBeLessThanOrEqual(2.5);
    // Symmetric about its centre pixel.
    for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) expect(dot[(9 + dy) * W + 14 + dx]).toBe(dot[(9 - dy) * W + 14 - dx]);
    expect(rasterizeStrokes([[[14.5, 9.5], [14.5, 9.5]]], 2)).toEqual(dot);
    expect(rasterizeStrokes([])).toEqual(new Uint8Array(MNIST_PIXELS));
  });

  it('ignores non-finite points (and strokes with none left)', () => {
    const clean: Stroke = [[4, 4], [20, 10], [8, 24]];
    const dirty: Stroke = [[4, 4], [NaN, 3], [20, 10], [Infinity, 5], [7, -Infinity], [8, 24]];
    expect(rasterizeStrokes([dirty])).toEqual(rasterizeStrokes([clean]));
    expect(rasterizeStrokes([[[NaN, NaN]], [[Infinity, 2]]])).toEqual(new Uint8Array(MNIST_PIXELS));
    expect(rasterizeStrokes([[[NaN, 1]], clean])).toEqual(rasterizeStrokes([clean]));
  });

  it('gives nearly the same hint for a 2.6-px and a 4-px brush (the brush width hardly changes the skeleton)', () => {
    const shapes: Stroke[][] = [
      [[[6, 14], [22, 14]]], // a bar
      [[[7, 6], [21, 6], [12, 23]]], // a 7
      [[[14, 4], [14, 24]], [[9, 9], [14, 4]]], // a 1 with a flag
      [[[8, 8], [20, 20]]], // a diagonal
    ];
    for (const strokes of shapes) {
      const narrow = controlHint(rasterizeStrokes(strokes, BRUSH_RADIUS));
      const wide = controlHint(rasterizeStrokes(strokes, 2));
      expect(narrow.some((v) => v === 1)).toBe(true);
      const m = skeletonMatch(narrow, wide);
      expect(m.f1, JSON.stringify(strokes)).toBeGreaterThanOrEqual(0.9);
    }
  });
});

describe('packMask / unpackMask', () => {
  /** Reference packing: the bits, MSB first, as bytes, through Node's base64url (6 bits a character, same alphabet). */
  const referencePack = (mask: Uint8Array): string => {
    const bits = Math.ceil(mask.length / 6) * 6;
    const bytes = new Uint8Array(Math.ceil(bits / 8));
    for (let i = 0; i < mask.length; i++) if (mask[i]) bytes[i >> 3] |= 0x80 >> (i & 7);
    return Buffer.from(bytes).toString('base64url').slice(0, bits / 6);
  };

  it('round-trips random masks in 131 base64url characters, as the reference packing writes them', () => {
    for (let seed = 0; seed < 20; seed++) {
      const m = randomMask(seed + 200, [0, 0.02, 0.5, 0.97, 1][seed % 5]);
      const s = packMask(m);
      expect(s.length).toBe(131);
      expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(s).toBe(referencePack(m));
      expect(unpackMask(s)).toEqual(m);
    }
    // Non-zero values count as on; other sizes.
    const v = Uint8Array.from({ length: MNIST_PIXELS }, (_, i) => (i % 7 === 0 ? 255 : 0));
    expect(unpackMask(packMask(v))).toEqual(Uint8Array.from(v, (x) => (x ? 1 : 0)));
    const small = randomMask(300, 0.5, 5, 5);
    expect(packMask(small, 25).length).toBe(5);
    expect(unpackMask(packMask(small, 25), 25)).toEqual(small);
  });

  it('refuses wrong lengths, characters outside base64url, set padding bits and non-strings', () => {
    const s = packMask(randomMask(5, 0.3));
    expect(unpackMask(s.slice(1))).toBeNull();
    expect(unpackMask(s + 'A')).toBeNull();
    expect(unpackMask('')).toBeNull();
    for (const bad of ['+', '/', '=', ' ', 'é', '.']) expect(unpackMask(bad + s.slice(1)), bad).toBeNull();
    // 784 = 130·6 + 4: the last character carries 2 padding bits, which must be 0.
    const last = s.at(-1)!;
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    expect(B64.indexOf(last) & 3).toBe(0);
    expect(unpackMask(s.slice(0, -1) + B64[B64.indexOf(last) | 1])).toBeNull();
    for (const notString of [null, undefined, 42, ['A'], { length: 131 }]) expect(unpackMask(notString as unknown as string)).toBeNull();
  });
});
