import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../../helpers/backends';
import { dot, finiteDifferenceGrad, mlpRef, quickGeluRef, relativeError, type Weights } from '../../helpers/float64Layers';
import '../../../src/core/nn/registerGradients';
import { createMlp, mlp, quickGelu } from '../../../src/core/nn/mlp';
import { ParamStore } from '../../../src/core/nn/params';
import { makeRng } from '../../../src/core/noise';

function randomArray(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

const [N, L, D, HIDDEN] = [2, 3, 4, 8];

describe.each<TestBackend>(['wasm', 'cpu'])('mlp on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('computes QuickGELU x·σ(1.702 x)', async () => {
    const v = [-4, -1, -0.3, 0, 0.3, 1, 4];
    const x = tf.tensor1d(v);
    const y = quickGelu(x);
    expect(maxAbsDiff(await read(y), v.map(quickGeluRef))).toBeLessThan(1e-6);
    tf.dispose([x, y]);
  });

  it('matches a float64 proj(QuickGELU(fc(x))) and its finite-difference gradients, and leaks no tensors', async () => {
    const store = new ParamStore(3);
    const p = createMlp(store, 'm', D, HIDDEN, 0.5);
    let seed = 20;
    for (const v of store.variables.values()) v.assign(tf.tensor(randomArray(seed++, v.size), v.shape));
    const w: Weights = {};
    for (const [name, v] of store.variables) w[name] = await read(v);
    const x = randomArray(1, N * L * D);
    const dy = randomArray(2, x.length);
    const [xt, dyt] = [tf.tensor3d(x, [N, L, D]), tf.tensor3d(dy, [N, L, D])];
    const before = tf.memory().numTensors;
    const y = mlp(p, xt);
    const x64 = Float64Array.from(x);
    expect(maxAbsDiff(await read(y), mlpRef(x64, D, HIDDEN, w, 'm'))).toBeLessThan(1e-4);
    const names = [...store.variables.keys()];
    const grads = tf.grads((xa: tf.Tensor, fw: tf.Tensor, fb: tf.Tensor, pw: tf.Tensor, pb: tf.Tensor) =>
      mlp({ fc: { w: fw as tf.Variable, b: fb as tf.Variable }, proj: { w: pw as tf.Variable, b: pb as tf.Variable } }, xa as tf.Tensor3D),
    )([xt, ...store.variables.values()], dyt);
    const loss = () => dot(dy, mlpRef(x64, D, HIDDEN, w, 'm'));
    const refs = [finiteDifferenceGrad(loss, x64), ...names.map((n) => finiteDifferenceGrad(loss, w[n]))];
    for (let i = 0; i < grads.length; i++) expect(relativeError(await read(grads[i]), refs[i])).toBeLessThan(2e-4);
    tf.dispose([y, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xt, dyt]);
    store.dispose();
  });
});
