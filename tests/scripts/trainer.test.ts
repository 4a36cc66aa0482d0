import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/core/nn/registerGradients';
import type { MnistData } from '../../src/core/data';
import { countParams } from '../../src/core/io';
import { loadCheckpoint, saveCheckpoint } from '../../scripts/lib/checkpoint';
import type { JobContext, JobModel, TrainJob } from '../../scripts/lib/job';
import { resolveConfig, runTraining } from '../../scripts/lib/trainer';
import { loadWeightsFromDir, saveWeightsToDir } from '../../scripts/lib/weights-file';
import { defaultOutDir, listJobs, loadJob } from '../../scripts/train';
import { useBackend } from '../helpers/backends';

/**
 * A toy job: fit y = x·w_true + b_true with a linear model, where every batch of x and the noise on y come
 * from ctx.rng — so an exact resume needs the RNG state, the weights and Adam's slots all restored.
 */
const W_TRUE = [1.5, -2, 0.5];
function toyJob(opts: { nanAt?: number } = {}): TrainJob {
  return {
    name: 'toy',
    title: 'Toy regression',
    summary: 'Fits a line.',
    data: 'Random numbers.',
    architecture: () => 'y = x·w + b',
    defaults: { steps: 12, batchSize: 8, learningRate: 0.05, seed: 3, checkpointEvery: 4, logEvery: 2, options: { noise: 0.1 } },
    quantize: null,
    learningRate: (step, config) => config.learningRate / (1 + 0.1 * step),
    create(ctx: JobContext): JobModel {
      const [w, b, ema] = tf.tidy(() => [tf.variable(tf.zeros([3, 1])), tf.variable(tf.zeros([1])), tf.variable(tf.zeros([3, 1]), false)]);
      const noise = Number(ctx.config.options.noise);
      return {
        params: { w, b },
        extraState: { ema },
        metadata: () => ({ kind: 'toy' }),
        loss(step) {
          const n = ctx.config.batchSize;
          const xs = Array.from({ length: n * 3 }, () => ctx.rng.normal());
          const ys = Array.from({ length: n }, (_, i) => W_TRUE.reduce((s, wt, k) => s + wt * xs[i * 3 + k], 0) + 0.7 + noise * ctx.rng.normal());
          const x = tf.tensor2d(xs, [n, 3]);
          const y = tf.tensor2d(ys, [n, 1]);
          const pred = tf.add(tf.matMul(x, w), b);
          const loss = tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar;
          return step === opts.nanAt ? (tf.mul(loss, NaN) as tf.Scalar) : loss;
        },
        trainStep(step, optimizer) {
          const loss = optimizer.minimize(() => this.loss(step));
          tf.tidy(() => ema.assign(tf.add(tf.mul(ema, 0.5), tf.mul(w, 0.5))));
          return loss;
        },
        async evaluate() {
          const wv = await w.data();
          const err = Math.sqrt(W_TRUE.reduce((s, v, k) => s + (v - wv[k]) ** 2, 0));
          return { rows: [{ metric: 'weight error', value: err }], summary: { weightError: err } };
        },
        async samples() {
          return { images: new Uint8Array(4 * 4 * 2).fill(200), count: 2, height: 4, width: 4, cols: 2, caption: 'Two squares.' };
        },
        dispose() {
          [w, b, ema].forEach((v) => v.dispose());
        },
      };
    },
  };
}

const ROOT_DIR = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const fakeData = {} as MnistData; // the toy job draws its own numbers
let root: string;

