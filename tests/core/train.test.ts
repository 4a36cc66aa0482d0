import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { read, useBackend } from '../helpers/backends';
import { registerWasmGradKernels } from '../../src/core/kernels';
import { makeRng } from '../../src/core/noise';
import { makeSchedule } from '../../src/core/schedules';
import { createTrainer, drawTraining, epsLoss, minSnrWeights } from '../../src/core/train';
import { createUNet, MNIST_UNET_CONFIG, type UNetConfig } from '../../src/core/unet';

const SMALL: UNetConfig = {
  inputShape: [8, 8, 1],
  channels: [8, 16],
  numResBlocks: 1,
  attention: true,
  tembDim: 16,
  groups: 4,
  numClasses: 3,
};
const schedule = makeSchedule('linear', 1000);

/** A fixed batch of smooth 8×8 "images" in [−1, 1] (a few gradients and blobs), so there is structure to learn. */
function fixedBatch(n: number): { x0: tf.Tensor4D; labels: Int32Array } {
  const v = new Float32Array(n * 64);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    labels[k] = k % 3;
    for (let i = 0; i < 8; i++)
      for (let j = 0; j < 8; j++) {
        const a = labels[k] === 0 ? i / 7 : labels[k] === 1 ? j / 7 : Math.exp(-((i - 3.5) ** 2 + (j - 3.5) ** 2) / 6);
        v[k * 64 + i * 8 + j] = 2 * a - 1;
      }
  }
  return { x0: tf.tensor4d(v, [n, 8, 8, 1]), labels };
}

beforeAll(async () => {
  await useBackend('wasm');
  registerWasmGradKernels();
});

describe('drawTraining', () => {
  it('draws t uniformly from 1…T, drops labels with probability pUncond, and ε ~ N(0, 1)', () => {
    const n = 4000;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
    const d = drawTraining(makeRng(1), [n, 2, 2, 1], 1000, labels, 10, 0.1);
    expect(Math.min(...d.t)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...d.t)).toBeLessThanOrEqual(1000);
    const meanT = d.t.reduce((a, b) => a + b, 0) / n;
    expect(Math.abs(meanT - 500.5)).toBeLessThan(3 * (288.7 / Math.sqrt(n)) + 1);
    const dropped = d.classes!.filter((c, i) => c === 10 && labels[i] !== 10).length;
    expect(Math.abs(dropped / n - 0.1)).toBeLessThan(3 * Math.sqrt(0.09 / n));
    d.classes!.forEach((c, i) => expect(c === 10 || c === labels[i]).toBe(true));
    const m = d.eps.reduce((a, b) => a + b, 0) / d.eps.length;
    const v = d.eps.reduce((a, b) => a + (b - m) ** 2, 0) / d.eps.length;
    expect(Math.abs(m)).toBeLessThan(0.05);
    expect(Math.abs(v - 1)).toBeLessThan(0.06);
  });

  it('is reproducible from the seed, keeps labels at pUncond = 0, drops all at 1, and has no labels when unconditional', () => {
    const labels = [0, 1, 2, 1];
    const a = drawTraining(makeRng(7), [4, 3, 3, 1], 50, labels, 3, 0);
    const b = drawTraining(makeRng(7), [4, 3, 3, 1], 50, labels, 3, 0);
    expect(Array.from(a.t)).toEqual(Array.from(b.t));
    expect(Array.from(a.eps)).toEqual(Array.from(b.eps));
    expect(Array.from(a.classes!)).toEqual(labels);
    expect(Array.from(drawTraining(makeRng(7), [4, 1, 1, 1], 50, labels, 3, 1).classes!)).toEqual([3, 3, 3, 3]);
    expect(drawTraining(makeRng(7), [4, 1, 1, 1], 50, undefined, 0, 0.1).classes).toBeUndefined();
    expect(() => drawTraining(makeRng(7), [1, 1, 1, 1], 50, [4], 3, 0)).toThrow(/class id/);
  });
});

describe('epsLoss', () => {
  it('is mean (ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t, c))², with x_t formed in float64 here', async () => {
    const unet = createUNet(SMALL, 2);
    const { x0, labels } = fixedBatch(3);
    const draws = drawTraining(makeRng(3), [3, 8, 8, 1], schedule.T, labels, 3, 0.5);
    const x0v = await read(x0);
    const xt = new Float32Array(x0v.length);
    for (let k = 0; k < xt.length; k++) {
      let ab = 1; // ᾱ_t from β directly, independent of the schedule's alphaBar
      const t = draws.t[Math.floor(k / 64)];
      for (let s = 1; s <= t; s++) ab *= 1 - schedule.beta[s];
      xt[k] = Math.sqrt(ab) * x0v[k] + Math.sqrt(1 - ab) * draws.eps[k];
    }
    const epsHat = await read(unet.model(tf.tensor4d(xt, [3, 8, 8, 1]), tf.tensor1d(draws.t, 'int32'), tf.tensor1d(draws.classes!, 'int32')));
    let ref = 0;
    for (let k = 0; k < xt.length; k++) ref += (draws.eps[k] - epsHat[k]) ** 2;
    ref /= xt.length;
    const loss = epsLoss(unet, schedule, x0, draws);
    expect((await loss.data())[0]).toBeCloseTo(ref, 4);
    tf.dispose([loss, x0]);
    unet.dispose();
  });
});

