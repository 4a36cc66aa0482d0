import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend } from '../../helpers/backends';
import '../../../src/core/nn/registerGradients';
import { attention, createAttention } from '../../../src/core/nn/attention';
import { GROUP_NORM_EPSILON } from '../../../src/core/nn/groupNorm';
import { ParamStore } from '../../../src/core/nn/params';
import { makeRng } from '../../../src/core/noise';

const [N, H, W, C, G] = [2, 3, 2, 4, 2];
const L = H * W;

function randomArray(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Float64 single-head attention: x + (softmax(q kᵀ/√C) v) W_o + b_o, q/k/v = GN(x) W + b. */
function reference(x: Float32Array, w: Record<string, Float64Array>): Float64Array {
  const out = Float64Array.from(x);
  const cg = C / G;
  for (let n = 0; n < N; n++) {
    const base = n * L * C;
    const hN = new Float64Array(L * C);
    for (let g = 0; g < G; g++) {
      let s = 0;
      let s2 = 0;
      for (let p = 0; p < L; p++) for (let c = g * cg; c < (g + 1) * cg; c++) s += x[base + p * C + c];
      const mean = s / (L * cg);
      for (let p = 0; p < L; p++) for (let c = g * cg; c < (g + 1) * cg; c++) s2 += (x[base + p * C + c] - mean) ** 2;
      const r = 1 / Math.sqrt(s2 / (L * cg) + GROUP_NORM_EPSILON);
      for (let p = 0; p < L; p++)
        for (let c = g * cg; c < (g + 1) * cg; c++) hN[p * C + c] = (x[base + p * C + c] - mean) * r * w['a.norm.gamma'][c] + w['a.norm.beta'][c];
    }
    const proj = (src: Float64Array, name: string) => {
      const y = new Float64Array(L * C);
      for (let p = 0; p < L; p++)
        for (let o = 0; o < C; o++) {
          let s = w[`${name}.b`][o];
          for (let i = 0; i < C; i++) s += src[p * C + i] * w[`${name}.w`][i * C + o];
          y[p * C + o] = s;
        }
      return y;
    };
    const q = proj(hN, 'a.q');
    const k = proj(hN, 'a.k');
    const v = proj(hN, 'a.v');
    const att = new Float64Array(L * C);
    for (let i = 0; i < L; i++) {
      const logits = Array.from({ length: L }, (_, j) => {
        let s = 0;
        for (let c = 0; c < C; c++) s += q[i * C + c] * k[j * C + c];
        return s / Math.sqrt(C);
      });
      const m = Math.max(...logits);
      const e = logits.map((z) => Math.exp(z - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < L; j++) for (let c = 0; c < C; c++) att[i * C + c] += (e[j] / z) * v[j * C + c];
    }
    const o = proj(att, 'a.proj');
    for (let p = 0; p < L * C; p++) out[base + p] += o[p];
  }
  return out;
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('attention', () => {
  it('matches a float64 single-head self-attention with residual, and leaks no tensors', async () => {
    const store = new ParamStore(9);
    const p = createAttention(store, 'a', C, G);
    p.norm.beta.assign(tf.tensor1d(randomArray(1, C)));
    for (const d of [p.q, p.k, p.v, p.proj]) d.b.assign(tf.tensor1d(randomArray(2, C)));
    const weights: Record<string, Float64Array> = {};
    for (const [name, v] of store.variables) weights[name] = await read(v);
    const x = randomArray(3, N * L * C);
    const xt = tf.tensor4d(x, [N, H, W, C]);
    const before = tf.memory().numTensors;
    const y = attention(p, xt);
    expect(y.shape).toEqual([N, H, W, C]);
    expect(maxAbsDiff(await read(y), reference(x, weights))).toBeLessThan(1e-4);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    xt.dispose();
    store.dispose();
  });
});
