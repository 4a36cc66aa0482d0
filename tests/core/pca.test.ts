import { describe, expect, it } from 'vitest';
import { fitPca, projectPca, symmetricEigen } from '../../src/core/pca';

/** A small seeded generator (the test's own). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Eigenvalues of a symmetric 3×3 matrix in closed form (Smith 1961, the trigonometric solution), descending. */
function eigenvalues3(a: number[][]): number[] {
  const p1 = a[0][1] ** 2 + a[0][2] ** 2 + a[1][2] ** 2;
  const q = (a[0][0] + a[1][1] + a[2][2]) / 3;
  const p2 = (a[0][0] - q) ** 2 + (a[1][1] - q) ** 2 + (a[2][2] - q) ** 2 + 2 * p1;
  const p = Math.sqrt(p2 / 6);
  const b = a.map((row, i) => row.map((v, j) => (v - (i === j ? q : 0)) / p));
  const det = b[0][0] * (b[1][1] * b[2][2] - b[1][2] * b[2][1]) - b[0][1] * (b[1][0] * b[2][2] - b[1][2] * b[2][0]) + b[0][2] * (b[1][0] * b[2][1] - b[1][1] * b[2][0]);
  const phi = Math.acos(Math.min(1, Math.max(-1, det / 2))) / 3;
  const l1 = q + 2 * p * Math.cos(phi);
  const l3 = q + 2 * p * Math.cos(phi + (2 * Math.PI) / 3);
  return [l1, 3 * q - l1 - l3, l3];
}

/** A unit eigenvector of a symmetric 3×3 matrix for eigenvalue λ: the longest cross product of two rows of A − λI. */
function eigenvector3(a: number[][], lambda: number): number[] {
  const m = a.map((row, i) => row.map((v, j) => v - (i === j ? lambda : 0)));
  const cross = (u: number[], v: number[]) => [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
  const best = [cross(m[0], m[1]), cross(m[0], m[2]), cross(m[1], m[2])].reduce((x, y) => (Math.hypot(...y) > Math.hypot(...x) ? y : x));
  const n = Math.hypot(...best);
  return best.map((v) => v / n);
}

/** The sample covariance (n − 1 in the denominator) of rows, by the textbook two-pass formula. */
function covariance(rows: number[][]): number[][] {
  const d = rows[0].length;
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
  return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + (r[i] - mean[i]) * (r[j] - mean[j]), 0) / (rows.length - 1)));
}

const row = (w: Float64Array, m: number, cols: number) => Array.from(w.subarray(m * cols, (m + 1) * cols));
const dot = (u: ArrayLike<number>, v: ArrayLike<number>) => Array.from(u).reduce((s, x, i) => s + x * v[i], 0);

