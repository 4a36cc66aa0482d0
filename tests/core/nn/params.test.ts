import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../helpers/backends';
import { fanInUniform, initValues, ParamStore } from '../../../src/core/nn/params';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('ParamStore', () => {
  it('gives the same initial values for the same seed and name, whatever the creation order', async () => {
    const a = new ParamStore(7);
    const b = new ParamStore(7);
    a.create('first', [4, 3], fanInUniform(4));
    a.create('second', [5], fanInUniform(5));
    b.create('second', [5], fanInUniform(5));
    b.create('first', [4, 3], fanInUniform(4));
    const wa = await a.getWeights();
    const wb = await b.getWeights();
    expect(Array.from(wa.first)).toEqual(Array.from(wb.first));
    expect(Array.from(wa.second)).toEqual(Array.from(wb.second));
    expect(Array.from(wa.first)).not.toEqual(Array.from(wa.second).slice(0, 12));
    a.dispose();
    b.dispose();
  });

  it('gives different values for different seeds', () => {
    const x = initValues(fanInUniform(9), 50, 1, 'w');
    const y = initValues(fanInUniform(9), 50, 2, 'w');
    expect(Array.from(x)).not.toEqual(Array.from(y));
  });

  it('draws fan-in uniform values inside ±√(3·scale/fanIn) with about the right variance', () => {
    const fanIn = 27;
    const v = initValues(fanInUniform(fanIn, 2), 20000, 3, 'conv.w');
    const limit = Math.sqrt(6 / fanIn);
    let s2 = 0;
    for (const x of v) {
      expect(Math.abs(x)).toBeLessThanOrEqual(limit);
      s2 += x * x;
    }
    expect(s2 / v.length).toBeCloseTo(2 / fanIn, 2);
  });

  it('initialises zeros and ones exactly', () => {
    expect(Array.from(initValues({ kind: 'zeros' }, 3, 1, 'b'))).toEqual([0, 0, 0]);
    expect(Array.from(initValues({ kind: 'ones' }, 2, 1, 'g'))).toEqual([1, 1]);
  });

  it('refuses duplicate names and counts every scalar', () => {
    const s = new ParamStore(1);
    s.create('a', [2, 3], { kind: 'zeros' });
    s.create('b', [4], { kind: 'ones' });
    expect(() => s.create('a', [1], { kind: 'zeros' })).toThrow(/already exists/);
    expect(s.count()).toBe(10);
    s.dispose();
  });

  it('round-trips weights through getWeights/setWeights and rejects bad maps without changing anything', async () => {
    const s = new ParamStore(1);
    s.create('a', [2, 2], fanInUniform(2));
    s.create('b', [3], { kind: 'zeros' });
    const w = await s.getWeights();
    const changed = { a: new Float32Array([1, 2, 3, 4]), b: new Float32Array([5, 6, 7]) };
    s.setWeights(changed);
    expect(Array.from((await s.getWeights()).a)).toEqual([1, 2, 3, 4]);
    expect(() => s.setWeights({ a: changed.a })).toThrow(/missing 'b'/);
    expect(() => s.setWeights({ ...changed, c: new Float32Array(1) })).toThrow(/unknown 'c'/);
    expect(() => s.setWeights({ ...changed, b: new Float32Array(2) })).toThrow(/'b' has 2 values/);
    expect(Array.from((await s.getWeights()).b)).toEqual([5, 6, 7]);
    s.setWeights(w);
    expect(Array.from((await s.getWeights()).a)).toEqual(Array.from(w.a));
    s.dispose();
  });

  it('leaves no tensors behind after create, setWeights and dispose', () => {
    const before = tf.memory().numTensors;
    const s = new ParamStore(3);
    s.create('a', [8, 8], fanInUniform(8));
    s.setWeights({ a: new Float32Array(64) });
    expect(tf.memory().numTensors).toBe(before + 1);
    s.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
