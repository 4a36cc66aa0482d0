/**
 * The flow-mnist training job (scripts/jobs/flow-mnist.ts) with a tiny U-Net: its metadata, a train step, the sharded
 * split, its loss against flowLoss of the same draws replayed from the same stream, the held-out probe, and an export
 * through the training driver that loadUNet reads back. No wall-clock assertions.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedAdam } from '../../src/core/adam';
import { initBackend } from '../../src/core/backends';
import { batchTensor, decodeMnistFile, labelsOf, range, SeededRandom, type MnistData } from '../../src/core/data';
import { drawFlow, flowLoss } from '../../src/core/flow';
import { loadUNet } from '../../src/core/models';
import '../../src/core/nn/registerGradients';
import { fork, makeNoise } from '../../src/core/noise';
import { createUNet, type UNet, type UNetConfig } from '../../src/core/unet';
import job, { heldOutFlowLoss } from '../../scripts/jobs/flow-mnist';
import { unetConfigOf } from '../../scripts/jobs/unet-mnist';
import type { JobModel, Shard, TrainConfig } from '../../scripts/lib/job';
import { resolveConfig, runTraining } from '../../scripts/lib/trainer';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { jobModuleUrl } from '../../scripts/train';
import { flowAsSampler, flowStepsForNfe, gridSpacing, recordPaths, straightMap } from '../../scripts/eval/flow';
import { pathStraightness } from '../../src/core/flowMetrics';
import { FLOW_T } from '../../src/core/flow';
import { samplers } from '../../src/core/samplers';
import { flowEuler, flowGrid } from '../../src/core/samplers/flow';
import { makeSchedule } from '../../src/core/schedules';
import type { Denoiser } from '../../src/core/types';
import { gaussianDenoiser } from '../helpers/analytic';
import { maxAbsDiff, useBackend } from '../helpers/backends';
import { folderFetch } from '../helpers/folderFetch';

const TINY = { channels: '8,8', numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 10 };
const TINY_CONFIG: UNetConfig = { inputShape: [28, 28, 1], channels: [8, 8], numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 10 };
const BATCH = 4;

let data: MnistData;
let root: string;


/** A U-Net holding the job's current parameters (built independently of the job's own). */
async function copyOf(model: JobModel): Promise<UNet> {
  const u = createUNet(TINY_CONFIG, 123);
  const w: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(model.params)) w[k] = Float32Array.from(await v.data());
  u.setWeights(w);
  return u;
}

const tinyConfig = (extra: Partial<TrainConfig> = {}): TrainConfig => resolveConfig(job.defaults, { batchSize: BATCH, steps: 2, ...extra, options: { ...TINY, warmupSteps: 1, emaDecay: 0.5 } });

beforeAll(async () => {
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
  root = mkdtempSync(join(tmpdir(), 'flow-job-'));
  await initBackend({ order: ['wasm'] });
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await useBackend('cpu');
});

