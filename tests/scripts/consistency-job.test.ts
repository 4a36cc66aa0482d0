/**
 * The consistency-mnist training job (scripts/jobs/consistency-mnist.ts) with a tiny teacher U-Net written to a temp
 * folder: the student and target start as the teacher's weights, the loss is distillationLoss of the same draws
 * replayed from the same stream, shards carry the target weights to the helper threads, the target follows the student
 * with decay μ, the held-out probe, a two-thread run through the training driver that loadUNet reads back, and the eval
 * section's table. No wall-clock assertions.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedAdam } from '../../src/core/adam';
import { initBackend } from '../../src/core/backends';
import { CONSISTENCY_GRID_SIZE, CONSISTENCY_T_MAX, consistencyGrid, distillationLoss, drawDistillation, pseudoHuberC } from '../../src/core/consistency';
import { batchTensor, decodeMnistFile, labelsOf, SeededRandom, type MnistData } from '../../src/core/data';
import { weightsFromTensors } from '../../src/core/io';
import { loadUNet } from '../../src/core/models';
import '../../src/core/nn/registerGradients';
import { makeSchedule } from '../../src/core/schedules';
import { createUNet, type UNet, type UNetConfig } from '../../src/core/unet';
import job, { heldOutConsistencyGap, PROBE_INDICES } from '../../scripts/jobs/consistency-mnist';
import { consistencyTables } from '../../scripts/eval/consistency';
import type { JobModel, TrainConfig } from '../../scripts/lib/job';
import { resolveConfig, runTraining } from '../../scripts/lib/trainer';
import { saveWeightsToDir } from '../../scripts/lib/weights-file';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { jobModuleUrl } from '../../scripts/train';
import { useBackend } from '../helpers/backends';
import { folderFetch } from '../helpers/folderFetch';

const TINY = { channels: '8,8', numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 10 };
const TINY_CONFIG: UNetConfig = { inputShape: [28, 28, 1], channels: [8, 8], numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 10 };
const BATCH = 4;
const schedule = makeSchedule('linear', 1000);

let data: MnistData;
let root: string;
let teacherDir: string;
let teacher: UNet;


const tinyConfig = (extra: Partial<TrainConfig> = {}): TrainConfig =>
  resolveConfig(job.defaults, { batchSize: BATCH, steps: 2, ...extra, options: { ...TINY, teacher: teacherDir, warmupSteps: 1, emaDecay: 0.5, targetDecay: 0.9 } });

/** A U-Net holding a job model's current parameters (built independently of the job's own). */
async function copyOf(params: Record<string, tf.Variable>, prefix = ''): Promise<UNet> {
  const u = createUNet(TINY_CONFIG, 123);
  const w: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(params)) w[k.slice(prefix.length)] = Float32Array.from(await v.data());
  u.setWeights(w);
  return u;
}

beforeAll(async () => {
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
  root = mkdtempSync(join(tmpdir(), 'consistency-job-'));
  await initBackend({ order: ['wasm'] });
  teacher = createUNet(TINY_CONFIG, 77);
  teacherDir = join(root, 'teacher');
  saveWeightsToDir(teacherDir, await weightsFromTensors(Object.fromEntries(teacher.params)), {
    metadata: { name: 'unet-mnist', config: TINY_CONFIG, schedule: { kind: 'linear', T: 1000 }, prediction: 'eps', nullClass: 10 },
  });
});
afterAll(async () => {
  teacher.dispose();
  rmSync(root, { recursive: true, force: true });
  await useBackend('cpu');
});

