import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/core/nn/registerGradients';
import { decodeMnistFile, SeededRandom, type MnistData } from '../../src/core/data';
import unetJob from '../../scripts/jobs/unet-mnist';
import { loadCheckpoint } from '../../scripts/lib/checkpoint';
import type { JobModel, Shard, TrainJob } from '../../scripts/lib/job';
import { assignFlat, flatGradient, flatValues, splitShard } from '../../scripts/lib/parallel';
import { resolveConfig, runTraining } from '../../scripts/lib/trainer';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { maxAbsDiff, useBackend } from '../helpers/backends';
import toyJob, { W_TRUE } from './fixtures/sharded-toy-job';

const TOY_MODULE = new URL('./fixtures/sharded-toy-job.ts', import.meta.url).href;
const fakeData = {} as MnistData; // the toy job draws its own numbers
let root: string;

beforeAll(async () => {
  await useBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'parallel-test-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('splitShard', () => {
  it('cuts every per-example array into equal consecutive shards that concatenate back to the draw', () => {
    const d: Shard = { idx: Int32Array.from([0, 1, 2, 3, 4, 5]), eps: Float32Array.from({ length: 12 }, (_, i) => i / 2), none: undefined };
    const parts = splitShard(d, 3, 6);
    expect(parts).toHaveLength(3);
    expect(parts.map((p) => Array.from(p.idx!))).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(parts.map((p) => Array.from(p.eps!))).toEqual([[0, 0.5, 1, 1.5], [2, 2.5, 3, 3.5], [4, 4.5, 5, 5.5]]);
    expect(parts[1].idx).toBeInstanceOf(Int32Array);
    expect('none' in parts[0] && parts[0].none === undefined).toBe(true);
    // Copies, not views: a shard posted to a thread must not drag the whole draw's buffer along.
    expect(parts[1].eps!.buffer).not.toBe(d.eps!.buffer);
  });

  it('refuses uneven shards and arrays that are not whole rows of the batch', () => {
    expect(() => splitShard({ idx: new Int32Array(6) }, 4, 6)).toThrow(/cannot split a batch of 6 into 4 equal shards/);
    expect(() => splitShard({ eps: new Float32Array(7) }, 2, 6)).toThrow(/draw eps has 7 values, not a multiple of the batch \(6\)/);
  });
});

