/**
 * Float64 references for the transformer and CLIP layers, written from their definitions (row-major arrays,
 * NHWC images), and a central finite-difference gradient. Weights are looked up by the ParamStore's names.
 */
export type Weights = Record<string, Float64Array>;

/** LayerNorm over the last axis of `rows` rows of d values. */
export function layerNormRef(x: ArrayLike<number>, d: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i];
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (x[r * d + i] - mean) ** 2;
    variance /= d;
    const s = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = gamma[i] * (x[r * d + i] - mean) * s + beta[i];
  }
  return y;
}

/** y = x W + b for rows of `inD` values; W [inD, outD] row-major. */
export function denseRef(x: ArrayLike<number>, inD: number, w: ArrayLike<number>, b: ArrayLike<number> | null, outD: number): Float64Array {
  const rows = x.length / inD;
  const y = new Float64Array(rows * outD);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outD; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inD; i++) s += x[r * inD + i] * w[i * outD + o];
      y[r * outD + o] = s;
    }
  return y;
}

export interface MhaRefOptions {
  heads: number;
  causal?: boolean;
  /** [N, Lk], 1 = may attend. */
  keyMask?: ArrayLike<number>;
  /** [N, Lk, dc]; default x (self-attention). */
  context?: ArrayLike<number>;
  contextLength?: number;
  contextDim?: number;
}

/** Multi-head attention on x [N, Lq, d] with `${name}.{q,k,v,out}.{w,b}`; masked logits are dropped. */
export function mhaRef(x: ArrayLike<number>, n: number, lq: number, d: number, w: Weights, name: string, o: MhaRefOptions): Float64Array {
  const ctx = o.context ?? x;
  const lk = o.contextLength ?? lq;
  const dc = o.contextDim ?? d;
  const dh = d / o.heads;
  const q = denseRef(x, d, w[`${name}.q.w`], w[`${name}.q.b`], d);
  const k = denseRef(ctx, dc, w[`${name}.k.w`], w[`${name}.k.b`], d);
  const v = denseRef(ctx, dc, w[`${name}.v.w`], w[`${name}.v.b`], d);
  const merged = new Float64Array(n * lq * d);
  for (let b = 0; b < n; b++)
    for (let h = 0; h < o.heads; h++)
      for (let i = 0; i < lq; i++) {
        const logits: number[] = [];
        const keys: number[] = [];
        for (let j = 0; j < lk; j++) {
          if (o.causal && j > i) continue;
          if (o.keyMask && o.keyMask[b * lk + j] === 0) continue;
          let s = 0;
          for (let c = 0; c < dh; c++) s += q[(b * lq + i) * d + h * dh + c] * k[(b * lk + j) * d + h * dh + c];
          logits.push(s / Math.sqrt(dh));
          keys.push(j);
        }
        const m = Math.max(...logits);
        const e = logits.map((z) => Math.exp(z - m));
        const z = e.reduce((a, c) => a + c, 0);
        keys.forEach((j, t) => {
          for (let c = 0; c < dh; c++) merged[(b * lq + i) * d + h * dh + c] += (e[t] / z) * v[(b * lk + j) * d + h * dh + c];
        });
      }
  return denseRef(merged, d, w[`${name}.out.w`], w[`${name}.out.b`], d);
}

export const quickGeluRef = (v: number): number => v / (1 + Math.exp(-1.702 * v));
export const siluRef = (v: number): number => v / (1 + Math.exp(-v));

/** proj(QuickGELU(fc(x))) with `${name}.fc` [d, hidden] and `${name}.proj`. */
export function mlpRef(x: ArrayLike<number>, d: number, hidden: number, w: Weights, name: string): Float64Array {
  const h = denseRef(x, d, w[`${name}.fc.w`], w[`${name}.fc.b`], hidden).map(quickGeluRef);
  return denseRef(h, hidden, w[`${name}.proj.w`], w[`${name}.proj.b`], d);
}

/** Pre-norm block x + MHA(LN₁ x), then + MLP(LN₂ ·). */
export function blockRef(x: ArrayLike<number>, n: number, l: number, d: number, heads: number, hidden: number, w: Weights, name: string, causal: boolean, eps: number): Float64Array {
  const a = mhaRef(layerNormRef(x, d, w[`${name}.ln1.gamma`], w[`${name}.ln1.beta`], eps), n, l, d, w, `${name}.attn`, { heads, causal });
  const h = Float64Array.from(x, (v, i) => v + a[i]);
  const m = mlpRef(layerNormRef(h, d, w[`${name}.ln2.gamma`], w[`${name}.ln2.beta`], eps), d, hidden, w, `${name}.mlp`);
  return h.map((v, i) => v + m[i]);
}

/** 'same' k×k conv + bias, NHWC, W [k, k, ci, co]. */
export function convRef(x: ArrayLike<number>, n: number, hgt: number, wid: number, ci: number, k: Float64Array, b: Float64Array, ks: number, co: number): Float64Array {
  const p = (ks - 1) / 2;
  const out = new Float64Array(n * hgt * wid * co);
  for (let s = 0; s < n; s++)
    for (let y = 0; y < hgt; y++)
      for (let xx = 0; xx < wid; xx++)
        for (let o = 0; o < co; o++) {
          let acc = b[o];
          for (let dy = 0; dy < ks; dy++)
            for (let dx = 0; dx < ks; dx++) {
              const iy = y + dy - p;
              const ix = xx + dx - p;
              if (iy < 0 || iy >= hgt || ix < 0 || ix >= wid) continue;
              for (let c = 0; c < ci; c++) acc += x[((s * hgt + iy) * wid + ix) * ci + c] * k[((dy * ks + dx) * ci + c) * co + o];
            }
          out[((s * hgt + y) * wid + xx) * co + o] = acc;
        }
  return out;
}

/** 2×2 average pool, stride 2, NHWC. */
export function avgPoolRef(x: ArrayLike<number>, n: number, hgt: number, wid: number, c: number): Float64Array {
  const [h2, w2] = [hgt / 2, wid / 2];
  const out = new Float64Array(n * h2 * w2 * c);
  for (let s = 0; s < n; s++)
    for (let y = 0; y < h2; y++)
      for (let xx = 0; xx < w2; xx++)
        for (let ch = 0; ch < c; ch++) {
          let acc = 0;
          for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) acc += x[((s * hgt + 2 * y + dy) * wid + 2 * xx + dx) * c + ch];
          out[((s * h2 + y) * w2 + xx) * c + ch] = acc / 4;
        }
  return out;
}

/** Rows of d values scaled to unit L2 norm. */
export function l2NormalizeRef(x: ArrayLike<number>, d: number): Float64Array {
  const y = Float64Array.from(x);
  for (let r = 0; r < x.length / d; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[r * d + i] ** 2;
    for (let i = 0; i < d; i++) y[r * d + i] /= Math.sqrt(s);
  }
  return y;
}

/** ∂f/∂values by central differences, perturbing `values` in place (and restoring it). */
export function finiteDifferenceGrad(f: () => number, values: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    values[i] = v + h;
    const up = f();
    values[i] = v - h;
    const down = f();
    values[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Σ dy·y, the scalar whose gradient is the vector–Jacobian product with dy. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** max |a − b| / max(1, max |b|). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  return m / scale;
}