beforeAll(async () => {
  await useBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'trainer-test-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const run = (name: string, extra: Partial<Parameters<typeof runTraining>[0]> = {}) =>
  runTraining({ job: toyJob(), data: fakeData, backend: 'cpu', checkpointDir: join(root, name, 'ckpt'), outDir: join(root, name, 'out'), ...extra });

async function finalParams(dir: string) {
  const ck = loadCheckpoint(dir)!;
  return { w: Array.from(ck.params.w.data), b: Array.from(ck.params.b.data), ema: Array.from(ck.extra.ema.data), ck };
}

describe('runTraining', () => {
  it('resumed after an interruption, ends bit for bit where an uninterrupted run ends', async () => {
    const straight = await run('straight');
    expect(straight.completed).toBe(true);
    const first = await run('resumed', { maxSessionSteps: 5 });
    expect(first.completed).toBe(false);
    expect(first.step).toBe(5);
    expect(existsSync(join(root, 'resumed', 'out'))).toBe(false);
    const second = await run('resumed', { resume: true });
    expect(second.completed).toBe(true);
    const a = await finalParams(join(root, 'straight', 'ckpt'));
    const b = await finalParams(join(root, 'resumed', 'ckpt'));
    expect(b.w).toEqual(a.w);
    expect(b.b).toEqual(a.b);
    expect(b.ema).toEqual(a.ema);
    expect(b.ck.rngState).toBe(a.ck.rngState);
    expect(b.ck.step).toBe(12);
    expect(Object.keys(a.ck.optimizer)).toEqual(['iter', 'm/w', 'm/b', 'v/w', 'v/b']);
    expect(a.ck.optimizer.iter.data[0]).toBe(12);
    // The regression actually learned something.
    expect(straight.evaluation!.summary.weightError).toBeLessThan(Math.hypot(...W_TRUE) * 0.8);
  });

  it('resumes a checkpoint in the older tf.train.adam layout (extra accBeta keys) and names a missing slot', async () => {
    await run('legacy', { maxSessionSteps: 4, outDir: null });
    const dir = join(root, 'legacy', 'ckpt');
    const ck = loadCheckpoint(dir)!;
    const straight = await finalParams(join(root, 'straight', 'ckpt'));
    // tf.train.adam also stored β₁ᵗ and β₂ᵗ; the step count makes them redundant, and they are ignored.
    saveCheckpoint(dir, { ...ck, optimizer: { ...ck.optimizer, accBeta1: { shape: [], data: Float32Array.of(0.9 ** 4) }, accBeta2: { shape: [], data: Float32Array.of(0.999 ** 4) } } });
    const done = await run('legacy', { resume: true, outDir: null });
    expect(done.step).toBe(12);
    expect((await finalParams(dir)).w).toEqual(straight.w);
    const { 'v/b': _dropped, ...rest } = ck.optimizer;
    void _dropped;
    saveCheckpoint(dir, { ...ck, optimizer: rest });
    await expect(run('legacy', { resume: true, outDir: null })).rejects.toThrow(/legacy\/ckpt \(optimizer\): the optimiser state lacks v\/b/);
  });

  it('records the mean loss every logEvery steps and frees every tensor it made', async () => {
    const before = tf.memory().numTensors;
    const r = await run('memory', { outDir: null });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.lossHistory.map(([s]) => s)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(r.lossHistory[5][1]).toBeLessThan(r.lossHistory[0][1]);
  });

  it('refuses to overwrite a checkpoint unless told --resume or --fresh, and --fresh starts over', async () => {
    await run('guard', { maxSessionSteps: 4, outDir: null });
    await expect(run('guard', { outDir: null })).rejects.toThrow(/a checkpoint of toy at step 4 exists .*pass --resume to continue it or --fresh to start over/);
    const fresh = await run('guard', { fresh: true, maxSessionSteps: 2, outDir: null });
    expect(fresh.step).toBe(2);
    // --steps extends a resumed run; other overrides are ignored in favour of the checkpoint's config.
    const logs: string[] = [];
    const more = await run('guard', { resume: true, overrides: { steps: 6, learningRate: 1 }, outDir: null, log: (s) => logs.push(s) });
    expect(more.step).toBe(6);
    expect(more.config.learningRate).toBe(0.05);
    expect(logs.join('\n')).toMatch(/ignored learningRate/);
  });

  it('stops with a clear error when the loss becomes NaN, keeping the last good checkpoint', async () => {
    await expect(runTraining({ job: toyJob({ nanAt: 6 }), data: fakeData, backend: 'cpu', checkpointDir: join(root, 'nan', 'ckpt'), outDir: null })).rejects.toThrow(
      /toy: the loss became NaN by step 8; the last checkpoint .* is kept/,
    );
    expect(loadCheckpoint(join(root, 'nan', 'ckpt'))!.step).toBe(4);
  });

  it('exports model.json + weights, config.json, loss.svg, samples.png and a model card', async () => {
    const out = join(root, 'straight', 'out');
    expect(readdirSync(out).sort()).toEqual(['README.md', 'config.json', 'loss.svg', 'model.json', 'samples.png', 'weights.bin']);
    const { weights, metadata } = loadWeightsFromDir(out);
    expect(Object.keys(weights)).toEqual(['w', 'b']);
    expect(metadata).toEqual({ model: 'toy', kind: 'toy' });
    expect(countParams(weights)).toBe(4);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.steps).toBe(12);
    expect(config.paramCount).toBe(4);
    expect(config.evaluation.weightError).toBeGreaterThan(0);
    expect(config.lossHistory.length).toBe(6);
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toContain('Parameters: **4**');
    expect(card).toContain('| weight error |');
    expect(card).toContain('Two squares.');
    expect(card).toMatch(/\| README\.md \| \d/);
    expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg/);
  });
});

