/**
 * Group normalisation (Wu & He 2018), optionally fused with SiLU, with a hand-written gradient.
 * Per example n and group g of C/G channels, over the H·W·C/G values: μ, σ² (biased), r = 1/√(σ² + ε);
 * y = γ (x − μ) r + β, then optionally y·σ(y). Group statistics come from one matMul pass over x and x²
 * (E[x²] − μ², clamped at 0), and the backward pass uses the closed form
 * dx = r γ dŷ − r·mean_g(γ dy) − r² (x − μ)·mean_g(γ dy x̂), which needs two spatial sums instead of
 * tfjs's chain of broadcasting reductions (each a transpose on wasm). On wasm (with the custom kernels registered) the
 * per-channel arithmetic between the passes over x — group sums, μ, r, a, b forward; D, m₁, m₂, Q, R, dγ, dβ
 * backward — is one kernel each way (src/core/kernels/groupNormParams.ts) instead of ~20 small ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GROUP_NORM_AFFINE, GROUP_NORM_GRAD } from '../kernels/groupNormParams';
import type { ParamStore } from './params';
import { addPerChannel, poolSpatial, sumSpatial } from './reduce';

export interface GroupNormParams {
  /** Per-channel scale γ [C] (init 1). */
  gamma: tf.Variable;
  /** Per-channel shift β [C] (init 0). */
  beta: tf.Variable;
  groups: number;
}

export const GROUP_NORM_EPSILON = 1e-5;

/** Parameters `${name}.gamma` and `${name}.beta` of shape [channels]; groups must divide channels. */
export function createGroupNorm(store: ParamStore, name: string, channels: number, groups: number): GroupNormParams {
  if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0) {
    throw new Error(`GroupNorm '${name}': ${groups} groups do not divide ${channels} channels`);
  }
  return {
    gamma: store.create(`${name}.gamma`, [channels], { kind: 'ones' }),
    beta: store.create(`${name}.beta`, [channels], { kind: 'zeros' }),
    groups,
  };
}

/** [N, C] → [N, G]: sum each group's channels. */
function groupSum(v: tf.Tensor2D, groups: number): tf.Tensor2D {
  const [n, c] = v.shape;
  return tf.sum(tf.reshape(v, [n, groups, c / groups]), 2);
}

/** [N, G] → [N, C]: repeat each group's value over its channels. */
function expandGroups(v: tf.Tensor2D, channels: number): tf.Tensor2D {
  const [n, g] = v.shape;
  return tf.reshape(tf.mul(tf.reshape(v, [n, g, 1]), tf.ones([1, 1, channels / g])), [n, channels]);
}

function perChannel(v: tf.Tensor2D): tf.Tensor4D {
  const [n, c] = v.shape;
  return tf.reshape(v, [n, 1, 1, c]);
}

type Activation = 'none' | 'silu';
type GroupNormFn = (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, shift?: tf.Tensor2D) => tf.Tensor4D;
const cache = new Map<string, GroupNormFn>();

/** Whether the per-channel GroupNorm kernels run here (wasm, custom kernels registered). */
const wasmKernels = () => tf.getBackend() === 'wasm' && tf.getKernel(GROUP_NORM_AFFINE, 'wasm') !== undefined;

/** d/dy [y σ(y)] · dOut = dOut (σ + out (1 − σ)), with out = y σ(y). */
function siluGrad(dOut: tf.Tensor4D, out: tf.Tensor, s: tf.Tensor): tf.Tensor4D {
  return tf.mul(dOut, tf.add(s, tf.mul(out, tf.sub(1, s)))) as tf.Tensor4D;
}

