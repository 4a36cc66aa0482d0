import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { REQUESTS } from '../../src/workers/api';
import { Resources } from '../../src/workers/resources';
import { LAB_PRESETS, LAB_RECIPES, labConfigProblem, TrainingSession } from '../../src/workers/trainingSession';
import LAB_DIGITS from '../../src/widgets/lib/labDigits.json';
import type { Split } from '../../src/core/data';
import { diskFetch, SITE } from '../helpers/site';

let train: Split;
const never = new AbortController().signal;
const settings = (size: 'tiny' | 'small') => ({ size, batchSize: 8, lr: 0.002, schedule: 'linear' as const, seed: 3 });

beforeAll(async () => {
  const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
  await res.ensureBackend();
  ({ train } = await res.mnist());
});

describe('the lab’s recipes', () => {
  it('train every preset with its recipe: warm-up, loss weights and, where kept, the weights’ average drawing the grid', async () => {
    for (const size of ['tiny', 'small'] as const) {
      const recipe = LAB_RECIPES[size];
      expect(LAB_PRESETS[size]).toBe(recipe.config);
      expect(labConfigProblem(recipe.config)).toBeNull();
      const session = new TrainingSession(settings(size), train);
      expect(session.recipe).toEqual(recipe);
      await session.run({ signal: never, onProgress: () => {}, maxSteps: 2, sampleEvery: 0, lossEvery: 1 });
      if (recipe.emaDecay !== undefined) {
        expect(session.sampler).not.toBe(session.unet);
        // the grid is the average's: different from the raw weights' grid after training moved them apart
        const [avg, raw] = [await session.samples(2, 2), await session.samples(2, 2, session.unet)];
        expect(Array.from(avg)).not.toEqual(Array.from(raw));
      } else {
        expect(session.sampler).toBe(session.unet);
      }
      session.dispose();
    }
  });

  it('samples the grid with the recipe’s sampler and steps (what the lab’s text says it does)', async () => {
    const session = new TrainingSession(settings('tiny'), train);
    const grid = await session.samples(2);
    const explicit = await session.samples(2, LAB_RECIPES.tiny.sampleSteps, session.sampler, LAB_RECIPES.tiny.sampler);
    expect(Array.from(grid)).toEqual(Array.from(explicit));
    session.dispose();
  });

  it('restores a checkpoint of the earlier tiny shape (no patch stem) and trains it on', async () => {
    const old = { inputShape: [28, 28, 1] as [number, number, number], channels: [16, 32], numResBlocks: 1, attention: false, tembDim: 32, groups: 8, numClasses: 0 };
    expect(labConfigProblem(old)).toBeNull();
    const first = new TrainingSession(settings('tiny'), train, old);
    await first.run({ signal: never, onProgress: () => {}, maxSteps: 2, sampleEvery: 0, lossEvery: 1 });
    const ck = await first.checkpoint();
    first.dispose();
    const restored = TrainingSession.fromCheckpoint(ck, train, settings('tiny'));
    expect(restored.config).toEqual(old);
    expect(restored.step).toBe(2);
    await restored.run({ signal: never, onProgress: () => {}, maxSteps: 1, sampleEvery: 0, lossEvery: 1 });
    expect(restored.step).toBe(3);
    restored.dispose();
  });

  it('refuses a patch stem it cannot build at 28 × 28 with a message naming the field', () => {
    const base = LAB_PRESETS.tiny;
    expect(labConfigProblem({ ...base, patch: 3 as 2 })).toMatch(/config\.patch must be 1 or 2/);
    expect(labConfigProblem({ ...base, patch: 2, channels: [16, 16, 16] })).toMatch(/config\.channels.*patch stem/);
    expect(labConfigProblem({ ...base, patch: 2, channels: [16, 32] })).toBeNull();
  });

  it('labDigits.json was measured with the current recipes and the lab’s default settings', () => {
    const defaults = REQUESTS['lab.create'];
    for (const size of ['tiny', 'small'] as const) {
      const m = (LAB_DIGITS as Record<string, { sample_steps: number; ema_decay: number | null; batch: number; lr: number }>)[size];
      expect(m, size).toBeDefined();
      expect(m.sample_steps).toBe(LAB_RECIPES[size].sampleSteps);
      expect(m.ema_decay).toBe(LAB_RECIPES[size].emaDecay ?? null);
      expect(m.batch).toBe(defaults.batchSize.default);
      expect(m.lr).toBe(defaults.lr.default);
    }
    expect(tf.getBackend()).toBe('wasm');
  });
});
