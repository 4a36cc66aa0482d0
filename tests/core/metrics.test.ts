import { describe, expect, it } from 'vitest';
import {
  classHistogram,
  classStatistics,
  entropy,
  featureStats,
  frechetDistance,
  sqrtmPsd,
  symmetricEigen,
  withinClassDiversity,
  type GaussianStats,
} from '../../src/core/metrics';

/** Seeded uniform numbers in [−1, 1) (mulberry32), independent of the code under test. */
function uniforms(seed: number, n: number): Float64Array {
  let a = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** A random symmetric positive definite n×n matrix B Bᵀ + εI. */
function randomSpd(seed: number, n: number, eps = 0.1): Float64Array {
  const b = uniforms(seed, n * n);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? eps : 0;
      for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
      out[i * n + j] = s;
    }
  return out;
}

const mul = (a: ArrayLike<number>, b: ArrayLike<number>, n: number) => {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) out[i * n + j] += a[i * n + k] * b[k * n + j];
  return out;
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const stats = (mean: number[], cov: number[][]): GaussianStats => ({
  mean: Float64Array.from(mean),
  cov: Float64Array.from(cov.flat()),
  dim: mean.length,
  count: 1000,
});

describe('featureStats', () => {
  it('returns the sample mean and the unbiased (N − 1) covariance', () => {
    // rows (1, 2), (3, 6), (5, 4): mean (3, 4); deviations (−2,−2), (0, 2), (2, 0)
    const s = featureStats({ data: [1, 2, 3, 6, 5, 4], rows: 3, cols: 2 });
    expect(Array.from(s.mean)).toEqual([3, 4]);
    // Σ = [[4+0+4, 4+0+0], [4, 4+4+0]] / 2 = [[4, 2], [2, 4]]
    expect(Array.from(s.cov)).toEqual([4, 2, 2, 4]);
    expect(() => featureStats({ data: [1, 2], rows: 1, cols: 2 })).toThrow(/at least 2/);
  });
});

describe('symmetricEigen (Jacobi)', () => {
  it('finds the eigenvalues 1 and 3 of [[2, 1], [1, 2]]', () => {
    const { values } = symmetricEigen([2, 1, 1, 2], 2);
    expect(Array.from(values).sort()).toEqual([expect.closeTo(1, 12), expect.closeTo(3, 12)]);
  });

  it('decomposes a random 24×24 symmetric matrix as A V = V Λ with orthonormal V', () => {
    const n = 24;
    const a = randomSpd(5, n);
    for (let i = 0; i < n; i++) a[i * n + i] -= 3; // make it indefinite too
    const { values, vectors } = symmetricEigen(a, n);
    const av = mul(a, vectors, n);
    const vl = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) vl[i * n + k] = vectors[i * n + k] * values[k];
    expect(maxDiff(av, vl)).toBeLessThan(1e-10);
    const vt = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vt[i * n + j] = vectors[j * n + i];
    const eye = Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
    expect(maxDiff(mul(vt, vectors, n), eye)).toBeLessThan(1e-12);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i];
    expect(values.reduce((s, v) => s + v, 0)).toBeCloseTo(trace, 9);
  });

  it('gives a square root S of a PSD matrix with S·S = A', () => {
    const n = 16;
    const a = randomSpd(9, n, 0);
    const s = sqrtmPsd(a, n);
    expect(maxDiff(mul(s, s, n), a)).toBeLessThan(1e-9);
    expect(maxDiff(s, Array.from({ length: n * n }, (_, i) => s[(i % n) * n + Math.floor(i / n)]))).toBeLessThan(1e-12);
  });
});