describe('min-SNR-γ weighting (Hang et al. 2023)', () => {
  /** SNR_t = ᾱ_t / (1 − ᾱ_t) with ᾱ_t a float64 product of (1 − β_s), written here from the paper's definition. */
  const snrRef = (t: number) => {
    let ab = 1;
    for (let s = 1; s <= t; s++) ab *= 1 - schedule.beta[s];
    return ab / (1 - ab);
  };

  it('weights each t by min(SNR_t, γ)/SNR_t: 1 where SNR ≤ γ, γ/SNR on the nearly clean steps, 1 everywhere when off', () => {
    const ts = [1, 10, 50, 100, 130, 200, 500, 999, 1000];
    const w = minSnrWeights(schedule, ts, 5);
    ts.forEach((t, i) => {
      const snr = snrRef(t);
      expect(w[i]).toBeCloseTo(Math.min(snr, 5) / snr, 5);
    });
    expect(w[0]).toBeLessThan(0.01); // t = 1: SNR ≈ 1e4
    expect(w[ts.indexOf(500)]).toBe(1);
    expect(Array.from(minSnrWeights(schedule, ts, 0))).toEqual(ts.map(() => 1));
    expect(Array.from(minSnrWeights(schedule, ts, undefined))).toEqual(ts.map(() => 1));
  });

  it('epsLoss with minSnrGamma is the batch mean of per-example ε-MSEs times those weights', async () => {
    const unet = createUNet(SMALL, 4);
    const { x0, labels } = fixedBatch(4);
    const draws = drawTraining(makeRng(8), [4, 8, 8, 1], schedule.T, labels, 3, 0);
    draws.t.set([3, 40, 400, 900]); // two above γ = 5 in SNR, two below
    const x0v = await read(x0);
    const xt = new Float32Array(x0v.length);
    for (let k = 0; k < xt.length; k++) {
      const t = draws.t[Math.floor(k / 64)];
      const snr = snrRef(t);
      const ab = snr / (1 + snr);
      xt[k] = Math.sqrt(ab) * x0v[k] + Math.sqrt(1 - ab) * draws.eps[k];
    }
    const epsHat = await read(unet.model(tf.tensor4d(xt, [4, 8, 8, 1]), tf.tensor1d(draws.t, 'int32'), tf.tensor1d(draws.classes!, 'int32')));
    let ref = 0;
    for (let b = 0; b < 4; b++) {
      let mse = 0;
      for (let k = b * 64; k < (b + 1) * 64; k++) mse += (draws.eps[k] - epsHat[k]) ** 2;
      const snr = snrRef(draws.t[b]);
      ref += (mse / 64) * (Math.min(snr, 5) / snr);
    }
    ref /= 4;
    const before = tf.memory().numTensors;
    const weighted = epsLoss(unet, schedule, x0, draws, { minSnrGamma: 5 });
    const plain = epsLoss(unet, schedule, x0, draws);
    expect(tf.memory().numTensors).toBe(before + 2);
    expect((await weighted.data())[0]).toBeCloseTo(ref, 4);
    expect((await weighted.data())[0]).toBeLessThan((await plain.data())[0]);
    tf.dispose([weighted, plain, x0]);
    unet.dispose();
  });
});