describe('flow-mnist job', () => {
  it('builds the tiny U-Net from the options; the metadata says velocity prediction on the straight path', async () => {
    const config = tinyConfig();
    expect(unetConfigOf(config)).toEqual(TINY_CONFIG);
    const model = await job.create({ config, data, rng: new SeededRandom(1), backend: 'wasm' });
    try {
      const meta = model.metadata() as Record<string, unknown>;
      expect(meta.name).toBe('flow-mnist');
      expect(meta.prediction).toBe('velocity');
      expect(String(meta.path)).toMatch(/^straight/);
      expect(meta.config).toEqual(TINY_CONFIG);
      expect(meta.schedule).toEqual({ kind: 'linear', T: 1000 });
      expect(meta.nullClass).toBe(10);
      expect(Object.keys(model.extraState!)).toEqual(Object.keys(model.params).map((k) => `ema/${k}`));
      expect(job.name).toBe('flow-mnist');
      expect(job.defaults.options.minSnrGamma).toBe(0);
    } finally {
      model.dispose();
    }
  });

  it('computes its loss as flowLoss of the same draws, replayed from the same stream (indices, then drawFlow)', async () => {
    const config = tinyConfig();
    const rng = new SeededRandom(5);
    const model = await job.create({ config, data, rng, backend: 'wasm' });
    const copy = await copyOf(model);
    try {
      const start = rng.state;
      const l = model.loss(0);
      const got = (await l.data())[0];
      l.dispose();
      const replay = new SeededRandom(1);
      replay.state = start;
      const idx = new Int32Array(BATCH);
      for (let i = 0; i < BATCH; i++) idx[i] = replay.uniformInt(data.train.count);
      const d = drawFlow(replay, [BATCH, 28, 28, 1], labelsOf(data.train, idx), 10, Number(config.options.pUncond));
      expect(rng.state).toBe(replay.state); // the job drew exactly this much
      const x0 = batchTensor(data.train, idx);
      const want = flowLoss(copy.model, x0, d);
      expect(got).toBeCloseTo((await want.data())[0], 5);
      expect(got).toBeGreaterThan(0);
      tf.dispose([x0, want]);
      // Another position of the stream gives another loss (the check can fail).
      const other = model.loss(0);
      expect((await other.data())[0]).not.toBeCloseTo(got, 5);
      other.dispose();
    } finally {
      copy.dispose();
      model.dispose();
    }
  });

  it('splits a sharded draw into shards that cover the batch, whose mean loss is the whole batch loss', async () => {
    const config = tinyConfig();
    const rng = new SeededRandom(8);
    const model = await job.create({ config, data, rng, backend: 'wasm' });
    try {
      const sh = model.sharded!;
      const start = rng.state;
      const whole = sh.draw(0);
      expect(whole.idx).toHaveLength(BATCH);
      expect(whole.s).toHaveLength(BATCH);
      expect(whole.classes).toHaveLength(BATCH);
      expect(whole.eps).toHaveLength(BATCH * 784);
      const parts = sh.split(whole, 2);
      expect(parts).toHaveLength(2);
      for (const k of ['idx', 's', 'classes', 'eps'] as const) {
        const joined = parts.flatMap((p: Shard) => Array.from(p[k] as ArrayLike<number>));
        expect(joined).toEqual(Array.from(whole[k] as ArrayLike<number>));
        expect(parts[0][k]!.length).toBe(parts[1][k]!.length);
      }
      const lw = sh.loss(whole);
      const lp = parts.map((p) => sh.loss(p));
      const [w, a, b] = await Promise.all([lw, ...lp].map(async (t) => (await t.data())[0]));
      expect((a + b) / 2).toBeCloseTo(w, 5);
      // The sharded draw consumes the stream as the unsplit loss does: replaying gives the same loss.
      rng.state = start;
      const l = model.loss(0);
      expect((await l.data())[0]).toBeCloseTo(w, 6);
      tf.dispose([lw, ...lp, l]);
      expect(() => sh.split(whole, 3)).toThrow(RangeError);
    } finally {
      model.dispose();
    }
  });

  it('runs train steps with finite losses, moves the weights and the EMA, and leaks no tensors', async () => {
    const config = tinyConfig({ learningRate: 3e-3 });
    const model = await job.create({ config, data, rng: new SeededRandom(2), backend: 'wasm' });
    const opt = new FusedAdam(Object.values(model.params), { lr: 3e-3 });
    try {
      const w0 = Float32Array.from(await model.params['out.conv.w'].data());
      const e0 = Float32Array.from(await model.extraState!['ema/out.conv.w'].data());
      let before = 0;
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) {
        if (s === 1) before = tf.memory().numTensors;
        const l = model.trainStep!(s, opt);
        losses.push((await l.data())[0]);
        l.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(losses.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
      const w1 = await model.params['out.conv.w'].data();
      const e1 = await model.extraState!['ema/out.conv.w'].data();
      let dw = 0;
      let de = 0;
      let gap = 0;
      for (let i = 0; i < w1.length; i++) {
        dw += Math.abs(w1[i] - w0[i]);
        de += Math.abs(e1[i] - e0[i]);
        gap += Math.abs(e1[i] - w1[i]);
      }
      expect(dw).toBeGreaterThan(0);
      expect(de).toBeGreaterThan(0);
      expect(gap).toBeGreaterThan(0);
    } finally {
      opt.dispose();
      model.dispose();
    }
  });

  it('probes the held-out loss at fixed s with fixed ε: flowLoss of the first test digits, their labels and makeNoise(4242)', async () => {
    const unet = createUNet(TINY_CONFIG, 4);
    try {
      const got = await heldOutFlowLoss(unet, data, 6, [0.3, 0.9]);
      expect(got).toHaveLength(2);
      const idx = range(6);
      const x0 = batchTensor(data.test, idx);
      const eps = makeNoise(4242).normalArray(6 * 784);
      for (const [i, s] of [0.3, 0.9].entries()) {
        const l = flowLoss(unet.model, x0, { s: new Float32Array(6).fill(s), classes: Int32Array.from(labelsOf(data.test, idx)), eps });
        expect(got[i]).toBeCloseTo((await l.data())[0], 6);
        l.dispose();
      }
      x0.dispose();
      expect(got[0]).not.toBeCloseTo(got[1], 4);
    } finally {
      unet.dispose();
    }
  });

  it('trains 2 steps of batch 4 through the driver on its two threads and exports a folder loadUNet reads back', async () => {
    const out = join(root, 'model');
    const before = tf.memory().numTensors;
    const r = await runTraining({
      job,
      data,
      backend: 'wasm',
      checkpointDir: join(root, 'ckpt'),
      outDir: out,
      jobModule: jobModuleUrl('flow-mnist'),
      overrides: { steps: 2, batchSize: BATCH, logEvery: 1, checkpointEvery: 1, options: { ...TINY, probeCount: 8 } },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.completed).toBe(true);
    expect(r.config.threads).toBe(2);
    const summary = r.evaluation!.summary;
    expect(summary.heldOutFlowMseMean).toBeGreaterThan(0);
    expect(Number.isFinite(summary['heldOutFlowMse_s0.5'])).toBe(true);
    const loaded = await loadUNet('http://models.test/flow-mnist/', folderFetch(out));
    expect(loaded.metadata.name).toBe('flow-mnist');
    expect((loaded.metadata as unknown as Record<string, unknown>).prediction).toBe('velocity');
    expect(loaded.unet.config).toEqual(TINY_CONFIG);
    loaded.unet.dispose();
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('held-out flow-matching loss at s = 0.5');
  });
});

describe('flow eval helpers (scripts/eval/flow.ts)', () => {
  const schedule = makeSchedule('linear', 1000);

  it('spends NFE as the samplers do and keeps every diffusion grid starting at t = T', () => {
    expect([1, 2, 5, 50].map((n) => flowStepsForNfe('euler', n))).toEqual([1, 2, 5, 50]);
    expect([3, 5, 9, 19, 4].map((n) => flowStepsForNfe('heun', n))).toEqual([2, 3, 5, 10, 2]);
    // diffusers' linspace with one step is t = 1: that row runs on the trailing grid (t = 1000) instead.
    expect(gridSpacing(1000, 1, 'linspace')).toBe('trailing');
    expect(gridSpacing(1000, 2, 'linspace')).toBe('linspace');
    expect(gridSpacing(1000, 50, 'linspace')).toBe('linspace');
  });

  it('runs a flow sampler through the Sampler signature with the same result as calling it', async () => {
    const xT = tf.randomNormal([2, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const field: Denoiser = (x, t) => tf.tidy(() => tf.mul(x, t / FLOW_T));
    const a = await flowAsSampler('euler')(field, xT, schedule, { steps: 3, noise: makeNoise(1) });
    const b = await flowEuler(field, xT, { steps: 3 });
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([xT, a, b]);
  });

  it('records straight paths for the single-pair flow and for DDIM on a point mass once mapped onto the straight path; the raw VP path is curved', async () => {
    // Data = the point μ: the ideal ε̂ is (x − √ᾱ μ)/√(1 − ᾱ), so DDIM keeps ε fixed and x_t = √ᾱ μ + √(1 − ᾱ) ε;
    // mapped by 1/(√ᾱ + √(1 − ᾱ)) that is (1 − s)μ + sε, a straight segment. The flow of the same pair is v = (x − μ)/s.
    const mu = 0.3;
    const common = { count: 5, batchSize: 2, seed: 4 };
    const before = tf.memory().numTensors;
    const flowPaths = await recordPaths({
      ...common,
      denoiser: () => (x, t) => tf.tidy(() => tf.div(tf.sub(x, mu), t / FLOW_T)),
      run: (d, xT, onStep) => flowEuler(d, xT, { steps: 6, onStep }),
    });
    const diff = await recordPaths({
      ...common,
      denoiser: () => gaussianDenoiser(schedule, mu, 0),
      run: (d, xT, onStep, noise) => samplers.ddim(d, xT, schedule, { steps: 6, eta: 0, spacing: 'linspace', noise, onStep }),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(flowPaths.count).toBe(5);
    expect(flowPaths.frames).toHaveLength(7);
    expect(flowPaths.times).toEqual(flowGrid(6).map((s) => FLOW_T * s));
    expect(diff.times[0]).toBe(1000);
    expect(diff.times.at(-1)).toBe(0);
    // Frame 0 is x_T of batch b = makeNoise(fork(seed, b)), as sampleMany draws it.
    const xT1 = makeNoise(fork(4, 1)).normalArray(2 * 784);
    expect(maxAbsDiff(flowPaths.frames[0].subarray(2 * 784, 4 * 784), xT1)).toBe(0);
    expect(maxAbsDiff(flowPaths.frames[6], new Float32Array(5 * 784).fill(mu))).toBeLessThan(1e-5);
    const mapped = diff.frames.map((f, k) => straightMap(schedule)(f, diff.times[k]));
    expect(pathStraightness(flowPaths.frames, 5, 784)).toBeLessThan(1e-5);
    expect(pathStraightness(mapped, 5, 784)).toBeLessThan(1e-4);
    expect(pathStraightness(diff.frames, 5, 784)).toBeGreaterThan(0.01);
  });
});