describe('frechetDistance', () => {
  it('is ‖μa − μb‖² + Σ(√σa − √σb)² for diagonal covariances', () => {
    const a = stats([0, 1, 2], [[4, 0, 0], [0, 1, 0], [0, 0, 9]]);
    const b = stats([1, 1, 0], [[1, 0, 0], [0, 1, 0], [0, 0, 4]]);
    // mean term 1 + 0 + 4 = 5; covariance term (2−1)² + 0 + (3−2)² = 2
    expect(frechetDistance(a, b)).toBeCloseTo(7, 10);
  });

  it('matches the 2×2 closed form tr√(ΣaΣb) = √(tr ΣaΣb + 2√(det Σa det Σb)) for non-commuting covariances', () => {
    const ca = [[2, 1], [1, 3]];
    const cb = [[1, -0.5], [-0.5, 2]];
    const a = stats([0.5, -1], ca);
    const b = stats([0, 0], cb);
    const trAB = ca[0][0] * cb[0][0] + ca[0][1] * cb[1][0] + ca[1][0] * cb[0][1] + ca[1][1] * cb[1][1];
    const det = (m: number[][]) => m[0][0] * m[1][1] - m[0][1] * m[1][0];
    const trSqrt = Math.sqrt(trAB + 2 * Math.sqrt(det(ca) * det(cb)));
    const expected = 0.25 + 1 + (2 + 3) + (1 + 2) - 2 * trSqrt;
    expect(frechetDistance(a, b)).toBeCloseTo(expected, 10);
  });

  it('is zero for identical sets, symmetric, and unchanged by rotating both sets together', () => {
    const n = 6;
    const a = stats(Array.from(uniforms(1, n)), []);
    const b = stats(Array.from(uniforms(2, n)), []);
    const ra = { ...a, cov: randomSpd(3, n) };
    const rb = { ...b, cov: randomSpd(4, n) };
    expect(frechetDistance(ra, ra)).toBeLessThan(1e-9);
    const d = frechetDistance(ra, rb);
    expect(d).toBeGreaterThan(0.1);
    expect(frechetDistance(rb, ra)).toBeCloseTo(d, 9);
    // Rotation Q from the eigenvectors of another SPD matrix: μ → Qμ, Σ → QΣQᵀ.
    const q = symmetricEigen(randomSpd(7, n), n).vectors;
    const rot = (s: GaussianStats): GaussianStats => {
      const mean = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) mean[i] += q[i * n + k] * s.mean[k];
      const qt = Float64Array.from({ length: n * n }, (_, i) => q[(i % n) * n + Math.floor(i / n)]);
      return { ...s, mean, cov: mul(mul(q, s.cov, n), qt, n) };
    };
    expect(frechetDistance(rot(ra), rot(rb))).toBeCloseTo(d, 8);
  });

  it('accepts raw feature matrices and agrees with the statistics route', () => {
    const rows = 50;
    const cols = 4;
    const fa = { data: uniforms(11, rows * cols), rows, cols };
    const fb = { data: uniforms(12, rows * cols).map((v, i) => v * (1 + (i % cols)) + 0.3), rows, cols };
    expect(frechetDistance(fa, fb)).toBeCloseTo(frechetDistance(featureStats(fa), featureStats(fb)), 12);
    expect(() => frechetDistance(fa, { data: new Float64Array(20), rows: 10, cols: 2 })).toThrow(/feature sizes differ/);
  });
});

describe('class statistics', () => {
  it('entropy is ln K for a uniform distribution and 0 for a point mass', () => {
    expect(entropy(new Array(10).fill(0.1))).toBeCloseTo(Math.log(10), 12);
    expect(entropy([0, 5, 0])).toBe(0);
    expect(entropy([1, 1, 2])).toBeCloseTo(-(0.25 * Math.log(0.25) * 2 + 0.5 * Math.log(0.5)), 12);
    expect(Array.from(classHistogram([0, 1, 1, 3], 4))).toEqual([0.25, 0.5, 0, 0.25]);
  });

  it('scores confident, evenly covered predictions K and a single repeated class 1', () => {
    const k = 10;
    const oneHot = (labels: number[]) => ({
      data: labels.flatMap((l) => Array.from({ length: k }, (_, j) => (j === l ? 1 : 0))),
      rows: labels.length,
      cols: k,
    });
    const even = classStatistics(oneHot(Array.from({ length: 50 }, (_, i) => i % k)));
    expect(even.marginalEntropy).toBeCloseTo(Math.log(10), 12);
    expect(even.meanConditionalEntropy).toBe(0);
    expect(even.score).toBeCloseTo(10, 10);
    const collapsed = classStatistics(oneHot(new Array(20).fill(3)));
    expect(collapsed.score).toBeCloseTo(1, 12);
    const unsure = classStatistics({ data: new Array(3 * k).fill(1 / k), rows: 3, cols: k });
    expect(unsure.meanConditionalEntropy).toBeCloseTo(Math.log(10), 12);
    expect(unsure.score).toBeCloseTo(1, 12);
  });

  it('measures within-class diversity as the mean pairwise distance per class', () => {
    // class 0: (0,0), (3,4), (0,4) → distances 5, 3, 4 → mean 4; class 1: (1,1), (1,1) → 0; class 2: one member → NaN
    const feats = { data: [0, 0, 3, 4, 1, 1, 0, 4, 1, 1, 9, 9], rows: 6, cols: 2 };
    const { perClass, mean } = withinClassDiversity(feats, [0, 0, 1, 0, 1, 2], 3);
    expect(perClass[0]).toBeCloseTo(4, 12);
    expect(perClass[1]).toBe(0);
    expect(perClass[2]).toBeNaN();
    expect(mean).toBeCloseTo(2, 12);
  });
});