describe('PCA', () => {
  it('finds the known axes of a 2-D cloud: ±a along u₁ and ±b along u₂ give variances 2a²/3 and 2b²/3', () => {
    const phi = 0.6;
    const u1 = [Math.cos(phi), Math.sin(phi)];
    const u2 = [-Math.sin(phi), Math.cos(phi)];
    const [a, b, centre] = [3, 1, [5, -2]];
    const points = [
      [centre[0] + a * u1[0], centre[1] + a * u1[1]],
      [centre[0] - a * u1[0], centre[1] - a * u1[1]],
      [centre[0] + b * u2[0], centre[1] + b * u2[1]],
      [centre[0] - b * u2[0], centre[1] - b * u2[1]],
    ];
    const pca = fitPca(points.flat(), 4, 2, 2);
    expect(Array.from(pca.mean)).toEqual([expect.closeTo(5, 12), expect.closeTo(-2, 12)]);
    expect(pca.variances[0]).toBeCloseTo((2 * a * a) / 3, 12);
    expect(pca.variances[1]).toBeCloseTo((2 * b * b) / 3, 12);
    expect(pca.explained[0]).toBeCloseTo(9 / 10, 12);
    expect(pca.explained[1]).toBeCloseTo(1 / 10, 12);
    // Both entries of u₁ are positive already; u₂'s largest entry (its y, cos 0.6 > sin 0.6) is positive too.
    row(pca.components, 0, 2).forEach((v, i) => expect(v).toBeCloseTo(u1[i], 12));
    row(pca.components, 1, 2).forEach((v, i) => expect(v).toBeCloseTo(u2[i], 12));
    const y = projectPca(pca, points.flat());
    expect(Array.from(y)).toEqual([a, 0, -a, 0, 0, b, 0, -b].map((v) => expect.closeTo(v, 12)));
  });

  it('agrees with the closed-form eigen-decomposition of a 3-D covariance (Smith 1961)', () => {
    const rand = lcg(3);
    // Correlated 3-D data: z ~ U(−1, 1)³ through a fixed mixing matrix, plus an offset.
    const mix = [[2, 0.5, 0], [0.3, 1, 0.2], [-0.4, 0.6, 0.5]];
    const rows = Array.from({ length: 200 }, () => {
      const z = [rand() * 2 - 1, rand() * 2 - 1, rand() * 2 - 1];
      return mix.map((m, i) => m[0] * z[0] + m[1] * z[1] + m[2] * z[2] + [1, -3, 7][i]);
    });
    const cov = covariance(rows);
    const lambdas = eigenvalues3(cov);
    const pca = fitPca(rows.flat(), rows.length, 3, 3);
    const total = cov[0][0] + cov[1][1] + cov[2][2];
    for (let m = 0; m < 3; m++) {
      expect(pca.variances[m]).toBeCloseTo(lambdas[m], 10);
      expect(pca.explained[m]).toBeCloseTo(lambdas[m] / total, 10);
      const ref = eigenvector3(cov, lambdas[m]);
      const mine = row(pca.components, m, 3);
      // Same axis (|cos| = 1), and the sign convention: the entry of largest magnitude is positive.
      expect(Math.abs(dot(ref, mine))).toBeCloseTo(1, 10);
      const big = mine.reduce((bi, v, i) => (Math.abs(v) > Math.abs(mine[bi]) ? i : bi), 0);
      expect(mine[big]).toBeGreaterThan(0);
    }
  });

  it('gives orthonormal eigenvectors that satisfy C w = λ w on a 64-dimensional cloud, and projections with variance λ', () => {
    const rand = lcg(11);
    const [n, d] = [300, 64];
    const data = new Float64Array(n * d);
    // Anisotropic: dimension j scaled by 1/(1 + j), with a shared component that couples them.
    for (let r = 0; r < n; r++) {
      const shared = rand() - 0.5;
      for (let j = 0; j < d; j++) data[r * d + j] = (rand() - 0.5) / (1 + j) + shared * Math.sin(j);
    }
    const rows = Array.from({ length: n }, (_, r) => Array.from(data.subarray(r * d, (r + 1) * d)));
    const cov = covariance(rows);
    const pca = fitPca(data, n, d, 2);
    for (let m = 0; m < 2; m++) {
      const w = row(pca.components, m, d);
      expect(dot(w, w)).toBeCloseTo(1, 12);
      const cw = cov.map((ci) => dot(ci, w));
      cw.forEach((v, i) => expect(v).toBeCloseTo(pca.variances[m] * w[i], 10));
    }
    expect(dot(row(pca.components, 0, d), row(pca.components, 1, d))).toBeCloseTo(0, 12);
    expect(pca.variances[0]).toBeGreaterThanOrEqual(pca.variances[1]);
    // The top eigenvalue is the largest Rayleigh quotient: no random direction beats it.
    for (let t = 0; t < 50; t++) {
      const u = Array.from({ length: d }, () => rand() - 0.5);
      expect(dot(u, cov.map((ci) => dot(ci, u))) / dot(u, u)).toBeLessThanOrEqual(pca.variances[0] + 1e-12);
    }
    const y = projectPca(pca, data);
    const meanY = [0, 1].map((m) => Array.from({ length: n }, (_, r) => y[r * 2 + m]).reduce((s, v) => s + v, 0) / n);
    meanY.forEach((v) => expect(v).toBeCloseTo(0, 12));
    for (let m = 0; m < 2; m++) {
      const variance = Array.from({ length: n }, (_, r) => y[r * 2 + m] ** 2).reduce((s, v) => s + v, 0) / (n - 1);
      expect(variance).toBeCloseTo(pca.variances[m], 10);
    }
  });

  it('gives the same picture for the same data in any row order, and the mean projects to the origin', () => {
    const rand = lcg(5);
    const [n, d] = [40, 6];
    const data = Array.from({ length: n * d }, () => rand());
    const shuffled: number[] = [];
    for (let r = n - 1; r >= 0; r--) shuffled.push(...data.slice(r * d, (r + 1) * d));
    const a = fitPca(data, n, d);
    const b = fitPca(shuffled, n, d);
    Array.from(a.components).forEach((v, i) => expect(b.components[i]).toBeCloseTo(v, 10));
    expect(Array.from(projectPca(a, a.mean))).toEqual([0, 0]);
  });

  it('diagonalises a symmetric matrix: V diag(λ) Vᵀ rebuilds it', () => {
    const m = [4, 1, -2, 1, 3, 0.5, -2, 0.5, 1];
    const { values, vectors } = symmetricEigen(m, 3);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += vectors[i * 3 + k] * values[k] * vectors[j * 3 + k];
        expect(s).toBeCloseTo(m[i * 3 + j], 12);
      }
    }
  });

  it('treats integer weights as copies of rows: the same fit as the data with each row repeated', () => {
    const rand = lcg(17);
    const [n, d] = [30, 5];
    const data = Array.from({ length: n * d }, () => rand() * 2 - 1);
    const weights = Array.from({ length: n }, (_, r) => (r % 4 === 0 ? 0 : 1 + (r % 3)));
    const repeated: number[] = [];
    weights.forEach((w, r) => {
      for (let c = 0; c < w; c++) repeated.push(...data.slice(r * d, (r + 1) * d));
    });
    const a = fitPca(data, n, d, 3, weights);
    const b = fitPca(repeated, repeated.length / d, d, 3);
    Array.from(b.mean).forEach((v, i) => expect(a.mean[i]).toBeCloseTo(v, 12));
    Array.from(b.variances).forEach((v, i) => expect(a.variances[i]).toBeCloseTo(v, 12));
    Array.from(b.components).forEach((v, i) => expect(a.components[i]).toBeCloseTo(v, 10));
    expect(() => fitPca(data, n, d, 2, weights.slice(1))).toThrow(/weights/);
    expect(() => fitPca(data, n, d, 2, weights.map(() => -1))).toThrow(/weights/);
  });

  it('refuses shapes it cannot fit', () => {
    expect(() => fitPca([1, 2], 1, 2)).toThrow(/two rows/);
    expect(() => fitPca([1, 2, 3], 2, 2)).toThrow(/needs 4 values/);
    expect(() => fitPca([1, 2, 3, 4], 2, 2, 3)).toThrow(/k must be/);
  });
});
