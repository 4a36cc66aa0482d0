import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/core/backends';
import { FusedAdam } from '../../src/core/adam';
import '../../src/core/nn/registerGradients';
import { decodeMnistFile, SeededRandom, type MnistData } from '../../src/core/data';
import { decodeWeights } from '../../src/core/io';
import { encodeUNet, loadUNet, parseUNetMetadata, unetFromWeights } from '../../src/core/models';
import { samplers } from '../../src/core/samplers';
import { makeSchedule } from '../../src/core/schedules';
import type { Sampler } from '../../src/core/types';
import { createUNet, type UNetConfig } from '../../src/core/unet';
import { deepMerge, digitMetrics, heldOutFeatures, loadClassifierFromDir, mergeEvalJson, sampleMany } from '../../scripts/eval/common';
import { batchDenoiser, selectSettings, SETTINGS } from '../../scripts/eval/unet';
import job, { emaDecayAt, roundToFloat16, unetConfigOf } from '../../scripts/jobs/unet-mnist';
import type { JobModel, TrainConfig } from '../../scripts/lib/job';
import { resolveConfig, runTraining } from '../../scripts/lib/trainer';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { jobModuleUrl } from '../../scripts/train';
import { useBackend } from '../helpers/backends';
import { folderFetch } from '../helpers/folderFetch';

const ROOT = resolve(__dirname, '..', '..');
const TINY = { channels: '8,8', numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 10 };
const TINY_CONFIG: UNetConfig = { inputShape: [28, 28, 1], channels: [8, 8], numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 10 };

let data: MnistData;
let root: string;

/** A fetch over files of a folder, served as http://models.test/<name>. */

beforeAll(async () => {
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
  root = mkdtempSync(join(tmpdir(), 'unet-job-'));
  await initBackend({ order: ['wasm'] });
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await useBackend('cpu');
});

