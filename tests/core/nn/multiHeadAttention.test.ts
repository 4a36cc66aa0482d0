import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../../helpers/backends';
import { dot, finiteDifferenceGrad, mhaRef, relativeError, type MhaRefOptions, type Weights } from '../../helpers/float64Layers';
import '../../../src/core/nn/registerGradients';
import { createMultiHeadAttention, multiHeadAttention, type MultiHeadAttentionOptions } from '../../../src/core/nn/multiHeadAttention';
import { ParamStore } from '../../../src/core/nn/params';
import { makeRng } from '../../../src/core/noise';

function randomArray(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

const [N, L, D, HEADS] = [2, 4, 6, 2];
const [LK, DC] = [3, 5];
/** Example 0 may attend to all keys, example 1 not to its last key (a pad). */
const KEY_MASK = [1, 1, 1, 1, 1, 1, 1, 0];
const CROSS_KEY_MASK = [1, 1, 1, 1, 0, 1];

interface Case {
  label: string;
  options: 'self' | 'causal' | 'causal+keyMask' | 'cross+keyMask';
}
const CASES: Case[] = [
  { label: 'self-attention', options: 'self' },
  { label: 'causal self-attention', options: 'causal' },
  { label: 'causal self-attention with a key mask', options: 'causal+keyMask' },
  { label: 'cross-attention with a key mask', options: 'cross+keyMask' },
];

/** A store with random weights and biases (biases non-zero so their gradients are exercised). */
async function setup(cross: boolean) {
  const store = new ParamStore(7);
  const p = createMultiHeadAttention(store, 'a', D, HEADS, { contextDim: cross ? DC : D });
  let seed = 10;
  for (const v of store.variables.values()) v.assign(tf.tensor(randomArray(seed++, v.size).map((a) => 0.5 * a), v.shape));
  const w: Weights = {};
  for (const [name, v] of store.variables) w[name] = await read(v);
  return { store, p, w };
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe.each<TestBackend>(['wasm', 'cpu'])('multiHeadAttention on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  for (const c of CASES) {
    it(`matches float64 ${c.label} and its finite-difference gradients for inputs and every weight`, async () => {
      const cross = c.options === 'cross+keyMask';
      const { store, p, w } = await setup(cross);
      const x = randomArray(1, N * L * D);
      const ctx = randomArray(2, N * LK * DC);
      const dy = randomArray(3, N * L * D);
      const keyMask = cross ? CROSS_KEY_MASK : KEY_MASK;
      const xt = tf.tensor3d(x, [N, L, D]);
      const ctxT = tf.tensor3d(ctx, [N, LK, DC]);
      const maskT = tf.tensor2d(keyMask, [N, cross ? LK : L]);
      const dyt = tf.tensor3d(dy, [N, L, D]);
      const opts: MultiHeadAttentionOptions = {
        causal: c.options.startsWith('causal'),
        keyMask: c.options.endsWith('keyMask') ? maskT : undefined,
        context: cross ? ctxT : undefined,
      };
      const refOpts = (x64: Float64Array, c64: Float64Array): MhaRefOptions => ({
        heads: HEADS,
        causal: opts.causal,
        keyMask: opts.keyMask ? keyMask : undefined,
        context: cross ? c64 : x64,
        contextLength: cross ? LK : L,
        contextDim: cross ? DC : D,
      });
      const before = tf.memory().numTensors;
      const y = multiHeadAttention(p, xt, opts);
      expect(y.shape).toEqual([N, L, D]);
      const [x64, c64] = [Float64Array.from(x), Float64Array.from(ctx)];
      expect(maxAbsDiff(await read(y), mhaRef(x64, N, L, D, w, 'a', refOpts(x64, c64)))).toBeLessThan(1e-4);

      const names = [...store.variables.keys()];
      const inputs: tf.Tensor[] = [xt, ...(cross ? [ctxT] : []), ...store.variables.values()];
      const grads = tf.grads((...args: tf.Tensor[]) => {
        const [xa, ca] = cross ? [args[0], args[1]] : [args[0], undefined];
        const vs = args.slice(cross ? 2 : 1) as tf.Variable[];
        const byName = Object.fromEntries(names.map((n, i) => [n, vs[i]]));
        const d = (k: string) => ({ w: byName[`a.${k}.w`], b: byName[`a.${k}.b`] });
        return multiHeadAttention({ q: d('q'), k: d('k'), v: d('v'), out: d('out'), heads: HEADS }, xa as tf.Tensor3D, {
          ...opts,
          context: ca as tf.Tensor3D | undefined,
        });
      })(inputs, dyt);
      const loss = () => dot(dy, mhaRef(x64, N, L, D, w, 'a', refOpts(x64, c64)));
      const refs = [finiteDifferenceGrad(loss, x64), ...(cross ? [finiteDifferenceGrad(loss, c64)] : []), ...names.map((n) => finiteDifferenceGrad(loss, w[n]))];
      const labels = ['x', ...(cross ? ['context'] : []), ...names];
      for (let i = 0; i < grads.length; i++) {
        expect({ [labels[i]]: relativeError(await read(grads[i]), refs[i]) < 2e-4 }).toEqual({ [labels[i]]: true });
      }
      tf.dispose([y, ...grads]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([xt, ctxT, maskT, dyt]);
      store.dispose();
    });
  }

  it('gives causal outputs at position i that do not depend on tokens after i', async () => {
    const { store, p } = await setup(false);
    const a = randomArray(4, N * L * D);
    const b = Float32Array.from(a);
    for (let n = 0; n < N; n++) for (let i = 2 * D; i < L * D; i++) b[n * L * D + i] += 5; // change positions 2 and 3
    const [ya, yb] = [multiHeadAttention(p, tf.tensor3d(a, [N, L, D]), { causal: true }), multiHeadAttention(p, tf.tensor3d(b, [N, L, D]), { causal: true })];
    const [va, vb] = [await read(ya), await read(yb)];
    for (let n = 0; n < N; n++) {
      const head = (v: Float64Array) => v.subarray(n * L * D, n * L * D + 2 * D);
      const tail = (v: Float64Array) => v.subarray(n * L * D + 2 * D, (n + 1) * L * D);
      expect(maxAbsDiff(head(va), head(vb))).toBe(0);
      expect(maxAbsDiff(tail(va), tail(vb))).toBeGreaterThan(1e-3);
    }
    tf.dispose([ya, yb]);
    store.dispose();
  });

  it('rejects heads that do not divide the width and masks of the wrong shape', () => {
    const store = new ParamStore(1);
    expect(() => createMultiHeadAttention(store, 'bad', 6, 4)).toThrow(/do not divide/);
    const p = createMultiHeadAttention(store, 'a', D, HEADS);
    const x = tf.zeros([N, L, D]) as tf.Tensor3D;
    const mask = tf.ones([N, L + 1]) as tf.Tensor2D;
    expect(() => multiHeadAttention(p, x, { keyMask: mask })).toThrow(/key mask/);
    tf.dispose([x, mask]);
    store.dispose();
  });
});
