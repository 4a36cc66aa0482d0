/**
 * Principal component analysis of row vectors, without tfjs (Pearson 1901; Jolliffe, "Principal Component
 * Analysis", 2002, §1.1): centre the rows on their mean, form the covariance C = XᶜᵀXᶜ / (n − 1), and keep the
 * eigenvectors of C with the largest eigenvalues. Everything is float64.
 *
 * | name         | symbol  | meaning                                                            |
 * |--------------|---------|--------------------------------------------------------------------|
 * | `mean`       | μ       | the mean row [cols]                                                |
 * | `components` | W       | k unit eigenvectors of C, one per row [k × cols], largest λ first  |
 * | `variances`  | λ_1…λ_k | their eigenvalues: the variance of the data along each component   |
 * | `explained`  | λ_i/trC | the share of the total variance each component carries             |
 * | projection   | y       | y = W (x − μ)                                                      |
 *
 * The eigenvectors come from the cyclic Jacobi method for symmetric matrices (Golub & Van Loan, "Matrix
 * Computations", 4th ed., §8.5.2): plane rotations zero the off-diagonal entries one pair at a time until the
 * matrix is diagonal to round-off; it is exact for symmetric input, needs no tolerance tuning and is fast enough
 * for the 64×64 covariances here. An eigenvector's sign is arbitrary, so each component is flipped to make its
 * entry of largest magnitude positive (the first such entry on a tie): the same data always give the same picture.
 */

export interface Pca {
  readonly cols: number;
  readonly mean: Float64Array;
  /** k rows of `cols` values: unit eigenvectors of the covariance, largest eigenvalue first. */
  readonly components: Float64Array;
  readonly k: number;
  /** The eigenvalues (variance along each component). */
  readonly variances: Float64Array;
  /** Each component's share of the total variance (trace of the covariance), in [0, 1]. */
  readonly explained: Float64Array;
}

/** Eigen-decomposition of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations; eigenvectors as columns of `vectors`. */
export function symmetricEigen(matrix: ArrayLike<number>, n: number, maxSweeps = 100): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n}×${n} = ${n * n} values, got ${matrix.length}`);
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  const tiny = Number.EPSILON * Number.EPSILON * scale;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= tiny) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        // The rotation that zeroes a_pq (Golub & Van Loan, Algorithm 8.5.1): θ = (a_qq − a_pp) / (2 a_pq).
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // A ← A·J (columns p and q) …
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          // … then A ← Jᵀ·A (rows p and q); V ← V·J.
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
        a[p * n + q] = a[q * n + p] = 0;
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/** Flip a vector in place so that its entry of largest magnitude (the first, on a tie) is positive. */
function fixSign(w: Float64Array): void {
  let best = 0;
  for (let i = 1; i < w.length; i++) if (Math.abs(w[i]) > Math.abs(w[best])) best = i;
  if (w[best] < 0) for (let i = 0; i < w.length; i++) w[i] = -w[i];
}

/**
 * PCA of `rows` vectors of `cols` values stored row after row in `data`: mean, top-k components, their variances.
 * `weights` (optional, one per row, ≥ 0) are frequency weights: a row of weight 3 counts as three copies of it, so
 * C = Σ w (x − μ)(x − μ)ᵀ / (Σ w − 1) with μ = Σ w x / Σ w.
 */
export function fitPca(data: ArrayLike<number>, rows: number, cols: number, k = 2, weights?: ArrayLike<number>): Pca {
  if (data.length < rows * cols) throw new RangeError(`fitPca: ${rows}×${cols} needs ${rows * cols} values, got ${data.length}`);
  if (rows < 2) throw new RangeError('fitPca: needs at least two rows');
  if (!(k >= 1 && k <= cols && Number.isInteger(k))) throw new RangeError(`fitPca: k must be 1…${cols}, got ${k}`);
  if (weights && (weights.length !== rows || !Array.from(weights).every((w) => w >= 0 && Number.isFinite(w)))) {
    throw new RangeError(`fitPca: weights must be ${rows} finite values ≥ 0`);
  }
  const weightOf = (r: number) => (weights ? weights[r] : 1);
  let total = 0;
  for (let r = 0; r < rows; r++) total += weightOf(r);
  if (!(total > 1)) throw new RangeError('fitPca: the weights must add up to more than 1');
  const mean = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c] += weightOf(r) * data[r * cols + c];
  for (let c = 0; c < cols; c++) mean[c] /= total;
  const cov = new Float64Array(cols * cols);
  const centred = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const w = weightOf(r);
    if (w === 0) continue;
    for (let c = 0; c < cols; c++) centred[c] = data[r * cols + c] - mean[c];
    for (let i = 0; i < cols; i++) {
      const ci = w * centred[i];
      for (let j = i; j < cols; j++) cov[i * cols + j] += ci * centred[j];
    }
  }
  for (let i = 0; i < cols; i++) {
    for (let j = i; j < cols; j++) cov[j * cols + i] = cov[i * cols + j] /= total - 1;
  }
  let trace = 0;
  for (let i = 0; i < cols; i++) trace += cov[i * cols + i];
  const { values, vectors } = symmetricEigen(cov, cols);
  const order = Array.from(values.keys()).sort((x, y) => values[y] - values[x] || x - y);
  const components = new Float64Array(k * cols);
  const variances = new Float64Array(k);
  const explained = new Float64Array(k);
  for (let m = 0; m < k; m++) {
    const col = order[m];
    const w = new Float64Array(cols);
    for (let i = 0; i < cols; i++) w[i] = vectors[i * cols + col];
    fixSign(w);
    components.set(w, m * cols);
    variances[m] = values[col] > 0 ? values[col] : 0;
    explained[m] = trace > 0 ? variances[m] / trace : 0;
  }
  return { cols, mean, components, k, variances, explained };
}

/** y = W (x − μ) for each of the `count` vectors stored one after another in `vectors`: count × k values. */
export function projectPca(pca: Pca, vectors: ArrayLike<number>, count = Math.floor(vectors.length / pca.cols)): Float64Array {
  const { cols, k, mean, components } = pca;
  if (vectors.length < count * cols) throw new RangeError(`projectPca: ${count} vectors of ${cols} need ${count * cols} values, got ${vectors.length}`);
  const out = new Float64Array(count * k);
  for (let r = 0; r < count; r++) {
    for (let m = 0; m < k; m++) {
      let y = 0;
      for (let c = 0; c < cols; c++) y += components[m * cols + c] * (vectors[r * cols + c] - mean[c]);
      out[r * k + m] = y;
    }
  }
  return out;
}
