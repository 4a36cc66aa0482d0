/**
 * The per-(example, channel) arithmetic of GroupNorm (src/core/nn/groupNorm.ts) as two wasm kernels, each one call
 * in place of some twenty small tfjs ops (reshapes, group sums, broadcasts) on [N, C] tensors. The big passes over
 * the activations stay in wasm's own kernels; these see only per-channel means, N·C values.
 *
 * | kernel                  | inputs (all float32)                                                  | outputs                                  |
 * |-------------------------|-----------------------------------------------------------------------|------------------------------------------|
 * | `DiffusionLabGroupNormAffine` | m1 = mean_HW x, m2 = mean_HW x² [N, C]; γ, β [C] (+ shift t [N, C]) | a, b [N, C] with GN(x + t) = a x + b; r, μ [N, G] |
 * | `DiffusionLabGroupNormGrad`   | mA = mean_HW dy, mB = mean_HW dy·x [N, C]; γ [C]; r, μ [N, G] (+ t, m1, a) | Q, R [N, C] with dx = a dy + Q x + R; dγ, dβ [C] (+ dt [N, C]) |
 *
 * Per example n and group g (C/G channels, count = H·W·C/G values): μ = mean of m1 over the group's channels,
 * σ² = max(mean of m2 − μ², 0), r = 1/√(σ² + ε), a = r γ_c, b = β_c − μ a. Backward, with A = H·W·mA and
 * B = H·W·mB (Σ dy, Σ dy x): D = r (B − μ A) (Σ dy x̂), dγ = Σ_n D, dβ = Σ_n A, m₁ = Σ_g γA / count,
 * m₂ = Σ_g γD / count, Q = −r² m₂, R = r² m₂ μ − r m₁. Sums in float64.
 *
 * With a per-(example, channel) shift t (the U-Net's projected time embedding, added to a res block's first conv
 * output right before its second GroupNorm), the layer normalises x + t without that sum ever being formed: the
 * means become m1 + t and m2 + 2 t m1 + t², b absorbs t a, mB becomes mB + t mA, R absorbs Q t, and
 * dt = H·W (a mA + Q (m1 + t) + R) — the spatial sum of dx.
 */
import * as tf from '@tensorflow/tfjs-core';

export const GROUP_NORM_AFFINE = 'DiffusionLabGroupNormAffine';
export const GROUP_NORM_GRAD = 'DiffusionLabGroupNormGrad';

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

interface Attrs {
  groups: number;
  epsilon: number;
  /** H·W of the activations the means were taken over. */
  hw: number;
}

/** Means come as [N, C] or straight from a global AvgPool as [N, 1, 1, C]; per-(n, c) outputs take the same shape. */
function shapes(m: tf.TensorInfo, groups: number): { n: number; c: number; cg: number; perChannel: number[] } {
  const r = m.shape.length;
  if (!(r === 2 || (r === 4 && m.shape[1] === 1 && m.shape[2] === 1))) throw new Error(`GroupNorm kernels take [N, C] or [N, 1, 1, C] means, got [${m.shape}]`);
  const [n, c] = [m.shape[0], m.shape[r - 1]];
  if (c % groups !== 0) throw new Error(`GroupNorm kernels: ${groups} groups do not divide ${c} channels`);
  return { n, c, cg: c / groups, perChannel: [...m.shape] };
}

