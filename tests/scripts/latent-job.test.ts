import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/core/backends';
import '../../src/core/nn/registerGradients';
import { loadLatentModel } from '../../src/core/autoencoder';
import { decodeMnistFile, type MnistData } from '../../src/core/data';
import { loadUNet } from '../../src/core/models';
import aeJob from '../../scripts/jobs/latent-mnist-ae';
import denoiserJob, { sampleLatentDigits } from '../../scripts/jobs/latent-mnist';
import { LATENT_MODEL_DIR, normals } from '../../scripts/jobs/_latent';
import { SeededRandom } from '../../src/core/data';
import { runTraining } from '../../scripts/lib/trainer';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { useBackend } from '../helpers/backends';
import latentSection from '../../scripts/eval/latent';
import { heldOutFeatures, loadClassifierFromDir, type EvalContext } from '../../scripts/eval/common';
import { evaluateClassifier } from '../../src/core/classifier';

let data: MnistData;
let root: string;

/** fetch for `disk://<path>` URLs, served from the file system. */
const diskFetch = (async (input: string | URL | Request) => {
  const path = String(input).replace(/^disk:\/\//, '');
  if (!existsSync(path)) return new Response('not found', { status: 404, statusText: 'Not Found' });
  return new Response(new Uint8Array(readFileSync(path)));
}) as typeof fetch;

beforeAll(async () => {
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
  root = mkdtempSync(join(tmpdir(), 'latent-job-'));
  await initBackend({ order: ['wasm'] });
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await useBackend('cpu');
});

describe('latent-mnist helpers', () => {
  it('draws standard normals whose moments match N(0, 1)', () => {
    const v = normals(new SeededRandom(3), 20001);
    let m = 0;
    let s = 0;
    for (const x of v) m += x / v.length;
    for (const x of v) s += (x - m) ** 2 / v.length;
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(s - 1)).toBeLessThan(0.05);
  });
});

