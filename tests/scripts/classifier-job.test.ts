import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/core/backends';
import '../../src/core/nn/registerGradients';
import { loadClassifier } from '../../src/core/classifier';
import { decodeMnistFile, type MnistData, type Split } from '../../src/core/data';
import job, { shiftedImages } from '../../scripts/jobs/classifier-mnist';
import { runTraining } from '../../scripts/lib/trainer';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { useBackend } from '../helpers/backends';

let data: MnistData;
let root: string;

beforeAll(async () => {
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
  root = mkdtempSync(join(tmpdir(), 'clf-job-'));
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await useBackend('cpu');
});

describe('classifier-mnist job', () => {
  it('shifts digits by whole pixels with zero fill', () => {
    const images = new Uint8Array(784);
    images[10 * 28 + 12] = 200; // one lit pixel at (x 12, y 10)
    const split: Split = { images, labels: Uint8Array.of(4), count: 1 };
    const draws = [0.99, 0.0]; // dx = +2, dy = −2 for maxShift 2
    const out = shiftedImages(split, [0], 2, () => draws.shift()!);
    expect(out.labels[0]).toBe(4);
    expect(out.images[8 * 28 + 14]).toBe(200);
    expect(out.images.reduce((s, v) => s + v, 0)).toBe(200);
    const still = shiftedImages(split, [0], 0, () => 0.5);
    expect(Array.from(still.images)).toEqual(Array.from(images));
  });

  it('warms the learning rate up linearly, then decays it by a cosine to the floor', () => {
    const c = job.defaults;
    const warm = Number(c.options.warmupSteps);
    const lr = (s: number) => job.learningRate!(s, c);
    expect(lr(0)).toBeCloseTo(c.learningRate / warm, 12);
    expect(lr(warm - 1)).toBeCloseTo(c.learningRate, 12);
    expect(lr(warm)).toBeCloseTo(c.learningRate, 12);
    expect(lr(c.steps)).toBeCloseTo(c.learningRate * Number(c.options.finalLrFraction), 12);
    const mid = warm + (c.steps - warm) / 2;
    expect(lr(mid)).toBeCloseTo(c.learningRate * (0.05 + 0.95 * 0.5), 10);
  });

  it('trains a few steps on wasm and exports a model the browser loader reads back', async () => {
    await initBackend({ order: ['wasm'] });
    const before = tf.memory().numTensors;
    const out = join(root, 'model');
    const r = await runTraining({
      job,
      data,
      backend: 'wasm',
      checkpointDir: join(root, 'ckpt'),
      outDir: out,
      overrides: { steps: 4, batchSize: 16, logEvery: 2, checkpointEvery: 2, options: { channels1: 4, channels2: 4, features: 8 } },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.completed).toBe(true);
    expect(r.evaluation!.summary.heldOutAccuracy).toBeGreaterThanOrEqual(0);
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toContain('| held-out accuracy |');
    expect(card).toContain('| dense, relu — **the features** | 8 |');
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => res.end(readFileSync(join(out, (req.url ?? '/').slice(1)))));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as import('node:net').AddressInfo).port;
    try {
      const clf = await loadClassifier(`http://127.0.0.1:${port}/`);
      expect(clf.config.features).toBe(8);
      const x = tf.zeros([2, 28, 28, 1]) as tf.Tensor4D;
      const f = clf.features(x);
      expect(f.shape).toEqual([2, 8]);
      [x, f].forEach((t) => t.dispose());
      clf.dispose();
    } finally {
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });
});
