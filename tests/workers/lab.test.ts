import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { REQUESTS, type ComputeApi, type LabProgress, type WorkerEvent } from '../../src/workers/api';
import { LabController } from '../../src/workers/lab';
import { cleanParams } from '../../src/workers/params';
import { Resources } from '../../src/workers/resources';
import { diskFetch, SITE } from '../helpers/site';

const clean = <K extends keyof typeof REQUESTS>(kind: K, params: unknown) => cleanParams(kind, REQUESTS[kind], params) as ComputeApi[K]['clean'];
const TINY = { size: 'tiny', batchSize: 8, lr: 0.001, schedule: 'linear', seed: 4 };
const never = new AbortController().signal;

describe('LabController', () => {
  it('trains, pauses, saves and restores a session exactly, without leaking tensors', async () => {
    const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
    const lab = new LabController(res);
    await expect(lab.pause()).rejects.toThrow(/no model/);
    const created = await lab.create(clean('lab.create', TINY));
    expect(created).toMatchObject({ step: 0, settings: { size: 'tiny', batchSize: 8, schedule: 'linear', seed: 4 }, backend: 'wasm', pretrained: false });

    const progress: LabProgress[] = [];
    await lab.run(clean('lab.run', { maxSteps: 3, lossEvery: 1, sampleEvery: 0 }), never, (p) => progress.push(p));
    const tensorsAfterWarmup = tf.memory().numTensors;
    const info = await lab.run(clean('lab.run', { maxSteps: 4, lossEvery: 2, sampleEvery: 0 }), never, (p) => progress.push(p));
    expect(info.step).toBe(7);
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 5, 7]);
    expect(tf.memory().numTensors).toBe(tensorsAfterWarmup);

    const x = new Float32Array(784).map((_, i) => Math.sin(i) * 0.5);
    const { eps: before } = await lab.predict(clean('lab.predict', { x, t: 300 }));
    const { bytes, step } = await lab.checkpoint();
    expect(step).toBe(7);
    await lab.reset();
    await expect(lab.predict(clean('lab.predict', { x, t: 300 }))).rejects.toThrow(/no model/);
    const restored = await lab.restore(clean('lab.restore', { bytes, source: 'a test file' }));
    expect(restored.step).toBe(7);
    const { eps: after } = await lab.predict(clean('lab.predict', { x, t: 300 }));
    expect(Array.from(after)).toEqual(Array.from(before));

    await expect(lab.restore(clean('lab.restore', { bytes: new Uint8Array([1, 2, 3]), source: 'junk.dlck' }))).rejects.toThrow(/junk\.dlck/);
    expect((await lab.pause()).step).toBe(7); // the restored session survived the refused file
    await lab.reset();
  });

  it('resumes on the next backend from the last in-memory checkpoint when the device is lost mid-run', async () => {
    const events: WorkerEvent[] = [];
    const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm', 'cpu'], onEvent: (e) => events.push(e) });
    let failures = 0;
    const lab = new LabController(res, {
      beforeStep: (done) => {
        if (done === 2 && tf.getBackend() === 'wasm') {
          failures++;
          throw new Error('GPU device was lost (simulated)');
        }
      },
    });
    await lab.create(clean('lab.create', TINY));
    const info = await lab.run(clean('lab.run', { maxSteps: 3, lossEvery: 1, sampleEvery: 0 }), never, () => {});
    expect(failures).toBe(1);
    expect(info.backend).toBe('cpu');
    // the two steps taken on wasm were lost with the device (they count against maxSteps); the run resumed from the
    // checkpoint at step 0 and took the one step left on cpu
    expect(info.step).toBe(1);
    const fallback = events.find((e) => e.type === 'fallback');
    expect(fallback).toMatchObject({ type: 'fallback', from: 'wasm', to: 'cpu' });
    expect(fallback && fallback.type === 'fallback' && fallback.reason).toMatch(/device was lost.*resumed from step 0/);
    await lab.reset();
  });

  it('stops a running loop on pause and reports the step it stopped at', async () => {
    const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
    const lab = new LabController(res);
    await lab.create(clean('lab.create', TINY));
    let seen = 0;
    const running = lab.run(clean('lab.run', { lossEvery: 1, sampleEvery: 0 }), never, (p) => (seen = p.step));
    while (seen < 2) await new Promise((r) => setTimeout(r, 5));
    const paused = await lab.pause();
    const finished = await running;
    expect(finished.step).toBe(paused.step);
    expect(paused.step).toBeGreaterThanOrEqual(2);
    await lab.reset();
  });
});