describe('latent-mnist jobs', () => {
  it('train both stages a few steps on wasm, export loadable folders, and sample with guidance without leaking', async () => {
    const before = tf.memory().numTensors;
    const aeDir = join(root, 'latent', 'autoencoder');
    const ae = await runTraining({
      job: aeJob,
      data,
      backend: 'wasm',
      checkpointDir: join(root, 'ckpt-ae'),
      outDir: aeDir,
      overrides: { steps: 3, batchSize: 8, logEvery: 1, checkpointEvery: 2, options: { channels0: 4, channels1: 8 } },
    });
    expect(ae.completed).toBe(true);
    expect(ae.lossHistory.length).toBe(3);
    const meta = JSON.parse(readFileSync(join(aeDir, 'model.json'), 'utf8')).userDefinedMetadata;
    expect(meta.latentScale).toBeCloseTo(1 / meta.latentStd, 10);
    expect(readFileSync(join(aeDir, 'README.md'), 'utf8')).toContain('| classifier accuracy on reconstructions |');

    const denDir = join(root, 'latent', 'denoiser');
    const den = await runTraining({
      job: denoiserJob,
      data,
      backend: 'wasm',
      checkpointDir: join(root, 'ckpt-den'),
      outDir: denDir,
      overrides: {
        steps: 3,
        batchSize: 8,
        logEvery: 1,
        checkpointEvery: 2,
        options: { channels: 8, tembDim: 8, autoencoder: aeDir, evalPerClass: 1, evalSteps: 2 },
      },
    });
    expect(den.completed).toBe(true);
    expect(den.evaluation!.summary.requestedClassShareW3).toBeGreaterThanOrEqual(0);
    expect(tf.memory().numTensors).toBe(before);

    const alone = await loadUNet(`disk://${denDir}/`, diskFetch);
    expect(alone.unet.config.inputShape).toEqual([7, 7, 4]);
    expect(alone.metadata.latentScale).toBeCloseTo(meta.latentScale, 10);
    alone.unet.dispose();

    const model = await loadLatentModel(`disk://${join(root, 'latent')}`, diskFetch);
    const afterLoad = tf.memory().numTensors;
    const x = await sampleLatentDigits(model, [0, 1, 2], { w: 2, steps: 3, seed: 5 });
    expect(x.shape).toEqual([3, 28, 28, 1]);
    x.dispose();
    expect(tf.memory().numTensors).toBe(afterLoad);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('evaluates the trained folders over guidance strengths and writes the model card (eval section `latent`)', async () => {
    const classifier = loadClassifierFromDir(join(process.cwd(), 'models', 'classifier-mnist'));
    const before = tf.memory().numTensors;
    const ctx: EvalContext = {
      root: process.cwd(),
      data,
      classifier,
      heldOut: await heldOutFeatures(classifier, data.test),
      options: { model: join(root, 'latent'), ws: '0,2', perClass: 2, steps: 2, batch: 10 },
      backend: 'wasm',
      cacheDir: join(root, 'eval-cache'),
      log: () => {},
    };
    const result = (await latentSection.run(ctx)) as Record<string, any>;
    expect(Object.keys(result.guidance)).toEqual(['w=0', 'w=2']);
    const g2 = result.guidance['w=2'];
    expect(g2.s).toBe(3);
    expect(g2.count).toBe(20);
    expect(g2.perClassShare).toHaveLength(10);
    expect(g2.share).toBeCloseTo(g2.perClassShare.reduce((a: number, b: number) => a + b, 0) / 10, 12);
    expect(g2.perClassFd.every(Number.isFinite)).toBe(true);
    expect(result.fdFloorPerClass).toHaveLength(10);
    const reference = await evaluateClassifier(classifier, data.test);
    expect(result.reconstruction.accuracyOriginal).toBe(reference.accuracy);
    // A second run reads the cached samples and measures the same numbers.
    const again = (await latentSection.run(ctx)) as Record<string, any>;
    expect(again.guidance['w=2'].perClassFd).toEqual(g2.perClassFd);
    const patch = (await latentSection.finish!(result, ctx)) as Record<string, any>;
    expect(patch.targets.requestedDigitAtW2Plus.values['w=2']).toBe(g2.share);
    const card = readFileSync(join(root, 'latent', 'README.md'), 'utf8');
    expect(card).toContain('| 2 | 3 |');
    expect(card).toContain('autoencoder/samples.png');
    expect(tf.memory().numTensors).toBe(before);
    classifier.dispose();
  }, 120_000);

  it('resumes the denoiser from its checkpoint with the same loss history as an uninterrupted run', async () => {
    const aeDir = join(root, 'latent', 'autoencoder');
    const overrides = { steps: 4, batchSize: 4, logEvery: 1, checkpointEvery: 2, options: { channels: 8, tembDim: 8, autoencoder: aeDir } };
    const full = await runTraining({ job: denoiserJob, data, backend: 'wasm', checkpointDir: join(root, 'r-full'), outDir: null, overrides });
    await runTraining({ job: denoiserJob, data, backend: 'wasm', checkpointDir: join(root, 'r-part'), outDir: null, overrides, maxSessionSteps: 2 });
    const resumed = await runTraining({ job: denoiserJob, data, backend: 'wasm', checkpointDir: join(root, 'r-part'), outDir: null, resume: true });
    expect(resumed.lossHistory).toEqual(full.lossHistory);
  }, 120_000);
});

describe.skipIf(!existsSync(join(LATENT_MODEL_DIR, 'denoiser', 'model.json')) || !existsSync(join(LATENT_MODEL_DIR, 'autoencoder', 'model.json')))(
  'the shipped models/latent-mnist',
  () => {
    it('loads and turns guided DDIM samples into finite 28×28 digits in [−1, 1]', async () => {
      const before = tf.memory().numTensors;
      const model = await loadLatentModel(`disk://${LATENT_MODEL_DIR}`, diskFetch);
      expect(model.unet.config.inputShape).toEqual([7, 7, 4]);
      expect(model.latentScale).toBeGreaterThan(0);
      const x = await sampleLatentDigits(model, [3, 7], { w: 3, steps: 4, seed: 1 });
      expect(x.shape).toEqual([2, 28, 28, 1]);
      const v = await x.data();
      expect(v.every((a) => Number.isFinite(a) && a >= -1 && a <= 1)).toBe(true);
      x.dispose();
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }, 60_000);
  },
);