function makeGroupNorm(groups: number, epsilon: number, activation: Activation): GroupNormFn {
  /** The same maths with the per-channel arithmetic in the two wasm kernels (see the file comment); GN(x + shift) when shifted. */
  const wasmGroupNorm = (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, shift: tf.Tensor2D | null, save: tf.GradSaveFunc) => {
    const [, h, w] = x.shape;
    const attrs = { groups, epsilon, hw: h * w } as unknown as tf.NamedAttrMap;
    // Means, a, b, Q and R stay [N, 1, 1, C] (the pool's shape) so that they broadcast without reshapes.
    const m1 = poolSpatial(x);
    const [a, b, r, mean] = tf.engine().runKernel(GROUP_NORM_AFFINE, { m1, m2: poolSpatial(tf.square(x)), gamma, beta, ...(shift ? { shift } : {}) }, attrs) as tf.Tensor[];
    const y = tf.add(tf.mul(x, a), b) as tf.Tensor4D;
    const s = activation === 'silu' ? tf.sigmoid(y) : null;
    const out = s ? (tf.mul(y, s) as tf.Tensor4D) : y;
    save([x, gamma, r, mean, a, ...(shift ? [shift, m1] : []), ...(s ? [out, s] : [])]);
    return {
      value: out,
      gradFunc: (dOut: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, gs, rs, means, as] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.Tensor4D];
        const shifted: tf.NamedTensorMap = shift ? { shift: saved[5], m1: saved[6], a: as } : {};
        const dy = s ? siluGrad(dOut, saved[saved.length - 2], saved[saved.length - 1]) : dOut;
        const [Q, R, dGamma, dBeta, dShift] = tf.engine().runKernel(
          GROUP_NORM_GRAD,
          { mA: poolSpatial(dy), mB: poolSpatial(tf.mul(dy, xs) as tf.Tensor4D), gamma: gs, r: rs, mean: means, ...shifted },
          attrs,
        ) as tf.Tensor[];
        const dx = tf.add(tf.add(tf.mul(dy, as), tf.mul(xs, Q)), R);
        return shift ? [dx, dGamma, dBeta, dShift] : [dx, dGamma, dBeta];
      },
    };
  };
  const shifted = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, gamma, betaIn, shift, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
    return wasmGroupNorm(x, gamma, betaIn, shift, save);
  }) as (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, shift: tf.Tensor2D) => tf.Tensor4D;
  const plain = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, gamma, betaIn, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    if (wasmKernels()) return wasmGroupNorm(x, gamma, betaIn, null, save);
    const [n, h, w, c] = x.shape;
    const count = (h * w * c) / groups;
    const mean = tf.div(groupSum(sumSpatial(x), groups), count) as tf.Tensor2D;
    const meanSq = tf.div(groupSum(sumSpatial(tf.square(x)), groups), count);
    const r = tf.rsqrt(tf.add(tf.relu(tf.sub(meanSq, tf.square(mean))), epsilon)) as tf.Tensor2D;
    const rC = expandGroups(r, c);
    const meanC = expandGroups(mean, c);
    const a = tf.mul(rC, gamma) as tf.Tensor2D; // y = a x + b per (n, c)
    const b = tf.sub(betaIn, tf.mul(meanC, a)) as tf.Tensor2D;
    const y = tf.add(tf.mul(x, perChannel(a)), perChannel(b)) as tf.Tensor4D;
    const s = activation === 'silu' ? tf.sigmoid(y) : null;
    const out = s ? (tf.mul(y, s) as tf.Tensor4D) : y;
    save(s ? [x, gamma, rC, meanC, a, out, s] : [x, gamma, rC, meanC, a]);
    void n;
    return {
      value: out,
      gradFunc: (dOut: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, gs, rCs, meanCs, as] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const dy = saved.length === 7 ? siluGrad(dOut, saved[5], saved[6]) : dOut;
        const A = sumSpatial(dy); // Σ dy
        const B = sumSpatial(tf.mul(dy, xs) as tf.Tensor4D); // Σ dy x
        const D = tf.mul(rCs, tf.sub(B, tf.mul(meanCs, A))) as tf.Tensor2D; // Σ dy x̂
        const dGamma = tf.sum(D, 0);
        const dBeta = tf.sum(A, 0);
        const m1 = tf.div(groupSum(tf.mul(A, gs) as tf.Tensor2D, groups), count) as tf.Tensor2D; // mean_g(γ dy)
        const m2 = tf.div(groupSum(tf.mul(D, gs) as tf.Tensor2D, groups), count) as tf.Tensor2D; // mean_g(γ dy x̂)
        const m1C = expandGroups(m1, c);
        const m2C = expandGroups(m2, c);
        const r2m2 = tf.mul(tf.square(rCs), m2C);
        const Q = tf.neg(r2m2) as tf.Tensor2D;
        const R = tf.sub(tf.mul(r2m2, meanCs), tf.mul(rCs, m1C)) as tf.Tensor2D;
        const dx = tf.add(tf.add(tf.mul(dy, perChannel(as)), tf.mul(xs, perChannel(Q))), perChannel(R));
        return [dx, dGamma, dBeta];
      },
    };
  }) as (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D) => tf.Tensor4D;
  // GN(x + shift) with the shift folded into the wasm kernels; elsewhere the sum is formed first.
  return (x, gamma, beta, shift) => (!shift ? plain(x, gamma, beta) : wasmKernels() ? shifted(x, gamma, beta, shift) : tf.tidy(() => plain(addPerChannel(x, shift), gamma, beta)));
}

/**
 * GroupNorm of x (NHWC) with γ, β, optionally followed by SiLU: y = γ (x − μ_g)/√(σ²_g + ε) + β. With `shift` [N, C]
 * it normalises x[n, i, j, c] + shift[n, c] (a res block's time embedding), which on wasm is never formed as a tensor.
 */
export function groupNorm(p: GroupNormParams, x: tf.Tensor4D, activation: Activation = 'none', epsilon = GROUP_NORM_EPSILON, shift?: tf.Tensor2D): tf.Tensor4D {
  const c = x.shape[3];
  if (c % p.groups !== 0) throw new Error(`groupNorm: ${p.groups} groups do not divide ${c} channels`);
  if (p.gamma.shape[0] !== c) throw new Error(`groupNorm: γ has ${p.gamma.shape[0]} channels, x has ${c}`);
  const key = `${p.groups}|${epsilon}|${activation}`;
  let fn = cache.get(key);
  if (!fn) {
    fn = makeGroupNorm(p.groups, epsilon, activation);
    cache.set(key, fn);
  }
  if (shift && (shift.shape[0] !== x.shape[0] || shift.shape[1] !== c)) throw new Error(`groupNorm: shift [${shift.shape}] does not match [${x.shape}]`);
  return fn(x, p.gamma as tf.Tensor1D, p.beta as tf.Tensor1D, shift);
}
