import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbsDiff, useBackend } from '../helpers/backends';
import { registerWasmGradKernels } from '../../src/core/kernels';
import { makeRng } from '../../src/core/noise';
import { makeSchedule } from '../../src/core/schedules';
import { createTrainer, drawTraining, emaDecayAt, epsLoss, warmupLr } from '../../src/core/train';
import { createUNet, type UNetConfig } from '../../src/core/unet';

const TINY: UNetConfig = { inputShape: [8, 8, 1], channels: [8, 16], numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 0 };
const schedule = makeSchedule('linear', 1000);
const batch = () => tf.tidy(() => tf.tile(tf.reshape(tf.linspace(-1, 1, 64), [1, 8, 8, 1]), [4, 1, 1, 1]) as tf.Tensor4D);

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

describe('learning-rate warm-up', () => {
  it('rises linearly to lr over warmupSteps steps and stays there; no warm-up means lr from the first step', () => {
    expect([0, 1, 3, 4, 10].map((k) => warmupLr(0.004, k, 4))).toEqual([0.001, 0.002, 0.004, 0.004, 0.004]);
    expect(warmupLr(0.004, 0, 0)).toBe(0.004);
    expect(warmupLr(0.004, 0, undefined)).toBe(0.004);
  });

  it('is what the trainer hands Adam at each step', () => {
    const unet = createUNet(TINY, 1);
    const x0 = batch();
    const trainer = createTrainer(unet, { schedule, rng: makeRng(1), lr: 0.004, warmupSteps: 4 });
    const seen: number[] = [];
    for (let k = 0; k < 6; k++) {
      trainer.step(x0).dispose();
      seen.push(trainer.optimizer.learningRate);
    }
    expect(seen).toEqual([0.001, 0.002, 0.003, 0.004, 0.004, 0.004]);
    trainer.dispose();
    x0.dispose();
    unet.dispose();
  });
});

describe('the weights’ moving average', () => {
  it('starts as a copy of the weights and moves by 1 − min(decay, (1 + k)/(10 + k)) towards them after step k', async () => {
    expect(emaDecayAt(0, 0.99)).toBeCloseTo(0.1, 12);
    expect(emaDecayAt(1000, 0.99)).toBe(0.99);
    const unet = createUNet(TINY, 2);
    const x0 = batch();
    const trainer = createTrainer(unet, { schedule, rng: makeRng(3), lr: 0.01, emaDecay: 0.99 });
    const ema = trainer.ema!;
    expect(ema).not.toBeNull();
    expect(ema.config).toEqual(unet.config);
    const w0 = await unet.getWeights();
    expect(await ema.getWeights()).toEqual(w0);
    trainer.step(x0).dispose();
    const w1 = await unet.getWeights();
    trainer.step(x0).dispose();
    const w2 = await unet.getWeights();
    const e2 = await ema.getWeights();
    const [d0, d1] = [emaDecayAt(0, 0.99), emaDecayAt(1, 0.99)];
    for (const name of Object.keys(w0)) {
      const want = w0[name].map((v, i) => d1 * (d0 * v + (1 - d0) * w1[name][i]) + (1 - d1) * w2[name][i]);
      expect(maxAbsDiff(e2[name], want)).toBeLessThan(1e-5);
    }
    expect(maxAbsDiff(e2['out.conv.w'], w2['out.conv.w'])).toBeGreaterThan(0); // an average, not the weights
    const before = tf.memory().numTensors;
    trainer.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before); // the average's variables are freed with the trainer
    x0.dispose();
    unet.dispose();
  });

  it('is absent unless asked for, and refuses a decay outside [0, 1)', () => {
    const unet = createUNet(TINY, 2);
    const trainer = createTrainer(unet, { schedule, rng: makeRng(3) });
    expect(trainer.ema).toBeNull();
    trainer.dispose();
    expect(() => createTrainer(unet, { schedule, rng: makeRng(3), emaDecay: 1 })).toThrow(/emaDecay/);
    unet.dispose();
  });
});

describe('min-SNR-γ in the trainer', () => {
  it('scores the first step with epsLoss under the same draws and minSnrGamma', async () => {
    const unet = createUNet(TINY, 5);
    const x0 = batch();
    const draws = drawTraining(makeRng(7), x0.shape, schedule.T, undefined, 0, 0.1);
    const want = epsLoss(unet, schedule, x0, draws, { minSnrGamma: 0.1 });
    const plain = epsLoss(unet, schedule, x0, draws);
    const [w, p] = [(await want.data())[0], (await plain.data())[0]];
    expect(Math.abs(w - p)).toBeGreaterThan(1e-4); // the weights change this batch's loss
    const trainer = createTrainer(unet, { schedule, rng: makeRng(7), minSnrGamma: 0.1 });
    const got = trainer.step(x0);
    expect((await got.data())[0]).toBeCloseTo(w, 5);
    tf.dispose([want, plain, got]);
    trainer.dispose();
    x0.dispose();
    unet.dispose();
  });
});
