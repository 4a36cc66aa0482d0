import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, LOSS_HISTORY_CAP, type Checkpoint } from '../../src/core/checkpoint';
import { REQUESTS, type ComputeApi, type LabProgress, type WorkerEvent } from '../../src/workers/api';
import { LabController } from '../../src/workers/lab';
import { cleanParams } from '../../src/workers/params';
import { Resources } from '../../src/workers/resources';
import { diskFetch, SITE } from '../helpers/site';

const clean = <K extends keyof typeof REQUESTS>(kind: K, params: unknown) => cleanParams(kind, REQUESTS[kind], params) as ComputeApi[K]['clean'];
const TINY = { size: 'tiny', batchSize: 8, lr: 0.001, schedule: 'linear', seed: 4 };
const never = new AbortController().signal;

describe('LabController', () => {
  it('offers the model saved in this browser to other widgets when this tab has none, and this tab\'s own model first', async () => {
    const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
    // a model trained and saved "on another page"
    const other = new LabController(res);
    await other.create(clean('lab.create', TINY));
    await other.run(clean('lab.run', { maxSteps: 2, lossEvery: 1, sampleEvery: 0 }), never, () => {});
    const { bytes } = await other.checkpoint();
    const x = new Float32Array(784).map((_, i) => Math.cos(i) * 0.5);
    const { eps: expected } = await other.predict(clean('lab.predict', { x, t: 400 }));
    await other.reset();

    let reads = 0;
    const empty = new LabController(res, {}, async () => (reads++, null));
    await expect(empty.modelOrSaved()).rejects.toThrow(/none is saved in this browser.*press Save/);
    const broken = new LabController(res, {}, async () => { throw new Error('storage is blocked'); });
    await expect(broken.modelOrSaved()).rejects.toThrow(/none is saved/);

    const lab = new LabController(res, {}, async () => (reads++, { bytes: bytes.slice() }));
    const before = tf.memory().numTensors;
    const loaded = await lab.modelOrSaved();
    expect(loaded.metadata.name).toBe('training-lab');
    expect(lab.info()).toMatchObject({ step: 2 });
    const { eps } = await lab.predict(clean('lab.predict', { x, t: 400 }));
    expect(Array.from(eps)).toEqual(Array.from(expected));
    // a session in this tab is used as it is: the store is not read again
    const readsBefore = reads;
    expect(await lab.modelOrSaved()).toBeDefined();
    expect(reads).toBe(readsBefore);
    await lab.reset();
    expect(tf.memory().numTensors).toBe(before);
  });

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

/** A checkpoint whose training state a test may fill with anything. */
type Loose = Omit<Checkpoint, 'state'> & { state: Record<string, unknown> };

describe('LabController.restore of hostile files', () => {
  const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
  const lab = new LabController(res);
  let good: Uint8Array;
  let tensors = 0;

  /** Restore the good file and take two steps: the lab still works, and holds as many tensors as before. */
  async function stillWorks() {
    expect((await lab.restore(clean('lab.restore', { bytes: good, source: 'good.dlck' }))).step).toBe(2);
    expect((await lab.run(clean('lab.run', { maxSteps: 2, lossEvery: 1, sampleEvery: 0 }), never, () => {})).step).toBe(4);
    return tf.memory().numTensors;
  }

  beforeAll(async () => {
    await lab.create(clean('lab.create', TINY));
    await lab.run(clean('lab.run', { maxSteps: 2, lossEvery: 1, sampleEvery: 0 }), never, () => {});
    good = (await lab.checkpoint()).bytes;
    tensors = await stillWorks();
  });

  /** A copy of the good checkpoint with `edit` applied, encoded again. */
  const bad = (edit: (ck: Loose) => void) => {
    const ck = decodeCheckpoint(good) as unknown as Loose;
    edit(ck);
    return encodeCheckpoint(ck as unknown as Checkpoint);
  };
  const history = (n: number): [number, number][] => Array.from({ length: n }, (_, i) => [i, 1 + (i % 7) * 0.01]);

  const refused: [string, (ck: Loose) => void, RegExp][] = [
    ['inputShape [256, 256, 1]', (ck) => (ck.metadata.config = { ...ck.metadata.config, inputShape: [256, 256, 1] }), /cannot train: config\.inputShape must be \[28, 28, 1\]/],
    ['channels far beyond the presets', (ck) => (ck.metadata.config = { ...ck.metadata.config, channels: [512, 512, 512] }), /cannot train: config \(channels \[512,512,512\].*parameters, more than the lab trains/],
    ['lossHistory null', (ck) => (ck.state.lossHistory = null), /"lossHistory" must be an array.*null/],
    ['lossHistory [[1, "x"]]', (ck) => (ck.state.lossHistory = [[1, 'x']]), /"lossHistory" entry 0 is not a \[step, loss\] pair/],
    ['lossHistory not an array', (ck) => (ck.state.lossHistory = { 0: [1, 2] }), /"lossHistory" must be an array.*object/],
    ['lossHistory with decreasing steps', (ck) => (ck.state.lossHistory = [[2, 0.5], [1, 0.4]]), /"lossHistory" entry 1 has step 1/],
    ['lossHistory past the step count', (ck) => (ck.state.lossHistory = [[1, 0.5], [99, 0.4]]), /"lossHistory" entry 1 has step 99/],
    ['a step of 1e300', (ck) => (ck.state.step = 1e300), /"step" must be an integer/],
    ['settings not an object', (ck) => (ck.state.settings = 'fast'), /"settings" must be an object/],
    ['a schedule the lab does not know', (ck) => (ck.state.settings = { ...(ck.state.settings as object), schedule: 'sqrt' }), /settings the lab cannot use.*schedule/],
  ];

  it.each(refused)('refuses a file with %s, naming the field, and the lab works afterwards with numTensors flat', async (_, edit, message) => {
    const bytes = bad(edit);
    await expect(lab.restore(clean('lab.restore', { bytes, source: 'hostile.dlck' }))).rejects.toThrow(message);
    await expect(lab.restore(clean('lab.restore', { bytes, source: 'hostile.dlck' }))).rejects.toThrow(/hostile\.dlck/);
    expect(await stillWorks()).toBe(tensors);
  });

  const clamped: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['batchSize 5000', { batchSize: 5000 }, { batchSize: 64 }],
    ['lr 1e9', { lr: 1e9 }, { lr: 0.002 }],
    ['seed 1e300', { seed: 1e300 }, { seed: 99_999 }],
  ];

  it.each(clamped)('clamps %s by lab.create\'s declaration, trains with the clamped value, and the lab works afterwards', async (_, setting, expected) => {
    const bytes = bad((ck) => (ck.state.settings = { ...(ck.state.settings as object), ...setting }));
    const info = await lab.restore(clean('lab.restore', { bytes, source: 'hostile.dlck' }));
    expect(info.settings).toMatchObject(expected);
    expect(info.step).toBe(2);
    expect((await lab.run(clean('lab.run', { maxSteps: 1, lossEvery: 1, sampleEvery: 0 }), never, () => {})).step).toBe(3);
    expect(await stillWorks()).toBe(tensors);
  });

  it('thins a loss history of 300k points to the cap, first and last kept, and the lab works afterwards', async () => {
    const long = history(300_000);
    const bytes = bad((ck) => {
      ck.state.step = 300_000;
      ck.state.lossHistory = long;
    });
    const info = await lab.restore(clean('lab.restore', { bytes, source: 'long.dlck' }));
    expect(info.step).toBe(300_000);
    expect(info.lossHistory.length).toBeLessThanOrEqual(LOSS_HISTORY_CAP);
    expect(info.lossHistory.length).toBeGreaterThan(LOSS_HISTORY_CAP * 0.9);
    expect(info.lossHistory[0]).toEqual(long[0]);
    expect(info.lossHistory.at(-1)).toEqual(long.at(-1));
    expect(await stillWorks()).toBe(tensors);
  });
});
