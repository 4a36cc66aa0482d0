import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  classIds,
  classifierFreeGuidance,
  conditioned,
  guidedEps,
  scaleFromW,
  unconditional,
  wFromScale,
} from '../../src/core/guidance';
import { makeNoise } from '../../src/core/noise';
import { ddim } from '../../src/core/samplers';
import { makeSchedule } from '../../src/core/schedules';
import type { EpsModel } from '../../src/core/types';
import { maxAbsDiff, read, useBackend } from '../helpers/backends';

const SHAPE: [number, number, number, number] = [2, 4, 4, 1];
const NULL_CLASS = 3;
/** A per-class offset; index 3 is the null class ∅. */
const EMBED = [0.3, -0.5, 1.1, 0.7];

/** ε_fake(x, t, c) = 0.1 x + 0.001 t + EMBED[c] in float64 (EMBED[∅] without classes). */
function eps64(x: number, t: number, c: number | undefined): number {
  return 0.1 * x + 0.001 * t + EMBED[c ?? NULL_CLASS];
}

interface Call {
  n: number;
  t: tf.Tensor1D | null;
  classes: tf.Tensor1D | null;
}

/** A fake class-conditional ε-network computing eps64 with tf ops; counts calls and (if keepInputs) keeps clones of t and classes. */
function fakeModel(keepInputs = true): EpsModel & { calls: Call[] } {
  const calls: Call[] = [];
  const model = ((x: tf.Tensor4D, t: tf.Tensor1D, classes?: tf.Tensor1D) => {
    const n = x.shape[0];
    calls.push({
      n,
      t: keepInputs ? tf.keep(tf.clone(t)) : null,
      classes: keepInputs && classes ? tf.keep(tf.clone(classes)) : null,
    });
    return tf.tidy(() => {
      const tCol = tf.reshape(tf.cast(t, 'float32'), [n, 1, 1, 1]);
      const ids = classes ?? tf.fill([n], NULL_CLASS, 'int32');
      const offset = tf.reshape(
        tf.matMul(tf.oneHot(tf.cast(ids, 'int32'), EMBED.length), tf.tensor2d(EMBED, [EMBED.length, 1])),
        [n, 1, 1, 1],
      );
      return tf.add(tf.add(tf.mul(x, 0.1), tf.mul(tCol, 0.001)), offset) as tf.Tensor4D;
    });
  }) as EpsModel & { calls: Call[] };
  model.calls = calls;
  return model;
}

async function readCall(call: Call) {
  return {
    n: call.n,
    t: Array.from(await call.t!.data()),
    tDtype: call.t!.dtype,
    classes: call.classes ? Array.from(await call.classes.data()) : null,
  };
}

const live: Array<EpsModel & { calls: Call[] }> = [];
function tracked(keepInputs = true) {
  const m = fakeModel(keepInputs);
  live.push(m);
  return m;
}

beforeAll(async () => {
  await useBackend('cpu');
});

afterEach(() => {
  for (const m of live)
    for (const c of m.calls) tf.dispose([c.t, c.classes].filter((v): v is tf.Tensor1D => v !== null));
  live.length = 0;
});

const xv = makeNoise(1).normalArray(32);
const PER = 16; // values per example

describe('guidance conventions', () => {
  test('wFromScale and scaleFromW convert between Ho & Salimans w and Stable Diffusion s = 1 + w', () => {
    expect(wFromScale(7.5)).toBe(6.5);
    expect(scaleFromW(0)).toBe(1);
    expect(scaleFromW(wFromScale(3.25))).toBe(3.25);
  });

  test('guidedEps (1 + w) ε_c − w ε_u equals the Stable Diffusion form ε_u + s (ε_c − ε_u)', async () => {
    const ec = makeNoise(2).normalArray(32);
    const eu = makeNoise(3).normalArray(32);
    const a = tf.tensor4d(ec, SHAPE);
    const b = tf.tensor4d(eu, SHAPE);
    for (const w of [0, 0.3, 2, 7]) {
      const g = guidedEps(a, b, w);
      const s = scaleFromW(w);
      const sdForm = Array.from(ec, (c, i) => eu[i] + s * (c - eu[i]));
      expect(maxAbsDiff(await read(g), sdForm)).toBeLessThan(1e-5);
      g.dispose();
    }
    tf.dispose([a, b]);
  });
});

