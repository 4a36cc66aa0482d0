import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/core/backends';
import '../../src/core/nn/registerGradients';
import { registerWasmGradKernels } from '../../src/core/kernels';
import { loadClip } from '../../src/core/clip';
import { decodeMnistFile, type MnistData } from '../../src/core/data';
import job from '../../scripts/jobs/clip-mnist';
import { clipCardRows } from '../../scripts/lib/clipCard';
import { reevaluateModel } from '../../scripts/lib/modelFolder';
import { runTraining } from '../../scripts/lib/trainer';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { useBackend } from '../helpers/backends';

let data: MnistData;
let root: string;

beforeAll(async () => {
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
  root = mkdtempSync(join(tmpdir(), 'clip-job-'));
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await useBackend('cpu');
});

const tiny = { width: 16, layers: 1, heads: 2, embedDim: 16 };

describe('clip-mnist job', () => {
  it('warms the learning rate up linearly, then decays it by a cosine to the floor', () => {
    const c = job.defaults;
    const warm = Number(c.options.warmupSteps);
    const lr = (s: number) => job.learningRate!(s, c);
    expect(lr(0)).toBeCloseTo(c.learningRate / warm, 12);
    expect(lr(warm)).toBeCloseTo(c.learningRate, 12);
    expect(lr(c.steps)).toBeCloseTo(c.learningRate * Number(c.options.finalLrFraction), 12);
  });

  it('lowers the contrastive loss of its own batches within a few dozen steps, leaking no tensors', async () => {
    await initBackend({ order: ['wasm'] });
    registerWasmGradKernels();
    const before = tf.memory().numTensors;
    const r = await runTraining({
      job,
      data,
      backend: 'wasm',
      checkpointDir: join(root, 'ckpt-loss'),
      outDir: null,
      overrides: { steps: 60, batchSize: 32, logEvery: 10, checkpointEvery: 1000, learningRate: 3e-3, options: { ...tiny, warmupSteps: 5 } },
    });
    expect(tf.memory().numTensors).toBe(before);
    const losses = r.lossHistory.map(([, l]) => l);
    expect(losses.length).toBeGreaterThanOrEqual(5);
    // Chance level for a batch of 32 with soft targets is about ln 32 = 3.47; learning takes it clearly below.
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] - 0.3);
  }, 120_000);

  it('exports a model the browser loader reads back, with its style bins and vocabulary, and a card of measured rows', async () => {
    await initBackend({ order: ['wasm'] });
    const out = join(root, 'model');
    const r = await runTraining({
      job,
      data,
      backend: 'wasm',
      checkpointDir: join(root, 'ckpt'),
      outDir: out,
      overrides: { steps: 2, batchSize: 8, logEvery: 1, checkpointEvery: 2, options: tiny },
    });
    expect(r.completed).toBe(true);
    const s = r.evaluation!.summary;
    for (const k of ['zeroShotDigitAccuracy', 'zeroShot_thickness', 'zeroShot_slant', 'zeroShot_width', 'recallAt1', 'recallAt5']) {
      expect(s[k], k).toBeGreaterThanOrEqual(0);
      expect(s[k], k).toBeLessThanOrEqual(1);
    }
    expect(s.recallAt5).toBeGreaterThanOrEqual(s.recallAt1);
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    for (const row of clipCardRows(s)) expect(card).toContain(`| ${row.metric} |`);
    // --evaluate-only measures the shipped weights again and rewrites what the card reports, weights untouched.
    const configFile = join(out, 'config.json');
    const weightsBefore = readFileSync(join(out, 'weights.bin'));
    const stale = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify({ ...stale, evaluation: { ...stale.evaluation, zeroShotDigitAccuracy: 2 } }));
    const again = await reevaluateModel(job, out, data, 'wasm');
    expect(again.summary.zeroShotDigitAccuracy).toBe(s.zeroShotDigitAccuracy);
    expect(JSON.parse(readFileSync(configFile, 'utf8')).evaluation.zeroShotDigitAccuracy).toBe(s.zeroShotDigitAccuracy);
    expect(readFileSync(join(out, 'weights.bin')).equals(weightsBefore)).toBe(true);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).not.toContain('200.0 %');
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => res.end(readFileSync(join(out, (req.url ?? '/').slice(1)))));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as import('node:net').AddressInfo).port;
    try {
      const { clip, metadata } = await loadClip(`http://127.0.0.1:${port}/`);
      expect(clip.config.width).toBe(16);
      const bins = metadata.styleBins as Record<string, [number, number]>;
      for (const a of ['thickness', 'slant', 'width']) expect(bins[a][0]).toBeLessThan(bins[a][1]);
      expect((metadata.vocab as string[]).slice(0, 3)).toEqual(['<pad>', '<unk>', '<eos>']);
      clip.dispose();
    } finally {
      server.close();
    }
  }, 120_000);
});