describe('unet-mnist job', () => {
  it('reads its U-Net configuration from the options, linear schedule T = 1000 in the metadata', async () => {
    const config = resolveConfig(job.defaults, { options: TINY });
    expect(unetConfigOf(config)).toEqual(TINY_CONFIG);
    const model = await job.create({ config, data, rng: new SeededRandom(1), backend: 'wasm' });
    try {
      const meta = model.metadata();
      expect(meta.name).toBe('unet-mnist');
      expect(meta.schedule).toEqual({ kind: 'linear', T: 1000 });
      expect(meta.config).toEqual(TINY_CONFIG);
      expect(Object.keys(model.extraState!)).toEqual(Object.keys(model.params).map((k) => `ema/${k}`));
    } finally {
      model.dispose();
    }
  });

  it('evaluates the weights in the network (as --evaluate-only loads the shipped file), not its freshly initialised EMA', async () => {
    const config = resolveConfig(job.defaults, { options: { ...TINY, probeCount: 20 } });
    const model = await job.create({ config, data, rng: new SeededRandom(1), backend: 'wasm' });
    try {
      // Stand-in for a shipped file: every parameter set to 0.01 (the EMA still holds the random initialisation).
      tf.tidy(() => {
        for (const v of Object.values(model.params)) v.assign(tf.fill(v.shape, 0.01));
      });
      await model.evaluate();
      for (const [k, v] of Object.entries(model.params)) {
        const values = await v.data();
        expect(values.every((x) => x === Math.fround(0.01)), k).toBe(true);
      }
    } finally {
      model.dispose();
    }
  });

  it('warms the learning rate up linearly, then decays it by a cosine to the floor', () => {
    const c = job.defaults;
    const warm = Number(c.options.warmupSteps);
    const lr = (s: number) => job.learningRate!(s, c);
    expect(lr(0)).toBeCloseTo(c.learningRate / warm, 12);
    expect(lr(warm - 1)).toBeCloseTo(c.learningRate, 12);
    expect(lr(c.steps)).toBeCloseTo(c.learningRate * Number(c.options.finalLrFraction), 12);
    const mid = warm + (c.steps - warm) / 2;
    expect(lr(mid)).toBeCloseTo(c.learningRate * (Number(c.options.finalLrFraction) + (1 - Number(c.options.finalLrFraction)) * 0.5), 10);
  });

  it('warms the EMA decay up as (1 + n)/(10 + n) and caps it at the configured decay', () => {
    expect(emaDecayAt(0, 0.999)).toBeCloseTo(0.1, 12);
    expect(emaDecayAt(90, 0.999)).toBeCloseTo(91 / 100, 12);
    expect(emaDecayAt(1e6, 0.999)).toBe(0.999);
  });

  it('lowers the ε-loss of one repeated batch over a few steps, updates the EMA, and leaks no tensors', async () => {
    const config: TrainConfig = resolveConfig(job.defaults, { batchSize: 8, learningRate: 3e-3, options: { ...TINY, warmupSteps: 1, emaDecay: 0.5 } });
    const rng = new SeededRandom(5);
    const model: JobModel = await job.create({ config, data, rng, backend: 'wasm' });
    const opt = new FusedAdam(Object.values(model.params), { lr: 3e-3 });
    try {
      const start = rng.state;
      const ema0 = await model.extraState!['ema/out.conv.w'].data();
      const losses: number[] = [];
      let before = 0;
      for (let s = 0; s < 12; s++) {
        if (s === 1) before = tf.memory().numTensors; // measured once a step has run (the EMA and Adam's moments exist from the start)
        rng.state = start; // the same batch, t, labels and ε every step
        const l = model.trainStep!(s, opt);
        losses.push((await l.data())[0]);
        l.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[11]).toBeLessThan(0.8 * losses[0]);
      const ema1 = await model.extraState!['ema/out.conv.w'].data();
      const w1 = await model.params['out.conv.w'].data();
      let moved = 0;
      let gap = 0;
      for (let i = 0; i < ema1.length; i++) {
        moved += Math.abs(ema1[i] - ema0[i]);
        gap += Math.abs(ema1[i] - w1[i]);
      }
      expect(moved).toBeGreaterThan(0);
      expect(gap).toBeGreaterThan(0); // an average, not a copy
      // The default loss (used when no trainStep is given) is a finite scalar of the same draws.
      rng.state = start;
      const l = tf.tidy(() => model.loss(0));
      expect(l.shape).toEqual([]);
      expect(Number.isFinite((await l.data())[0])).toBe(true);
      l.dispose();
    } finally {
      opt.dispose();
      model.dispose();
    }
  });

  it('round-trips the metadata through encodeUNet and the loader, giving identical outputs', async () => {
    const unet = createUNet(TINY_CONFIG, 3);
    const config = resolveConfig(job.defaults, { options: TINY });
    const model = await job.create({ config, data, rng: new SeededRandom(1), backend: 'wasm' });
    const { config: _c, ...meta } = model.metadata() as { config: UNetConfig; name: string; schedule: { kind: 'linear'; T: number } };
    model.dispose();
    const { modelJson, weightData } = await encodeUNet(unet, meta);
    const { weights, metadata } = decodeWeights(modelJson, weightData, 'mem/model.json');
    const parsed = parseUNetMetadata(metadata, 'mem/model.json');
    expect(parsed.config).toEqual(TINY_CONFIG);
    expect(parsed.schedule).toEqual({ kind: 'linear', T: 1000 });
    const copy = unetFromWeights(weights, parsed, 'mem/model.json');
    const x = tf.randomNormal([3, 28, 28, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
    const t = tf.tensor1d([1, 500, 1000], 'int32');
    const c = tf.tensor1d([0, 7, 10], 'int32');
    const a = unet.model(x, t, c);
    const b = copy.model(x, t, c);
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([x, t, c, a, b]);
    unet.dispose();
    copy.dispose();
  });

  it('exports through the training driver, on its two threads, a folder that loadUNet reads back (float16 EMA weights)', async () => {
    const out = join(root, 'model');
    const before = tf.memory().numTensors;
    const r = await runTraining({
      job,
      data,
      backend: 'wasm',
      checkpointDir: join(root, 'ckpt'),
      outDir: out,
      jobModule: jobModuleUrl('unet-mnist'), // the job's default threads = 2: one helper thread imports it
      overrides: { steps: 2, batchSize: 4, logEvery: 1, checkpointEvery: 1, options: { ...TINY, probeCount: 20 } },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.completed).toBe(true);
    expect(r.config.threads).toBe(2);
    expect(r.evaluation!.summary.heldOutEpsMseMean).toBeGreaterThan(0);
    const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].weights.find((w: { name: string }) => w.name === 'up0.res0.conv0.w').quantization).toEqual({ dtype: 'float16' });
    const loaded = await loadUNet('http://models.test/unet-mnist/', folderFetch(out));
    expect(loaded.metadata.name).toBe('unet-mnist');
    expect(loaded.schedule.T).toBe(1000);
    expect(loaded.schedule.kind).toBe('linear');
    expect(loaded.unet.config).toEqual(TINY_CONFIG);
    loaded.unet.dispose();
    expect(json.weightsManifest[0].weights.find((w: { name: string }) => w.name === 'out.conv.b').quantization).toBeUndefined();
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('held-out ε-MSE at t = 500');
  });

  it('rounds weights through float16 the way the shipped file stores them', () => {
    const w = { big: { shape: [1024], data: Float32Array.from({ length: 1024 }, (_, i) => 0.1 + i * 1e-5) }, small: { shape: [2], data: Float32Array.of(0.1, 0.2) } };
    const r = roundToFloat16(w);
    expect(r.small.data).toBe(w.small.data);
    // float16 has a 10-bit mantissa: relative error ≤ 2^-11, and 0.1 is not representable exactly.
    for (let i = 0; i < 1024; i++) expect(Math.abs(r.big.data[i] - w.big.data[i])).toBeLessThanOrEqual(w.big.data[i] * 2 ** -11);
    expect(r.big.data[0]).not.toBe(w.big.data[0]);
  });
});

describe('eval helpers', () => {
  it('deep-merges eval.json sections so separately computed rows are all kept', () => {
    const file = join(root, 'eval.json');
    mergeEvalJson(file, 'unet', { settings: { a: { fd: 1 } }, seed: 1 });
    mergeEvalJson(file, 'latent', { x: 1 });
    const merged = mergeEvalJson(file, 'unet', { settings: { b: { fd: 2 } } });
    expect(merged).toEqual({ settings: { a: { fd: 1 }, b: { fd: 2 } }, seed: 1 });
    expect(JSON.parse(readFileSync(file, 'utf8')).latent).toEqual({ x: 1 });
    expect(deepMerge({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
  });

  it('replaces a section measured on other weights instead of merging rows of two models', () => {
    const file = join(root, 'eval-crc.json');
    mergeEvalJson(file, 'unet', { weightsCrc: 'old', settings: { a: { fd: 1 }, clip: { fd: 9 } } });
    const same = mergeEvalJson(file, 'unet', { weightsCrc: 'old', settings: { b: { fd: 2 } } });
    expect(Object.keys(same.settings as object)).toEqual(['a', 'clip', 'b']);
    const next = mergeEvalJson(file, 'unet', { weightsCrc: 'new', settings: { a: { fd: 3 } } });
    expect(next).toEqual({ weightsCrc: 'new', settings: { a: { fd: 3 } } });
    expect(JSON.parse(readFileSync(file, 'utf8')).unet).toEqual(next);
  });

  it('selects the table rows by name: DDPM with both variances and DDIM at 10–100 steps, η = 0 and 1', () => {
    expect(SETTINGS).toHaveLength(10);
    expect(selectSettings('ddpm').map((s) => s.options.variance)).toEqual(['beta', 'betaTilde']);
    expect(selectSettings('ddim').map((s) => `${s.steps}/${s.options.eta}`)).toEqual(['10/0', '10/1', '20/0', '20/1', '50/0', '50/1', '100/0', '100/1']);
    expect(() => selectSettings('ddim-7-eta0')).toThrow(/unknown unet eval row/);
  });

  it('starts every setting from the same seeded x_T, batch by batch, and leaks no tensors while sampling', async () => {
    const unet = createUNet(TINY_CONFIG, 1);
    const schedule = makeSchedule('linear', 1000);
    const identity: Sampler = async (_d, xT) => tf.clone(xT);
    const common = { schedule, denoiser: batchDenoiser(unet, 'cond', 3), shape: [28, 28, 1] as [number, number, number], count: 7, batchSize: 3, seed: 11 };
    const a = await sampleMany({ ...common, sampler: identity, sampleOptions: { steps: 10 } });
    const b = await sampleMany({ ...common, sampler: identity, sampleOptions: { variance: 'beta' } });
    expect(a.length).toBe(7 * 784);
    expect(Array.from(b)).toEqual(Array.from(a));
    const before = tf.memory().numTensors;
    const x = await sampleMany({ ...common, sampler: samplers.ddim, sampleOptions: { steps: 3, eta: 1 } });
    expect(tf.memory().numTensors).toBe(before);
    expect(x.length).toBe(7 * 784);
    expect(x.every(Number.isFinite)).toBe(true);
    const again = await sampleMany({ ...common, sampler: samplers.ddim, sampleOptions: { steps: 3, eta: 1 } });
    expect(Array.from(again)).toEqual(Array.from(x));
    unet.dispose();
  });

  it('gives the held-out digits an MNIST-FD of zero against themselves, with class statistics of their predictions', async () => {
    const clf = loadClassifierFromDir(join(ROOT, 'models', 'classifier-mnist'));
    try {
      const heldOut = await heldOutFeatures(clf, data.test);
      const images = Float32Array.from(data.test.images, (v) => v / 127.5 - 1);
      const m = await digitMetrics({ classifier: clf, heldOut }, images, data.test.count, Int32Array.from(data.test.labels));
      expect(Math.abs(m.fd)).toBeLessThan(1e-6);
      expect(m.conditionAccuracy).toBeGreaterThan(0.95); // classifier-mnist's held-out accuracy is 99 %
      const hist = m.histogram;
      expect(hist.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
      const h = -hist.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0);
      expect(m.classEntropy).toBeCloseTo(h, 12);
      expect(m.classEntropy).toBeLessThanOrEqual(Math.log(10) + 1e-12);
      expect(m.confidentShare).toBeLessThanOrEqual(1);
      expect(m.meanConfidence).toBeGreaterThan(0.9);
    } finally {
      clf.dispose();
    }
  });
});

const SHIPPED = join(ROOT, 'models', 'unet-mnist');
describe.runIf(existsSync(join(SHIPPED, 'model.json')))('the shipped models/unet-mnist', () => {
  it('loads with loadUNet and predicts a finite ε̂ of the input shape', async () => {
    const { unet, schedule, metadata } = await loadUNet('http://models.test/unet-mnist/', folderFetch(SHIPPED));
    expect(metadata.name).toBe('unet-mnist');
    expect(schedule.kind).toBe('linear');
    expect(schedule.T).toBe(1000);
    const x = tf.randomNormal([2, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const t = tf.tensor1d([10, 900], 'int32');
    const eps = unet.model(x, t, metadata.config.numClasses > 0 ? tf.tensor1d([3, metadata.config.numClasses], 'int32') : undefined);
    expect(eps.shape).toEqual([2, 28, 28, 1]);
    expect((await eps.data()).every(Number.isFinite)).toBe(true);
    tf.dispose([x, t, eps]);
    unet.dispose();
  });

  it('rejects a truncated copy of its weights.bin with an error naming the file', async () => {
    const dir = join(root, 'truncated');
    rmSync(dir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    copyFileSync(join(SHIPPED, 'model.json'), join(dir, 'model.json'));
    const bin = readFileSync(join(SHIPPED, 'weights.bin'));
    writeFileSync(join(dir, 'weights.bin'), bin.subarray(0, bin.length - 100));
    await expect(loadUNet('http://models.test/unet-mnist/', folderFetch(dir))).rejects.toThrow(/weights\.bin.*truncated/);
  });
});