describe('input perturbation (Ning et al. 2023)', () => {
  it('drawTraining draws ξ after ε only when asked, so runs without it replay the same stream', () => {
    const plain = drawTraining(makeRng(21), [2, 8, 8, 1], schedule.T, [0, 1], 3, 0.5);
    const withXi = drawTraining(makeRng(21), [2, 8, 8, 1], schedule.T, [0, 1], 3, 0.5, { xi: true });
    expect(plain.xi).toBeUndefined();
    expect(Array.from(withXi.t)).toEqual(Array.from(plain.t));
    expect(Array.from(withXi.eps)).toEqual(Array.from(plain.eps));
    expect(withXi.xi!.length).toBe(plain.eps.length);
    expect(Array.from(withXi.xi!)).not.toEqual(Array.from(withXi.eps));
  });

  it('feeds x_t = √ᾱ x_0 + √(1−ᾱ)(ε + λξ) and still scores against ε', async () => {
    const unet = createUNet(SMALL, 5);
    const { x0, labels } = fixedBatch(3);
    const draws = drawTraining(makeRng(9), [3, 8, 8, 1], schedule.T, labels, 3, 0, { xi: true });
    draws.t.set([5, 300, 800]);
    const lambda = 0.1;
    const x0v = await read(x0);
    const xt = new Float32Array(x0v.length);
    for (let k = 0; k < xt.length; k++) {
      let ab = 1; // float64 ᾱ_t from the betas
      for (let s = 1; s <= draws.t[Math.floor(k / 64)]; s++) ab *= 1 - schedule.beta[s];
      xt[k] = Math.sqrt(ab) * x0v[k] + Math.sqrt(1 - ab) * (draws.eps[k] + lambda * draws.xi![k]);
    }
    const epsHat = await read(unet.model(tf.tensor4d(xt, [3, 8, 8, 1]), tf.tensor1d(draws.t, 'int32'), tf.tensor1d(draws.classes!, 'int32')));
    let ref = 0;
    for (let k = 0; k < epsHat.length; k++) ref += (draws.eps[k] - epsHat[k]) ** 2;
    ref /= epsHat.length;
    const before = tf.memory().numTensors;
    const perturbed = epsLoss(unet, schedule, x0, draws, { inputPerturbation: lambda });
    const plain = epsLoss(unet, schedule, x0, draws);
    expect(tf.memory().numTensors).toBe(before + 2);
    expect((await perturbed.data())[0]).toBeCloseTo(ref, 4);
    expect(Math.abs((await perturbed.data())[0] - (await plain.data())[0])).toBeGreaterThan(1e-4);
    tf.dispose([perturbed, plain]);
    const { xi: _xi, ...noXi } = draws;
    expect(() => epsLoss(unet, schedule, x0, noXi, { inputPerturbation: lambda })).toThrow(/needs draws\.xi/);
    expect(() => epsLoss(unet, schedule, x0, draws, { inputPerturbation: -1 })).toThrow(/inputPerturbation/);
    expect(tf.memory().numTensors).toBe(before);
    x0.dispose();
    unet.dispose();
  });
});

describe('createTrainer', () => {
  it('lowers the loss on a small fixed batch within a few dozen Adam steps on wasm', async () => {
    const unet = createUNet(SMALL, 4);
    const { x0, labels } = fixedBatch(12);
    const evalDraws = [11, 12, 13, 14].map((s) => drawTraining(makeRng(s), [12, 8, 8, 1], schedule.T, labels, 3, 0));
    const evaluate = async () => {
      let s = 0;
      for (const d of evalDraws) {
        const l = epsLoss(unet, schedule, x0, d);
        s += (await l.data())[0];
        l.dispose();
      }
      return s / evalDraws.length;
    };
    const initial = await evaluate();
    const trainer = createTrainer(unet, { schedule, rng: makeRng(5), lr: 3e-3 });
    for (let i = 0; i < 25; i++) trainer.step(x0, labels).dispose();
    expect(trainer.steps).toBe(25);
    const final = await evaluate();
    expect(final).toBeLessThan(0.6 * initial);
    trainer.dispose();
    x0.dispose();
    unet.dispose();
  });

  it('keeps tf.memory().numTensors flat across steps and frees its optimizer state on dispose', async () => {
    const unet = createUNet(SMALL, 6);
    const { x0, labels } = fixedBatch(4);
    const start = tf.memory().numTensors;
    const trainer = createTrainer(unet, { schedule, rng: makeRng(1) });
    const first = trainer.step(x0, labels);
    await first.data();
    first.dispose();
    const afterFirst = tf.memory().numTensors; // Adam's moments now exist
    for (let i = 0; i < 3; i++) {
      const loss = trainer.step(x0, labels);
      expect(loss.shape).toEqual([]);
      expect(Number.isFinite((await loss.data())[0])).toBe(true);
      loss.dispose();
      expect(tf.memory().numTensors).toBe(afterFirst);
    }
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(start);
    x0.dispose();
    unet.dispose();
  });

  it('gives the same loss sequence for the same seeds', async () => {
    const run = async () => {
      const unet = createUNet(SMALL, 8);
      const { x0, labels } = fixedBatch(4);
      const trainer = createTrainer(unet, { schedule, rng: makeRng(9) });
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const l = trainer.step(x0, labels);
        losses.push((await l.data())[0]);
        l.dispose();
      }
      trainer.dispose();
      x0.dispose();
      unet.dispose();
      return losses;
    };
    expect(await run()).toEqual(await run());
  });

  it('runs a step on the default 28×28 MNIST U-Net and refuses labels for an unconditional one', async () => {
    const unet = createUNet(MNIST_UNET_CONFIG, 1);
    const x0 = tf.zeros([2, 28, 28, 1]) as tf.Tensor4D;
    const trainer = createTrainer(unet, { schedule, rng: makeRng(2) });
    const loss = trainer.step(x0, [1, 2]);
    expect(Number.isFinite((await loss.data())[0])).toBe(true);
    expect(() => trainer.step(x0, [1])).toThrow(/class ids/);
    tf.dispose([loss]);
    trainer.dispose();
    unet.dispose();
    const uncond = createUNet({ ...SMALL, numClasses: 0 }, 1);
    const t2 = createTrainer(uncond, { schedule, rng: makeRng(2) });
    const x8 = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
    expect(() => t2.step(x8, [0, 1])).toThrow(/unconditional/);
    const l2 = t2.step(x8);
    l2.dispose();
    t2.dispose();
    uncond.dispose();
    tf.dispose([x0, x8]);
  });
});