describe('checkpoints and weight files', () => {
  it('round-trip the state and leave no temporary folders behind', () => {
    const dir = join(root, 'ck', 'a');
    const state = {
      job: 'x',
      step: 3,
      rngState: 123456789,
      config: resolveConfig(toyJob().defaults),
      lossHistory: [[2, 0.5]] as [number, number][],
      elapsedMs: 1234,
      backend: 'cpu',
      params: { 'layer/w': { shape: [2], data: Float32Array.of(1, -1) } },
      optimizer: { iter: { shape: [], data: Float32Array.of(3) } },
      extra: {},
    };
    saveCheckpoint(dir, state);
    saveCheckpoint(dir, { ...state, step: 4 });
    const back = loadCheckpoint(dir)!;
    expect(back.step).toBe(4);
    expect(back.rngState).toBe(123456789);
    expect(Array.from(back.params['layer/w'].data)).toEqual([1, -1]);
    expect(back.optimizer.iter.data[0]).toBe(3);
    expect(readdirSync(join(root, 'ck'))).toEqual(['a']);
    expect(loadCheckpoint(join(root, 'ck', 'none'))).toBeNull();
  });

  it('name the file at fault when it is corrupt', () => {
    const dir = join(root, 'wf');
    saveWeightsToDir(dir, { k: { shape: [4], data: Float32Array.of(1, 2, 3, 4) } });
    expect(Array.from(loadWeightsFromDir(dir).weights.k.data)).toEqual([1, 2, 3, 4]);
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(10));
    expect(() => loadWeightsFromDir(dir)).toThrow(`weights.bin (listed in ${join(dir, 'model.json')}): truncated: 10 bytes, the manifest needs 16`);
    writeFileSync(join(dir, 'model.json'), '{"weightsManifest": ');
    expect(() => loadWeightsFromDir(dir)).toThrow(/model\.json: invalid JSON/);
    rmSync(join(dir, 'model.json'));
    expect(() => loadWeightsFromDir(dir)).toThrow(/model\.json: no such file/);
  });
});

describe('the job registry', () => {
  it('lists the job files and loads one by name, rejecting unknown names', async () => {
    expect(listJobs()).toContain('classifier-mnist');
    const job = await loadJob('classifier-mnist');
    expect(job.name).toBe('classifier-mnist');
    expect(job.defaults.steps).toBeGreaterThan(0);
    await expect(loadJob('no-such-model')).rejects.toThrow(/unknown model "no-such-model"; available: .*classifier-mnist/);
    await expect(loadJob('../train')).rejects.toThrow(/unknown model/);
    // Without --out a job exports to models/<name>, except the two stages of latent-mnist, which go into its folders.
    expect(relative(ROOT_DIR, defaultOutDir(job))).toBe(join('models', 'classifier-mnist'));
    expect(relative(ROOT_DIR, defaultOutDir(await loadJob('latent-mnist')))).toBe(join('models', 'latent-mnist', 'denoiser'));
    expect(relative(ROOT_DIR, defaultOutDir(await loadJob('latent-mnist-ae')))).toBe(join('models', 'latent-mnist', 'autoencoder'));
  });
});
