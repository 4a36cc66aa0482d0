/**
 * The controlnet-mnist training job (scripts/jobs/controlnet-mnist.ts) on the repository's data and the shipped
 * frozen latent-mnist models: a few training steps move only the ControlNet (the frozen denoiser and autoencoder
 * stay bit-identical), the evaluation and sample grid run end to end with tiny settings, and the helpers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/core/backends';
import '../../src/core/nn/registerGradients';
import { FusedAdam } from '../../src/core/adam';
import { controlHint } from '../../src/core/control';
import { createControlNet } from '../../src/core/controlnet';
import { decodeMnistFile, type MnistData } from '../../src/core/data';
import type { Split } from '../../src/core/mnistFormat';
import job, { controlNetConfigOf, EVAL_SCALES, heldOutByClass, loadBaseDenoiser, sampleControlled, summaryOf, type ControlRow } from '../../scripts/jobs/controlnet-mnist';
import { LATENT_MODEL_DIR, loadAutoencoderDir } from '../../scripts/jobs/_latent';
import { resolveConfig } from '../../scripts/lib/trainer';
import { SeededRandom } from '../../src/core/data';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { useBackend } from '../helpers/backends';

const PIX = 784;
let data: MnistData;

const shipped = existsSync(join(LATENT_MODEL_DIR, 'denoiser', 'model.json')) && existsSync(join(LATENT_MODEL_DIR, 'autoencoder', 'model.json'));

beforeAll(async () => {
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
  await initBackend({ order: ['wasm'] });
});
afterAll(async () => {
  await useBackend('cpu');
});

function sameBits(a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }, b: typeof a): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const TINY = {
  steps: 3,
  batchSize: 4,
  logEvery: 1,
  checkpointEvery: 3,
  options: { evalPerClass: 1, evalDiversityPerClass: 1, evalSeeds: 2, evalSteps: 2, evalW: 1 },
};

describe('controlnet-mnist helpers', () => {
  it('heldOutByClass returns the first n digits of each class, in class order', () => {
    const reference = (split: Split, n: number) => {
      const out: number[] = [];
      for (let c = 0; c < 10; c++) out.push(...Array.from({ length: split.count }, (_, i) => i).filter((i) => split.labels[i] === c).slice(0, n));
      return out;
    };
    for (const n of [0, 1, 3]) {
      const idx = heldOutByClass(data.test, n);
      expect(idx).toEqual(reference(data.test, n));
      expect(idx.length).toBe(10 * n);
      expect(idx.map((i) => data.test.labels[i])).toEqual(Array.from({ length: 10 * n }, (_, k) => Math.floor(k / n)));
    }
    // A class with too few examples gives what there is; labels beyond 9 are ignored.
    const labels = Uint8Array.from([3, 1, 3, 0, 1, 3, 12, 1]);
    const split: Split = { images: new Uint8Array(labels.length * PIX), labels, count: labels.length };
    expect(heldOutByClass(split, 2)).toEqual([3, 1, 4, 0, 2]);
    // Only the first `count` examples are considered.
    expect(heldOutByClass({ ...split, count: 3 }, 5)).toEqual([1, 0, 2]);
  });

  it('summaryOf flattens every row under <metric>_<scale> keys with "." as "_", dropping the scale', () => {
    const row = (scale: number, base: number): ControlRow => ({
      scale,
      f1: base + 0.1,
      chamfer: base + 0.2,
      agree: base + 0.3,
      diversity: base + 0.4,
      conflictRequested: base + 0.5,
      conflictHint: base + 0.6,
      conflictF1: base + 0.7,
    });
    const s = summaryOf([row(0, 0), row(0.5, 1), row(1.5, 2)]);
    const metrics = ['f1', 'chamfer', 'agree', 'diversity', 'conflictRequested', 'conflictHint', 'conflictF1'];
    expect(Object.keys(s).sort()).toEqual(['0', '0_5', '1_5'].flatMap((k) => metrics.map((m) => `${m}_${k}`)).sort());
    expect(s.f1_0).toBe(0.1);
    expect(s.chamfer_0_5).toBe(1.2);
    expect(s.conflictF1_1_5).toBe(2.7);
    expect(summaryOf([])).toEqual({});
  });

  it('evaluationRows render every cell from a complete summary, and show — for a missing number', () => {
    const config = resolveConfig(job.defaults, {});
    const rows: ControlRow[] = EVAL_SCALES.map((scale, k) => ({ scale, f1: 0.5 + k / 10, chamfer: 1.25, agree: 0.75, diversity: 0.3, conflictRequested: 0.2, conflictHint: 0.6, conflictF1: 0.4 }));
    const summary = summaryOf(rows);
    const table = job.evaluationRows!(summary, config);
    expect(table.length).toBe(4 * EVAL_SCALES.length);
    const text = JSON.stringify(table);
    expect(text).not.toContain('—');
    expect(text).toContain('75.0 %');
    expect(text).toContain('1.25 px');
    expect(table[0].value).toBe('0.500');
    const partial = { ...summary };
    delete partial.agree_1;
    expect(JSON.stringify(job.evaluationRows!(partial, config))).toContain('—');
  });
});

describe.skipIf(!shipped)('controlnet-mnist on the shipped frozen latent-mnist models', () => {
  it('trains a few steps moving only the ControlNet: the frozen denoiser and autoencoder stay bit-identical', async () => {
    const config = resolveConfig(job.defaults, TINY);
    // A 600-digit slice of the training split keeps the latent encoding short; the held-out split is whole.
    const small: MnistData = { ...data, train: { images: data.train.images.subarray(0, 600 * PIX), labels: data.train.labels.subarray(0, 600), count: 600 } };
    const varsBefore = new Set(Object.values(tf.engine().registeredVariables));
    const model = await job.create({ config, data: small, rng: new SeededRandom(config.seed), backend: 'wasm' });
    const own = new Set([...Object.values(model.params), ...Object.values(model.extraState ?? {})]);
    const frozen = Object.values(tf.engine().registeredVariables).filter((v) => !varsBefore.has(v) && !own.has(v));

    // The frozen set is exactly the shipped denoiser plus the autoencoder (same values, same count).
    const ref = loadBaseDenoiser(join(LATENT_MODEL_DIR, 'denoiser'));
    const ae = loadAutoencoderDir(join(LATENT_MODEL_DIR, 'autoencoder'));
    const refWeights = [...Object.values(await ref.unet.getWeights()), ...Object.values(await ae.autoencoder.getWeights())];
    const frozenBefore = await Promise.all(frozen.map(async (v) => Float32Array.from(await v.data())));
    expect(frozen.length).toBe(refWeights.length);
    for (const w of refWeights) expect(frozenBefore.some((f) => sameBits(f, w))).toBe(true);
    // The ControlNet's names and size: the copy of the base's encoder plus the hint encoder and zero convolutions.
    const probe = createControlNet(controlNetConfigOf(config, ref.unet.config), 1);
    expect(Object.keys(model.params)).toEqual([...probe.params.keys()]);
    probe.dispose();
    // The copy starts as the base: every copied parameter has the base's bits.
    const refUnet = await ref.unet.getWeights();
    for (const [name, v] of Object.entries(model.params)) {
      if (name.startsWith('hint.') || name.startsWith('zero.')) continue;
      expect(sameBits(Float32Array.from(await v.data()), refUnet[name]), name).toBe(true);
    }
    ref.unet.dispose();
    ae.autoencoder.dispose();

    const netBefore = Object.fromEntries(await Promise.all(Object.entries(model.params).map(async ([k, v]) => [k, Float32Array.from(await v.data())] as const)));
    const opt = new FusedAdam(Object.values(model.params), { lr: config.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    let tensors = -1;
    for (let step = 0; step < config.steps; step++) {
      opt.learningRate = job.learningRate!(step, config);
      const loss = model.trainStep!(step, opt);
      expect(Number.isFinite((await loss.data())[0])).toBe(true);
      loss.dispose();
      if (tensors < 0) tensors = tf.memory().numTensors;
      else expect(tf.memory().numTensors, `after step ${step}`).toBe(tensors);
    }
    for (let k = 0; k < frozen.length; k++) expect(sameBits(Float32Array.from(await frozen[k].data()), frozenBefore[k]), `frozen variable ${k}`).toBe(true);
    const changed = Object.keys(model.params).filter((k) => !sameBits(Float32Array.from(model.params[k].dataSync()), netBefore[k]));
    for (const k of Object.keys(model.params).filter((n) => n.startsWith('zero.'))) expect(changed, k).toContain(k);
    expect(changed.some((k) => k.startsWith('hint.'))).toBe(true);

    // Evaluation end to end with tiny settings, then the card grid (hint in the first column of every row).
    const evaluation = await model.evaluate();
    const s = evaluation.summary;
    expect(Object.keys(s).length).toBe(7 * EVAL_SCALES.length);
    for (const scale of EVAL_SCALES) {
      const k = String(scale).replace('.', '_');
      for (const m of ['f1', 'agree', 'conflictRequested', 'conflictHint', 'conflictF1']) {
        expect(s[`${m}_${k}`], `${m}_${k}`).toBeGreaterThanOrEqual(0);
        expect(s[`${m}_${k}`], `${m}_${k}`).toBeLessThanOrEqual(1);
      }
      expect(s[`chamfer_${k}`]).toBeGreaterThanOrEqual(0);
      expect(s[`diversity_${k}`]).toBeGreaterThan(0); // two seeds never give the same picture
    }
    expect(JSON.stringify(evaluation.rows)).not.toContain('—');
    const grid = await model.samples();
    expect(grid.count).toBe(100);
    const idx = heldOutByClass(data.test, 1);
    idx.forEach((i, r) => {
      const hint = controlHint(data.test.images, i * PIX);
      expect(grid.images.subarray(r * 10 * PIX, (r * 10 + 1) * PIX)).toEqual(Uint8Array.from(hint, (v) => (v ? 255 : 0)));
    });
    opt.dispose();
    model.dispose();
  }, 180_000);

  it('sampleControlled: a fresh ControlNet at scale 1 and a trained-looking one at scale 0 both give the base model’s samples', async () => {
    const { unet, schedule } = loadBaseDenoiser(join(LATENT_MODEL_DIR, 'denoiser'));
    const { autoencoder, metadata } = loadAutoencoderDir(join(LATENT_MODEL_DIR, 'autoencoder'));
    const config = resolveConfig(job.defaults, {});
    const net = createControlNet(controlNetConfigOf(config, unet.config), 3);
    const p = { unet, net, autoencoder, latentScale: metadata.latentScale, schedule };
    const idx = heldOutByClass(data.test, 1).slice(0, 3);
    const hints = new Uint8Array(3 * PIX);
    idx.forEach((i, k) => hints.set(controlHint(data.test.images, i * PIX), k * PIX));
    const classes = idx.map((i) => data.test.labels[i]);
    const before = tf.memory().numTensors;
    const run = async (scale: number, w: number) => {
      const x = await sampleControlled(p, hints, classes, { scale, w, steps: 2, seed: 8 });
      expect(x.shape).toEqual([3, 28, 28, 1]);
      const v = Float32Array.from(await x.data());
      x.dispose();
      return v;
    };
    for (const w of [0, 2]) {
      const plain = await run(0, w);
      expect(sameBits(await run(1, w), plain), `w ${w}`).toBe(true);
      // Non-zero zero convolutions: scale 1 now differs, scale 0 still does not.
      for (const [name, v] of net.params) if (name.startsWith('zero.') || name === 'hint.zero.w') tf.tidy(() => v.assign(tf.mul(tf.onesLike(v), 0.05)));
      expect(sameBits(await run(1, w), plain), `w ${w}`).toBe(false);
      expect(sameBits(await run(0, w), plain), `w ${w}`).toBe(true);
      for (const [name, v] of net.params) if (name.startsWith('zero.') || name === 'hint.zero.w') tf.tidy(() => v.assign(tf.zerosLike(v)));
    }
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
    unet.dispose();
    autoencoder.dispose();
  }, 120_000);
});