describe('flat parameter vectors', () => {
  it('round-trip through flatValues and assignFlat, in variable order, and reject a wrong length', async () => {
    const a = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    const b = tf.variable(tf.tensor1d([5]));
    try {
      const flat = await flatValues([a, b]);
      expect(Array.from(flat)).toEqual([1, 2, 3, 4, 5]);
      const before = tf.memory().numTensors;
      assignFlat([a, b], Float32Array.from([9, 8, 7, 6, 5]));
      expect(tf.memory().numTensors).toBe(before);
      expect(Array.from(await a.data())).toEqual([9, 8, 7, 6]);
      expect(a.shape).toEqual([2, 2]);
      expect(() => assignFlat([a, b], new Float32Array(4))).toThrow(/expected 5 values for 2 variables, got 4/);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('data-parallel gradients of the unet-mnist step', () => {
  it('average over two shards to the whole batch’s gradient (min-SNR weights included), leaking no tensors', async () => {
    prepareData();
    const data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
    const config = resolveConfig(unetJob.defaults, {
      batchSize: 8,
      options: { channels: '8,8', numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 10, inputPerturbation: 0.1 },
    });
    const model: JobModel = await unetJob.create({ config, data, rng: new SeededRandom(3), backend: 'cpu' });
    try {
      const s = model.sharded!;
      const vars = Object.values(model.params);
      const draw = s.draw(0);
      expect(draw.xi).toBeDefined(); // input perturbation drew ξ, which must travel with its shard too
      const before = tf.memory().numTensors;
      const whole = flatGradient(() => s.loss(draw), vars);
      const halves = s.split(draw, 2).map((d) => flatGradient(() => s.loss(d), vars));
      const [g, g0, g1] = await Promise.all([whole.grad.data(), halves[0].grad.data(), halves[1].grad.data()]);
      const mean = Float64Array.from(g, (_, i) => (g0[i] + g1[i]) / 2);
      const scale = Math.max(...Array.from(g, Math.abs));
      expect(scale).toBeGreaterThan(0);
      expect(maxAbsDiff(mean, g)).toBeLessThan(1e-5 * scale);
      // The halves differ from each other (they are different examples), so the test can fail.
      expect(maxAbsDiff(g0, g1)).toBeGreaterThan(1e-3 * scale);
      const [l, l0, l1] = await Promise.all([whole.value.data(), halves[0].value.data(), halves[1].value.data()]);
      expect((l0[0] + l1[0]) / 2).toBeCloseTo(l[0], 5);
      for (const r of [whole, ...halves]) {
        r.value.dispose();
        r.grad.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });
});

describe('runTraining on two threads', () => {
  const run = (name: string, threads: number, extra: Partial<Parameters<typeof runTraining>[0]> = {}) =>
    runTraining({ job: toyJob, data: fakeData, backend: 'cpu', checkpointDir: join(root, name), outDir: null, jobModule: TOY_MODULE, overrides: { threads }, ...extra });
  const params = (name: string) => {
    const ck = loadCheckpoint(join(root, name))!;
    return [...ck.params.w.data, ...ck.params.b.data];
  };

  it('ends where one thread ends on the same batches, resumes, and frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const one = await run('one', 1);
    expect(tf.memory().numTensors).toBe(before);
    const two = await run('two', 2, { maxSessionSteps: 4 });
    expect(two.completed).toBe(false);
    const resumed = await run('two', 2, { resume: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(resumed.completed).toBe(true);
    expect(resumed.config.threads).toBe(2);
    const p1 = params('one');
    const p2 = params('two');
    expect(maxAbsDiff(p1, p2)).toBeLessThan(1e-5);
    // It learned: the weights moved towards W_TRUE from zero.
    expect(Math.hypot(...W_TRUE.map((w, i) => w - p2[i]))).toBeLessThan(0.8 * Math.hypot(...W_TRUE));
    // The recorded losses are the batch means, whichever thread computed which half.
    expect(resumed.lossHistory.map(([s]) => s)).toEqual(one.lossHistory.map(([s]) => s));
    for (let i = 0; i < one.lossHistory.length; i++) expect(resumed.lossHistory[i][1]).toBeCloseTo(one.lossHistory[i][1], 4);
  });

  it('refuses a batch that does not split evenly, and a job without a sharded step', async () => {
    await expect(run('uneven', 3)).rejects.toThrow(/batchSize \(8\) must be a multiple of config.threads \(3\)/);
    const unsharded: TrainJob = { ...toyJob, create: async (ctx) => ({ ...(await toyJob.create(ctx)), sharded: undefined }) };
    const before = tf.memory().numTensors;
    await expect(run('unsharded', 2, { job: unsharded })).rejects.toThrow(/sharded-toy cannot train on 2 threads/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checks the thread count in the config: a positive integer that divides the batch', () => {
    expect(resolveConfig(unetJob.defaults).threads).toBe(2);
    expect(resolveConfig(toyJob.defaults).threads).toBeUndefined(); // one thread unless asked
    expect(() => resolveConfig(toyJob.defaults, { threads: 0 })).toThrow(/config.threads must be a positive integer, got 0/);
    expect(() => resolveConfig(toyJob.defaults, { threads: 1.5 })).toThrow(/config.threads must be a positive integer, got 1.5/);
    expect(resolveConfig(toyJob.defaults, { threads: 4 }).threads).toBe(4);
  });

  it('reports a helper thread that fails to build the model, freeing the main thread\'s copy', async () => {
    const before = tf.memory().numTensors;
    await expect(run('badmodule', 2, { jobModule: new URL('./fixtures/missing-job.ts', import.meta.url).href })).rejects.toThrow(/training thread 1: .*missing-job/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
