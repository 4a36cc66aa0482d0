import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, read, useBackend, type TestBackend } from '../../helpers/backends';
import { blockRef, dot, finiteDifferenceGrad, relativeError, type Weights } from '../../helpers/float64Layers';
import '../../../src/core/nn/registerGradients';
import { LAYER_NORM_EPSILON } from '../../../src/core/nn/layerNorm';
import { ParamStore } from '../../../src/core/nn/params';
import { createTransformerBlock, transformerBlock, type TransformerBlockParams } from '../../../src/core/nn/transformer';
import { makeRng } from '../../../src/core/noise';

function randomArray(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

const [N, L, D, HEADS, HIDDEN] = [2, 3, 4, 2, 8];

/** Rebuild the block's parameter structure from tensors in the store's order (for tf.grads). */
function blockFrom(names: string[], vs: tf.Tensor[]): TransformerBlockParams {
  const t = Object.fromEntries(names.map((n, i) => [n, vs[i] as tf.Variable]));
  const d = (k: string) => ({ w: t[`b.${k}.w`], b: t[`b.${k}.b`] });
  const ln = (k: string) => ({ gamma: t[`b.${k}.gamma`], beta: t[`b.${k}.beta`] });
  return {
    ln1: ln('ln1'),
    attn: { q: d('attn.q'), k: d('attn.k'), v: d('attn.v'), out: d('attn.out'), heads: HEADS },
    ln2: ln('ln2'),
    mlp: { fc: d('mlp.fc'), proj: d('mlp.proj') },
  };
}

describe.each<TestBackend>(['wasm', 'cpu'])('transformerBlock on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('names its parameters ln1, attn.{q,k,v,out}, ln2, mlp.{fc,proj}', () => {
    const store = new ParamStore(1);
    createTransformerBlock(store, 'b', D, HEADS, HIDDEN);
    expect([...store.variables.keys()]).toEqual([
      'b.ln1.gamma', 'b.ln1.beta',
      'b.attn.q.w', 'b.attn.q.b', 'b.attn.k.w', 'b.attn.k.b', 'b.attn.v.w', 'b.attn.v.b', 'b.attn.out.w', 'b.attn.out.b',
      'b.ln2.gamma', 'b.ln2.beta',
      'b.mlp.fc.w', 'b.mlp.fc.b', 'b.mlp.proj.w', 'b.mlp.proj.b',
    ]);
    store.dispose();
  });

  it('matches a float64 causal pre-norm block and its finite-difference gradients, and leaks no tensors', async () => {
    const store = new ParamStore(5);
    const p = createTransformerBlock(store, 'b', D, HEADS, HIDDEN, 0.25);
    let seed = 30;
    for (const v of store.variables.values()) v.assign(tf.tensor(randomArray(seed++, v.size).map((a) => 0.5 * a + (v.shape.length === 1 && seed % 2 ? 1 : 0)), v.shape));
    const w: Weights = {};
    for (const [name, v] of store.variables) w[name] = await read(v);
    const x = randomArray(1, N * L * D);
    const dy = randomArray(2, x.length);
    const [xt, dyt] = [tf.tensor3d(x, [N, L, D]), tf.tensor3d(dy, [N, L, D])];
    const before = tf.memory().numTensors;
    const y = transformerBlock(p, xt, { causal: true });
    const x64 = Float64Array.from(x);
    const ref = () => blockRef(x64, N, L, D, HEADS, HIDDEN, w, 'b', true, LAYER_NORM_EPSILON);
    expect(maxAbsDiff(await read(y), ref())).toBeLessThan(1e-4);
    const names = [...store.variables.keys()];
    const grads = tf.grads((xa: tf.Tensor, ...vs: tf.Tensor[]) => transformerBlock(blockFrom(names, vs), xa as tf.Tensor3D, { causal: true }))(
      [xt, ...store.variables.values()],
      dyt,
    );
    const loss = () => dot(dy, ref());
    const refs = [finiteDifferenceGrad(loss, x64), ...names.map((n) => finiteDifferenceGrad(loss, w[n]))];
    const labels = ['x', ...names];
    for (let i = 0; i < grads.length; i++) expect({ [labels[i]]: relativeError(await read(grads[i]), refs[i]) < 3e-4 }).toEqual({ [labels[i]]: true });
    tf.dispose([y, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xt, dyt]);
    store.dispose();
  });
});