describe('denoiser wrappers', () => {
  test('unconditional passes an int32 [N] tensor of t and no classes, and returns the model output', async () => {
    const model = tracked();
    const x = tf.tensor4d(xv, SHAPE);
    const before = tf.memory().numTensors;
    const eps = unconditional(model)(x, 417);
    expect(model.calls.length).toBe(1);
    const call = await readCall(model.calls[0]);
    expect(call).toEqual({ n: 2, t: [417, 417], tDtype: 'int32', classes: null });
    expect(
      maxAbsDiff(
        await read(eps),
        Array.from(xv, (v) => eps64(v, 417, undefined)),
      ),
    ).toBeLessThan(1e-6);
    eps.dispose();
    // Only the recorded clone of t remains beyond what existed before.
    expect(tf.memory().numTensors).toBe(before + 1);
    x.dispose();
  });

  test('conditioned broadcasts a single class, takes one class per example and maps null to ∅', async () => {
    const x = tf.tensor4d(xv, SHAPE);
    for (const [classes, ids] of [
      [2, [2, 2]],
      [
        [0, 1],
        [0, 1],
      ],
      [
        [null, 1],
        [NULL_CLASS, 1],
      ],
    ] as const) {
      const model = tracked();
      const eps = conditioned(model, classes as never, NULL_CLASS)(x, 10);
      expect((await readCall(model.calls[0])).classes).toEqual(ids);
      const want = Array.from(xv, (v, i) => eps64(v, 10, ids[Math.floor(i / PER)]));
      expect(maxAbsDiff(await read(eps), want)).toBeLessThan(1e-6);
      eps.dispose();
    }
    expect(() => conditioned(fakeModel(false), [null, 1])(x, 10)).toThrow(TypeError);
    expect(() => conditioned(fakeModel(false), [0, 1, 2])(x, 10)).toThrow(RangeError);
    x.dispose();
  });

  test('classIds validates ids', () => {
    expect(classIds(4, 3)).toEqual([4, 4, 4]);
    expect(() => classIds([-1], 1)).toThrow(RangeError);
    expect(() => classIds([0.5], 1)).toThrow(RangeError);
  });
});

describe('classifierFreeGuidance', () => {
  test('makes one batched call over concat([x, x]) with classes concat([c, ∅]) and returns (1 + w) ε_c − w ε_∅', async () => {
    const x = tf.tensor4d(xv, SHAPE);
    for (const w of [0.5, 3]) {
      const model = tracked();
      const eps = classifierFreeGuidance(model, { classes: [0, 2], w, nullClass: NULL_CLASS })(x, 250);
      expect(model.calls.length).toBe(1);
      expect(await readCall(model.calls[0])).toEqual({
        n: 4,
        t: [250, 250, 250, 250],
        tDtype: 'int32',
        classes: [0, 2, 3, 3],
      });
      const c = [0, 2];
      const want = Array.from(
        xv,
        (v, i) => (1 + w) * eps64(v, 250, c[Math.floor(i / PER)]) - w * eps64(v, 250, NULL_CLASS),
      );
      expect(maxAbsDiff(await read(eps), want)).toBeLessThan(1e-5);
      eps.dispose();
    }
    x.dispose();
  });

  test('w = 0 gives exactly the conditional model', async () => {
    const x = tf.tensor4d(xv, SHAPE);
    const model = fakeModel(false);
    const guided = classifierFreeGuidance(model, { classes: 1, w: 0, nullClass: NULL_CLASS })(x, 600);
    const plain = conditioned(model, 1)(x, 600);
    expect(maxAbsDiff(await read(guided), await read(plain))).toBeLessThan(1e-6);
    tf.dispose([x, guided, plain]);
  });

  test('a negative class replaces ∅ in the second branch and steers away from it', async () => {
    const x = tf.tensor4d(xv, SHAPE);
    const model = tracked();
    const w = 2;
    const eps = classifierFreeGuidance(model, { classes: 2, w, nullClass: NULL_CLASS, negative: [1, 0] })(x, 80);
    expect((await readCall(model.calls[0])).classes).toEqual([2, 2, 1, 0]);
    const neg = [1, 0];
    const want = Array.from(xv, (v, i) => (1 + w) * eps64(v, 80, 2) - w * eps64(v, 80, neg[Math.floor(i / PER)]));
    expect(maxAbsDiff(await read(eps), want)).toBeLessThan(1e-5);
    tf.dispose([x, eps]);
  });

  test('a guided 50-step DDIM run calls the model once per step and leaves numTensors unchanged', async () => {
    const schedule = makeSchedule('cosine', 1000);
    const model = tracked(false);
    const denoiser = classifierFreeGuidance(model, { classes: [0, 1], w: 1.5, nullClass: NULL_CLASS });
    const xT = makeNoise(9).normal(SHAPE) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    let stepsSeen = 0;
    const x0 = await ddim(denoiser, xT, schedule, {
      noise: makeNoise(10),
      steps: 50,
      eta: 0.3,
      onStep: async (info) => {
        stepsSeen++;
        await read(info.eps);
      },
    });
    expect(stepsSeen).toBe(50);
    expect(model.calls.length).toBe(50);
    for (const call of model.calls) expect(call.n).toBe(4);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([xT, x0]);
  });
});
