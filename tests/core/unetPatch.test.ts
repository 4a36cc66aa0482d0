import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { read, useBackend } from '../helpers/backends';
import '../../src/core/nn/registerGradients';
import { registerWasmGradKernels } from '../../src/core/kernels';
import { makeRng } from '../../src/core/noise';
import { makeSchedule } from '../../src/core/schedules';
import { createTrainer } from '../../src/core/train';
import { countUNetParams, createUNet, foldPatches, unfoldPatches, validateUNetConfig, type UNetConfig } from '../../src/core/unet';

/** Two levels behind a 2×2 patch stem: level 0 at 4×4, level 1 at 2×2 for 8×8 inputs. */
const PATCHED: UNetConfig = { inputShape: [8, 8, 1], channels: [8, 16], numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 0, patch: 2 };

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

describe('the 2×2 patch stem (space-to-depth)', () => {
  it('folds each 2×2 block into channels (row-major: top-left, top-right, bottom-left, bottom-right) and unfolds it back exactly', async () => {
    // 1 image, 4×4, 2 channels: value = 100·row + 10·col + channel.
    const v = new Float32Array(32);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) for (let ch = 0; ch < 2; ch++) v[(r * 4 + c) * 2 + ch] = 100 * r + 10 * c + ch;
    const x = tf.tensor4d(v, [1, 4, 4, 2]);
    const f = foldPatches(x, 2);
    expect(f.shape).toEqual([1, 2, 2, 8]);
    const fv = await read(f);
    // The block at (1, 0) covers rows 2–3, columns 0–1.
    expect(Array.from(fv.slice((1 * 2 + 0) * 8, (1 * 2 + 0) * 8 + 8))).toEqual([200, 201, 210, 211, 300, 301, 310, 311]);
    const u = unfoldPatches(f, 2);
    expect(u.shape).toEqual([1, 4, 4, 2]);
    expect(Array.from(await read(u))).toEqual(Array.from(v));
    expect(foldPatches(x, 1)).toBe(x);
    tf.dispose([x, f, u]);
  });

  it('maps [N, H, W, C] to ε̂ of the same shape with the stem and head on 4C channels, counted by countUNetParams', async () => {
    const unet = createUNet(PATCHED, 3);
    expect(unet.params.get('in.conv.w')!.shape).toEqual([3, 3, 4, 8]);
    expect(unet.params.get('out.conv.w')!.shape).toEqual([3, 3, 8, 4]);
    expect(unet.paramCount()).toBe(countUNetParams(PATCHED));
    const rng = makeRng(2);
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 64 }, () => rng.normal()), [2, 8, 8, 1]);
    const out = unet.model(x, tf.tensor1d([10, 500], 'int32'));
    expect(out.shape).toEqual([2, 8, 8, 1]);
    expect((await read(out)).every(Number.isFinite)).toBe(true);
    tf.dispose([x, out]);
    unet.dispose();
  });

  it('leaves a configuration without `patch` exactly as before (same parameters, same count)', () => {
    const { patch: _p, ...plain } = PATCHED;
    const a = createUNet(plain, 1);
    const b = createUNet({ ...plain, patch: 1 }, 1);
    expect(a.params.get('in.conv.w')!.shape).toEqual([3, 3, 1, 8]);
    expect([...a.params.keys()]).toEqual([...b.params.keys()]);
    expect(countUNetParams(plain)).toBe(a.paramCount());
    expect('patch' in a.config).toBe(false);
    a.dispose();
    b.dispose();
  });

  it('refuses a patch other than 1 or 2, and sizes the patch and the levels cannot divide', () => {
    expect(() => validateUNetConfig({ ...PATCHED, patch: 3 as 2 })).toThrow(/patch must be 1 or 2/);
    expect(() => validateUNetConfig({ ...PATCHED, inputShape: [6, 6, 1] })).toThrow(/not divisible by 4/);
    expect(() => validateUNetConfig({ ...PATCHED, inputShape: [28, 28, 1], channels: [8, 16, 16] })).toThrow(/patch stem/);
  });

  it('trains on wasm: the loss falls on a fixed batch', async () => {
    const unet = createUNet(PATCHED, 4);
    expect(unet.params.get('in.conv.w')!.shape).toEqual([3, 3, 4, 8]); // the patch stem is the one being trained
    const x0 = tf.tidy(() => tf.tile(tf.reshape(tf.linspace(-1, 1, 64), [1, 8, 8, 1]), [8, 1, 1, 1]) as tf.Tensor4D);
    const trainer = createTrainer(unet, { schedule: makeSchedule('linear', 1000), rng: makeRng(5), lr: 3e-3 });
    const losses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const l = trainer.step(x0);
      losses.push((await l.data())[0]);
      l.dispose();
    }
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    expect(mean(losses.slice(-10))).toBeLessThan(0.7 * mean(losses.slice(0, 5)));
    trainer.dispose();
    x0.dispose();
    unet.dispose();
  });
});
