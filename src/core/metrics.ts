/**
 * Sample-quality metrics on classifier outputs, all in float64 on plain arrays (no tensors):
 * Fréchet distance of features (Heusel et al. 2017, the "FID" formula with our MNIST classifier in place
 * of Inception), class-coverage entropy, Inception-style score, and within-class diversity.
 */

/** A row-major matrix of `rows` feature vectors of length `cols`. */
export interface FeatureMatrix {
  readonly data: ArrayLike<number>;
  readonly rows: number;
  readonly cols: number;
}

/** Mean and covariance of a feature set (float64; cov is dim × dim row-major, unbiased: divides by N − 1). */
export interface GaussianStats {
  readonly mean: Float64Array;
  readonly cov: Float64Array;
  readonly dim: number;
  readonly count: number;
}

function checkMatrix(m: FeatureMatrix, what: string): void {
  if (m.data.length !== m.rows * m.cols) throw new Error(`${what}: ${m.data.length} values for ${m.rows}×${m.cols}`);
}

/** Sample mean and unbiased covariance (as numpy.cov(rowvar=False)). Needs ≥ 2 rows. */
export function featureStats(feats: FeatureMatrix): GaussianStats {
  checkMatrix(feats, 'featureStats');
  const { rows: n, cols: d, data } = feats;
  if (n < 2) throw new Error(`featureStats: need at least 2 feature vectors, got ${n}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) centred[j] = data[i * d + j] - mean[j];
    for (let j = 0; j < d; j++) {
      const cj = centred[j];
      if (cj === 0) continue;
      for (let k = j; k < d; k++) cov[j * d + k] += cj * centred[k];
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      const v = cov[j * d + k] / (n - 1);
      cov[j * d + k] = v;
      cov[k * d + j] = v;
    }
  }
  return { mean, cov, dim: d, count: n };
}

/**
 * Eigendecomposition of a symmetric n×n matrix by cyclic Jacobi rotations (float64).
 * Returns eigenvalues and eigenvectors as the columns of `vectors` (row-major), so A = V diag(λ) Vᵀ.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number, maxSweeps = 100): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== n * n) throw new Error(`symmetricEigen: ${matrix.length} values for ${n}×${n}`);
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let norm = 0;
  for (let i = 0; i < n * n; i++) norm += a[i] * a[i];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-30 * norm || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/** Principal square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues → 0). */
export function sqrtmPsd(matrix: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k], 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k] * r;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors[j * n + k];
    }
  }
  return out;
}

function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

const asStats = (x: FeatureMatrix | GaussianStats): GaussianStats => ('cov' in x ? x : featureStats(x));

/**
 * Fréchet distance between the Gaussians fitted to two feature sets (Heusel et al. 2017, eq. 6):
 * d² = ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2}). The trace of (Σ_a Σ_b)^{1/2} is taken as
 * tr((Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}), a symmetric PSD form with the same eigenvalues. Returns d² ≥ 0.
 */
export function frechetDistance(featsA: FeatureMatrix | GaussianStats, featsB: FeatureMatrix | GaussianStats): number {
  const a = asStats(featsA);
  const b = asStats(featsB);
  if (a.dim !== b.dim) throw new Error(`frechetDistance: feature sizes differ (${a.dim} vs ${b.dim})`);
  const n = a.dim;
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a.cov[i * n + i] + b.cov[i * n + i];
  const sA = sqrtmPsd(a.cov, n);
  const m = matMul(matMul(sA, b.cov, n), sA, n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = 0.5 * (m[i * n + j] + m[j * n + i]);
      m[i * n + j] = s;
      m[j * n + i] = s;
    }
  }
  const { values } = symmetricEigen(m, n);
  let trSqrt = 0;
  for (const l of values) trSqrt += Math.sqrt(Math.max(l, 0));
  return Math.max(0, meanTerm + trace - 2 * trSqrt);
}

/** Shannon entropy in nats of a (not necessarily normalised) non-negative distribution. */
export function entropy(p: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) h -= (p[i] / total) * Math.log(p[i] / total);
  return h;
}

/** Fraction of samples per class. */
export function classHistogram(labels: ArrayLike<number>, numClasses = 10): Float64Array {
  const h = new Float64Array(numClasses);
  for (let i = 0; i < labels.length; i++) h[labels[i]] += 1;
  for (let k = 0; k < numClasses; k++) h[k] /= Math.max(1, labels.length);
  return h;
}

/**
 * Class statistics of classifier probabilities p(y | x) [N × K]: entropy of the marginal p(y) (coverage:
 * ln K when every class is equally frequent), mean entropy of p(y | x) (confidence: 0 when every digit is
 * unambiguous), and the Inception-style score exp(E_x KL(p(y|x) ‖ p(y))) (Salimans et al. 2016) ∈ [1, K].
 */
export function classStatistics(probs: FeatureMatrix): { marginalEntropy: number; meanConditionalEntropy: number; score: number; marginal: Float64Array } {
  checkMatrix(probs, 'classStatistics');
  const { rows: n, cols: k, data } = probs;
  const marginal = new Float64Array(k);
  let condH = 0;
  const row = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += (row[j] = Math.max(0, data[i * k + j]));
    for (let j = 0; j < k; j++) {
      const q = row[j] / s;
      marginal[j] += q / n;
      if (q > 0) condH -= q * Math.log(q);
    }
  }
  condH /= n;
  const marginalEntropy = entropy(marginal);
  // E_x KL(p(y|x) ‖ p(y)) = H(p(y)) − E_x H(p(y|x))
  return { marginalEntropy, meanConditionalEntropy: condH, score: Math.exp(marginalEntropy - condH), marginal };
}

/**
 * Within-class diversity: for each class, the mean Euclidean distance between all pairs of feature vectors
 * labelled with it (NaN for classes with fewer than 2 members); `mean` averages the defined classes.
 */
export function withinClassDiversity(feats: FeatureMatrix, labels: ArrayLike<number>, numClasses = 10): { perClass: Float64Array; mean: number } {
  checkMatrix(feats, 'withinClassDiversity');
  if (labels.length !== feats.rows) throw new Error(`withinClassDiversity: ${labels.length} labels for ${feats.rows} rows`);
  const d = feats.cols;
  const members: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) members[labels[i]].push(i);
  const perClass = new Float64Array(numClasses).fill(NaN);
  let sum = 0;
  let defined = 0;
  members.forEach((idx, c) => {
    if (idx.length < 2) return;
    let total = 0;
    let pairs = 0;
    for (let a = 0; a < idx.length; a++) {
      for (let b = a + 1; b < idx.length; b++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += (feats.data[idx[a] * d + j] - feats.data[idx[b] * d + j]) ** 2;
        total += Math.sqrt(s);
        pairs++;
      }
    }
    perClass[c] = total / pairs;
    sum += perClass[c];
    defined++;
  });
  return { perClass, mean: defined ? sum / defined : NaN };
}