export const groupNormAffine: tf.KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = anyBackend as unknown as WasmHeapBackend;
  const { m1, m2, gamma, beta, shift } = inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
  const { groups, epsilon } = attrs as unknown as Attrs;
  const { n, c, cg, perChannel } = shapes(m1, groups);
  const outs = [backend.makeOutput(perChannel, 'float32'), backend.makeOutput(perChannel, 'float32'), backend.makeOutput([n, groups], 'float32'), backend.makeOutput([n, groups], 'float32')];
  // Views after every makeOutput: allocating may grow (and so detach) the heap.
  const [M1, M2, Ga, Be] = [m1, m2, gamma, beta].map((t) => backend.typedArrayFromHeap(t));
  const T = shift ? backend.typedArrayFromHeap(shift) : null;
  const [A, B, R, MU] = outs.map((t) => backend.typedArrayFromHeap(t));
  for (let i = 0; i < n; i++)
    for (let g = 0; g < groups; g++) {
      let s1 = 0;
      let s2 = 0;
      for (let k = g * cg; k < (g + 1) * cg; k++) {
        const t = T ? T[i * c + k] : 0;
        const u = M1[i * c + k];
        s1 += u + t;
        s2 += M2[i * c + k] + (2 * u + t) * t;
      }
      const mean = s1 / cg;
      const r = 1 / Math.sqrt(Math.max(s2 / cg - mean * mean, 0) + epsilon);
      R[i * groups + g] = r;
      MU[i * groups + g] = mean;
      for (let k = g * cg; k < (g + 1) * cg; k++) {
        const a = r * Ga[k];
        A[i * c + k] = a;
        B[i * c + k] = Be[k] + ((T ? T[i * c + k] : 0) - mean) * a;
      }
    }
  return outs;
};

export const groupNormGrad: tf.KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = anyBackend as unknown as WasmHeapBackend;
  const { mA, mB, gamma, r, mean, shift, m1, a: aIn } = inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
  const { groups, hw } = attrs as unknown as Attrs;
  const { n, c, cg, perChannel } = shapes(mA, groups);
  const count = hw * cg;
  const outs = [backend.makeOutput(perChannel, 'float32'), backend.makeOutput(perChannel, 'float32'), backend.makeOutput([c], 'float32'), backend.makeOutput([c], 'float32')];
  if (shift) outs.push(backend.makeOutput([...shift.shape], 'float32'));
  const [MA, MB, Ga, Rr, MU] = [mA, mB, gamma, r, mean].map((t) => backend.typedArrayFromHeap(t));
  const [T, M1, Aa] = shift ? [shift, m1, aIn].map((t) => backend.typedArrayFromHeap(t)) : [null, null, null];
  const [Q, RR, DG, DB, DT] = outs.map((t) => backend.typedArrayFromHeap(t));
  const dGamma = new Float64Array(c);
  const dBeta = new Float64Array(c);
  for (let i = 0; i < n; i++)
    for (let g = 0; g < groups; g++) {
      const rg = Rr[i * groups + g];
      const mu = MU[i * groups + g];
      let m1 = 0;
      let m2 = 0;
      for (let k = g * cg; k < (g + 1) * cg; k++) {
        const a = hw * MA[i * c + k];
        const b = hw * (MB[i * c + k] + (T ? T[i * c + k] * MA[i * c + k] : 0));
        const d = rg * (b - mu * a);
        dGamma[k] += d;
        dBeta[k] += a;
        m1 += Ga[k] * a;
        m2 += Ga[k] * d;
      }
      m1 /= count;
      m2 /= count;
      const q = -rg * rg * m2;
      const rr = rg * rg * m2 * mu - rg * m1;
      for (let k = g * cg; k < (g + 1) * cg; k++) {
        Q[i * c + k] = q;
        if (!T) {
          RR[i * c + k] = rr;
          continue;
        }
        const t = T[i * c + k];
        RR[i * c + k] = rr + q * t;
        DT[i * c + k] = hw * (Aa![i * c + k] * MA[i * c + k] + q * (M1![i * c + k] + t) + rr);
      }
    }
  DG.set(dGamma);
  DB.set(dBeta);
  return outs;
};

export const groupNormAffineConfig: tf.KernelConfig = { kernelName: GROUP_NORM_AFFINE, backendName: 'wasm', kernelFunc: groupNormAffine };
export const groupNormGradConfig: tf.KernelConfig = { kernelName: GROUP_NORM_GRAD, backendName: 'wasm', kernelFunc: groupNormGrad };