describe('consistency-mnist job', () => {
  it('starts the student and the target as the teacher, bit for bit; the metadata describes the consistency model', async () => {
    const model = await job.create({ config: tinyConfig(), data, rng: new SeededRandom(1), backend: 'wasm' });
    try {
      for (const [k, v] of teacher.params) {
        const want = Array.from(await v.data());
        expect(Array.from(await model.params[k].data())).toEqual(want);
        expect(Array.from(await model.extraState![`target/${k}`].data())).toEqual(want);
      }
      const meta = model.metadata() as Record<string, unknown>;
      expect(meta.prediction).toBe('consistency');
      expect(meta.config).toEqual(TINY_CONFIG);
      expect(meta.schedule).toEqual({ kind: 'linear', T: 1000 });
      const c = meta.consistency as { gridSize: number; sigmaData: number; grid: number[]; sigmaMin: number };
      expect(c.grid).toEqual(consistencyGrid(schedule, CONSISTENCY_GRID_SIZE, CONSISTENCY_T_MAX));
      expect(c.gridSize).toBe(CONSISTENCY_GRID_SIZE);
      expect((meta.consistency as { tMax: number }).tMax).toBe(CONSISTENCY_T_MAX);
      expect(c.sigmaData).toBe(0.5);
      expect(Object.keys(model.extraState!).sort()).toEqual([...Object.keys(model.params).map((k) => `ema/${k}`), ...Object.keys(model.params).map((k) => `target/${k}`)].sort());
    } finally {
      model.dispose();
    }
  });

  it('computes its loss as distillationLoss of the same draws replayed from the stream, with the teacher and the target network', async () => {
    const config = tinyConfig();
    const rng = new SeededRandom(5);
    const model = await job.create({ config, data, rng, backend: 'wasm' });
    // Move the target away from the student, so that the two roles are told apart.
    tf.tidy(() => {
      for (const [k, v] of Object.entries(model.extraState!)) if (k.startsWith('target/')) v.assign(tf.mul(v, 0.9));
    });
    const student = await copyOf(model.params);
    const target = await copyOf(Object.fromEntries(Object.entries(model.extraState!).filter(([k]) => k.startsWith('target/'))), 'target/');
    try {
      const start = rng.state;
      const l = model.loss(0);
      const got = (await l.data())[0];
      l.dispose();
      const replay = new SeededRandom(1);
      replay.state = start;
      const idx = new Int32Array(BATCH);
      for (let i = 0; i < BATCH; i++) idx[i] = replay.uniformInt(data.train.count);
      const d = drawDistillation(replay, [BATCH, 28, 28, 1], CONSISTENCY_GRID_SIZE, labelsOf(data.train, idx), 10, Number(config.options.pUncond));
      expect(rng.state).toBe(replay.state);
      const x0 = batchTensor(data.train, idx);
      const opts = { grid: consistencyGrid(schedule, CONSISTENCY_GRID_SIZE, CONSISTENCY_T_MAX), schedule, solver: 'heun' as const, distance: { kind: 'pseudoHuber' as const, c: pseudoHuberC(784) }, sigmaData: 0.5, weighting: 'inverseGap' as const };
      const want = distillationLoss(student.model, target.model, teacher.model, x0, d, opts);
      expect(got).toBeCloseTo((await want.data())[0], 4);
      // With the student as its own target the loss differs (the check can fail).
      const self = distillationLoss(student.model, student.model, teacher.model, x0, d, opts);
      expect((await self.data())[0]).not.toBeCloseTo(got, 4);
      tf.dispose([x0, want, self]);
    } finally {
      student.dispose();
      target.dispose();
      model.dispose();
    }
  });

  it('hands every shard the target weights, shards cover the batch, and their mean loss is the whole batch loss', async () => {
    const model = await job.create({ config: tinyConfig(), data, rng: new SeededRandom(8), backend: 'wasm' });
    try {
      const sh = model.sharded!;
      const whole = sh.draw(0);
      const parts = sh.split(whole, 2);
      const targetKeys = Object.keys(model.extraState!).filter((k) => k.startsWith('target/'));
      const flat = (await Promise.all(targetKeys.map(async (k) => Array.from(await model.extraState![k].data())))).flat();
      for (const p of parts) expect(Array.from(p.target as Float32Array)).toEqual(flat);
      for (const k of ['idx', 'index', 'classes', 'eps'] as const) expect(parts.flatMap((p) => Array.from(p[k] as ArrayLike<number>))).toEqual(Array.from(whole[k] as ArrayLike<number>));
      const before = tf.memory().numTensors;
      const lw = sh.loss(whole);
      const lp = parts.map((p) => sh.loss(p));
      const [w, a, b] = await Promise.all([lw, ...lp].map(async (t) => (await t.data())[0]));
      expect((a + b) / 2).toBeCloseTo(w, 4);
      tf.dispose([lw, ...lp]);
      expect(tf.memory().numTensors).toBe(before);
      // A shard's target weights are what its loss uses: other weights, another loss.
      const changed = { ...parts[0], target: (parts[0].target as Float32Array).map((v) => v * 0.5) };
      const lc = sh.loss(changed);
      expect((await lc.data())[0]).not.toBeCloseTo(a, 4);
      lc.dispose();
    } finally {
      model.dispose();
    }
  });

  it('after each step the target moves to μ·target + (1 − μ)·student; train steps are finite and leak nothing', async () => {
    const config = tinyConfig({ learningRate: 3e-3 });
    const model = await job.create({ config, data, rng: new SeededRandom(2), backend: 'wasm' });
    const opt = new FusedAdam(Object.values(model.params), { lr: 3e-3 });
    try {
      const key = 'out.conv.w';
      let before = 0;
      for (let s = 0; s < 3; s++) {
        if (s === 1) before = tf.memory().numTensors;
        const t0 = Float32Array.from(await model.extraState![`target/${key}`].data());
        const l = model.trainStep!(s, opt);
        expect(Number.isFinite((await l.data())[0])).toBe(true);
        l.dispose();
        const w = await model.params[key].data();
        const t1 = await model.extraState![`target/${key}`].data();
        for (let i = 0; i < w.length; i += 17) expect(t1[i]).toBeCloseTo(0.9 * t0[i] + 0.1 * w[i], 6);
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      opt.dispose();
      model.dispose();
    }
  });

  it('probes the held-out consistency gap; a model is its own target there, so the teacher measured against itself gives its own gap', async () => {
    const got = await heldOutConsistencyGap(teacher, teacher, data, { grid: consistencyGrid(schedule, 12), schedule, distance: { kind: 'pseudoHuber', c: pseudoHuberC(784) } }, 6, [0, 10]);
    expect(got).toHaveLength(2);
    expect(got.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    expect(got[1]).not.toBeCloseTo(got[0], 3);
  });

  it('trains on two threads through the driver, exports, and loadUNet reads the consistency model back', async () => {
    const out = join(root, 'out');
    const before = tf.memory().numTensors;
    const r = await runTraining({
      job,
      data,
      backend: 'wasm',
      checkpointDir: join(root, 'ckpt'),
      outDir: out,
      jobModule: jobModuleUrl('consistency-mnist'),
      overrides: { steps: 2, batchSize: BATCH, logEvery: 1, checkpointEvery: 1, options: { ...TINY, teacher: teacherDir, probeCount: 4 } },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.completed).toBe(true);
    expect(r.config.threads).toBe(2);
    for (const k of PROBE_INDICES) expect(Number.isFinite(r.evaluation!.summary[`heldOutGap_n${k}`])).toBe(true);
    const loaded = await loadUNet('http://models.test/consistency-mnist/', folderFetch(out));
    expect((loaded.metadata as unknown as Record<string, unknown>).prediction).toBe('consistency');
    expect(loaded.unet.config).toEqual(TINY_CONFIG);
    loaded.unet.dispose();
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('pseudo-Huber');
  });
});

describe('consistency eval table (scripts/eval/consistency.ts)', () => {
  it('lists every row with its FD, confident share and grid', () => {
    const text = consistencyTables({
      fdFloor: 4.17,
      rows: {
        'consistency-nfe1': { model: 'consistency-mnist', sampler: 'consistency', label: 'Consistency model', nfe: 1, steps: 1, timesteps: [1000], count: 1000, fd: 12.345, confidentShare: 0.912, conditionAccuracy: 0.97, source: 'computed' },
        'teacher-ddim-nfe1': { model: 'unet-mnist', sampler: 'ddim', label: 'DDIM', nfe: 1, steps: 1, spacing: 'trailing', count: 1000, fd: 2100, source: 'computed' },
      },
    });
    expect(text).toContain('| consistency-mnist | Consistency model | 1 | 12.35 | 91.2 % | 97.0 % | t = 1000 |');
    expect(text).toContain('| unet-mnist | DDIM | 1 | 2100.00 | — | — | trailing |');
    expect(text).toContain('4.17');
  });
});
