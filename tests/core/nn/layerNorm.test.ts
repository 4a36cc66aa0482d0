import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../../helpers/backends';
import { dot, finiteDifferenceGrad, layerNormRef, relativeError } from '../../helpers/float64Layers';
import '../../../src/core/nn/registerGradients';
import { createLayerNorm, layerNorm, LAYER_NORM_EPSILON } from '../../../src/core/nn/layerNorm';
import { ParamStore } from '../../../src/core/nn/params';
import { makeRng } from '../../../src/core/noise';

function randomArray(seed: number, n: number, offset = 0): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => offset + rng.normal());
}

const [N, L, D] = [2, 3, 8];

describe.each<TestBackend>(['wasm', 'cpu'])('layerNorm on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  for (const offset of [0, 10]) {
    it(`matches float64 LayerNorm and its finite-difference gradients (inputs offset by ${offset})`, async () => {
      const store = new ParamStore(1);
      const p = createLayerNorm(store, 'ln', D);
      const gamma = randomArray(2, D, 1);
      const beta = randomArray(3, D);
      p.gamma.assign(tf.tensor1d(gamma));
      p.beta.assign(tf.tensor1d(beta));
      const x = randomArray(4, N * L * D, offset);
      const dy = randomArray(5, x.length);
      const xt = tf.tensor3d(x, [N, L, D]);
      const dyt = tf.tensor3d(dy, [N, L, D]);
      const before = tf.memory().numTensors;
      const y = layerNorm(p, xt);
      expect(y.shape).toEqual([N, L, D]);
      expect(maxAbsDiff(await read(y), layerNormRef(x, D, gamma, beta, LAYER_NORM_EPSILON))).toBeLessThan(2e-5);
      const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm({ gamma: g as tf.Variable, beta: b as tf.Variable }, a))(
        [xt, p.gamma, p.beta],
        dyt,
      );
      // Float64 references: the vector–Jacobian products with dy, by central differences.
      const [x64, g64, b64] = [Float64Array.from(x), Float64Array.from(gamma), Float64Array.from(beta)];
      const loss = () => dot(dy, layerNormRef(x64, D, g64, b64, LAYER_NORM_EPSILON));
      const refs = [finiteDifferenceGrad(loss, x64), finiteDifferenceGrad(loss, g64), finiteDifferenceGrad(loss, b64)];
      for (let i = 0; i < 3; i++) expect(relativeError(await read(grads[i]), refs[i])).toBeLessThan(offset === 0 ? 1e-4 : 2e-3);
      tf.dispose([y, ...grads]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([xt, dyt]);
      store.dispose();
    });
  }

  it('normalises each row to mean β and standard deviation γ, on any rank', async () => {
    const store = new ParamStore(1);
    const p = createLayerNorm(store, 'ln', D);
    const x = tf.tensor2d(randomArray(6, 5 * D, 3), [5, D]);
    const y = layerNorm(p, x);
    const v = await read(y);
    for (let r = 0; r < 5; r++) {
      const row = v.subarray(r * D, (r + 1) * D);
      const mean = row.reduce((a, b) => a + b, 0) / D;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / D;
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(Math.abs(variance - 1)).toBeLessThan(1e-3);
    }
    tf.dispose([x, y]);
    store.dispose();
  });

  it('rejects an input whose last axis does not match γ', () => {
    const store = new ParamStore(1);
    const p = createLayerNorm(store, 'ln', D);
    const x = tf.zeros([2, D + 1]);
    expect(() => layerNorm(p, x)).toThrow(/γ has 8 features/);
    x.dispose();
    store.dispose();
  });
});
