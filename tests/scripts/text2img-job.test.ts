import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/core/backends';
import '../../src/core/nn/registerGradients';
import { decodeMnistFile, type MnistData } from '../../src/core/data';
import { loadUNet } from '../../src/core/models';
import job from '../../scripts/jobs/text2img-mnist';
import { fileFetch } from '../../scripts/jobs/_latent';
import { runTraining } from '../../scripts/lib/trainer';
import { loadWeightsFromDir } from '../../scripts/lib/weights-file';
import { DATA_FILE, prepareData } from '../../scripts/prepare-data';
import { useBackend } from '../helpers/backends';
import { pathToFileURL } from 'node:url';

let data: MnistData;
let root: string;

beforeAll(async () => {
  prepareData();
  data = await decodeMnistFile(new Uint8Array(readFileSync(DATA_FILE)));
  root = mkdtempSync(join(tmpdir(), 't2i-job-'));
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await useBackend('cpu');
});

describe('text2img-mnist job', () => {
  it('trains a few steps with no leaked tensors, leaves the frozen CLIP untouched, and exports a text U-Net the loader reads back', async () => {
    await initBackend({ order: ['wasm'] });
    const clipBefore = loadWeightsFromDir(join(__dirname, '..', '..', 'models', 'clip-mnist')).weights;
    const before = tf.memory().numTensors;
    const out = join(root, 'model');
    const r = await runTraining({
      job,
      data,
      backend: 'wasm',
      checkpointDir: join(root, 'ckpt'),
      outDir: out,
      overrides: { steps: 3, batchSize: 8, logEvery: 1, checkpointEvery: 3, options: { channels: 16, tembDim: 16, heads: 2, evalPerPrompt: 1, evalSteps: 2 } },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.completed).toBe(true);
    const s = r.evaluation!.summary;
    for (const k of ['digitShare', 'attributeShare_thickness', 'attributeShare_slant', 'attributeShare_width']) {
      expect(s[k], k).toBeGreaterThanOrEqual(0);
      expect(s[k], k).toBeLessThanOrEqual(1);
    }
    const clipAfter = loadWeightsFromDir(join(__dirname, '..', '..', 'models', 'clip-mnist')).weights;
    for (const [name, w] of Object.entries(clipBefore)) expect(Buffer.from(clipAfter[name].data.buffer).equals(Buffer.from(w.data.buffer)), name).toBe(true);
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toContain('cross-attention');
    const { unet, metadata } = await loadUNet(pathToFileURL(out + '/').href, fileFetch);
    expect(unet.config.crossAttention).toEqual({ contextDim: 64, heads: 2 });
    expect(unet.config.numClasses).toBe(0);
    expect(metadata.clip).toBe('../clip-mnist/');
    unet.dispose();
  }, 180_000);
});
