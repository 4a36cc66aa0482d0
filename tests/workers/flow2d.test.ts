import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FlowPlayground } from '../../src/core/flow2d';
import { REQUESTS, type ComputeApi } from '../../src/workers/api';
import { Flow2dController, type Flow2dProgress } from '../../src/workers/flow2d';
import { createHandlers } from '../../src/workers/handlers';
import { LabController } from '../../src/workers/lab';
import { cleanParams, ParamError } from '../../src/workers/params';
import { Resources } from '../../src/workers/resources';
import { diskFetch, SITE } from '../helpers/site';

type Kind = Extract<keyof typeof REQUESTS, `flow2d.${string}`>;
const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm'] });
const handlers = createHandlers(res, new LabController(res));
const never = new AbortController().signal;

/** Call a handler as serve() does: params cleaned against the catalogue first. */
function call<K extends Kind>(kind: K, params: unknown, opts: { signal?: AbortSignal; progress?: (p: never) => void } = {}): Promise<ComputeApi[K]['result']> {
  const clean = cleanParams(kind, REQUESTS[kind], params);
  const handler = handlers[kind] as (p: unknown, ctx: unknown) => Promise<ComputeApi[K]['result']>;
  return handler(clean, { signal: opts.signal ?? never, progress: opts.progress ?? (() => {}) });
}

describe('the flow playground’s requests', () => {
  it('are cleaned against the catalogue: bounds clamped, malformed values refused with the parameter’s name', () => {
    expect(cleanParams('flow2d.create', REQUESTS['flow2d.create'], {})).toMatchObject({ preset: 'moons', seed: 1 });
    expect(cleanParams('flow2d.sample', REQUESTS['flow2d.sample'], { steps: 5000, count: 3 })).toMatchObject({ steps: 100, count: REQUESTS['flow2d.sample'].count.min });
    expect(cleanParams('flow2d.field', REQUESTS['flow2d.field'], { s: 7 }).s).toBe(1);
    expect(() => cleanParams('flow2d.create', REQUESTS['flow2d.create'], { preset: 'heart' })).toThrow(ParamError);
    expect(() => cleanParams('flow2d.create', REQUESTS['flow2d.create'], { preset: 'heart' })).toThrow(/flow2d\.create: parameter "preset"/);
    expect(() => cleanParams('flow2d.create', REQUESTS['flow2d.create'], { points: new Float32Array([0, NaN]) })).toThrow(/parameter "points"/);
    expect(() => cleanParams('flow2d.sample', REQUESTS['flow2d.sample'], { sampler: 'ddpm' })).toThrow(/parameter "sampler"/);
  });

  it('create a session, train it with progress reports of both losses, sample, draw the field and sweep, with the tensor count flat', async () => {
    await expect(call('flow2d.info', {})).rejects.toThrow(/no models/);
    const created = await call('flow2d.create', { preset: 'moons', seed: 5 });
    expect(created).toMatchObject({ preset: 'moons', seed: 5, step: 0, reflows: 0, backend: 'wasm' });
    const reports: Flow2dProgress[] = [];
    await call('flow2d.train', { steps: 4, lossEvery: 2 }, { progress: (p: Flow2dProgress) => reports.push(p) });
    const before = tf.memory().numTensors;
    const info = await call('flow2d.train', { steps: 6, lossEvery: 3 }, { progress: (p: Flow2dProgress) => reports.push(p) });
    expect(info.step).toBe(10);
    expect(reports.map((r) => r.step)).toEqual([2, 4, 7, 10]);
    for (const r of reports) {
      expect(r.phase).toBe('training');
      expect(r.diffusion).toBeGreaterThan(0);
      expect(r.flow).toBeGreaterThan(0);
    }
    expect(info.lossHistory.map((h) => h[0])).toEqual([2, 4, 7, 10]);
    expect(tf.memory().numTensors).toBe(before);

    const sample = await call('flow2d.sample', { steps: 4, sampler: 'heun', count: 30, seed: 2 });
    expect(sample.flow.frames).toHaveLength(5 * 30 * 2);
    expect(sample.diffusion.frames).toHaveLength(5 * 30 * 2);
    expect(Array.from(sample.flow.frames.subarray(0, 60))).toEqual(Array.from(FlowPlayground.noise(30, 2)));
    expect(sample.flow.nfe).toBe(7);
    expect(sample.diffusion.nfe).toBe(4);
    expect(sample.reference).toHaveLength(2000);
    for (const side of [sample.flow, sample.diffusion]) {
      expect(side.energy).toBeGreaterThan(0);
      expect(side.straightness).toBeGreaterThanOrEqual(0);
    }
    // the same request, the same paths
    const again = await call('flow2d.sample', { steps: 4, sampler: 'heun', count: 30, seed: 2 });
    expect(Array.from(again.diffusion.frames)).toEqual(Array.from(sample.diffusion.frames));

    const field = await call('flow2d.field', { s: 0.3, grid: 5 });
    expect(field.flow).toHaveLength(50);
    expect(field.t).toBeGreaterThan(0);
    const sweep = await call('flow2d.sweep', { count: 50, seed: 1 });
    expect(sweep.steps).toEqual([100, 50, 20, 10, 5, 2, 1]);
    expect(sweep.flow.energy).toHaveLength(7);
    expect(tf.memory().numTensors).toBe(before);
    await call('flow2d.reset', {});
  });

  it('reflows with a report while the pairs are drawn, then trains the flow on them', async () => {
    await call('flow2d.create', { preset: 'gaussians', seed: 1 });
    await call('flow2d.train', { steps: 2, lossEvery: 1 });
    const reports: Flow2dProgress[] = [];
    const info = await call('flow2d.reflow', { pairs: 100, pairSteps: 3, steps: 2, lossEvery: 1 }, { progress: (p: Flow2dProgress) => reports.push(p) });
    expect(info).toMatchObject({ step: 4, reflows: 1 });
    expect(reports.map((r) => r.phase)).toEqual(['pairs', 'training', 'training']);
    await call('flow2d.reset', {});
  });

  it('stops a running loop on cancel and on pause, and trains from the reader’s own points', async () => {
    const points = new Float32Array([1, 1, -1, -1, 0.5, -1.5]);
    await call('flow2d.create', { preset: 'custom', seed: 3, points });
    const cancel = new AbortController();
    let seen = 0;
    const running = call('flow2d.train', { steps: 100_000, lossEvery: 1 }, { signal: cancel.signal, progress: (p: Flow2dProgress) => (seen = p.step) });
    while (seen < 2) await new Promise((r) => setTimeout(r, 5));
    cancel.abort();
    const stopped = await running;
    expect(stopped.step).toBeLessThan(100);
    let seen2 = 0;
    const again = call('flow2d.train', { steps: 100_000, lossEvery: 1 }, { progress: (p: Flow2dProgress) => (seen2 = p.step) });
    while (seen2 < stopped.step + 2) await new Promise((r) => setTimeout(r, 5));
    const paused = await call('flow2d.pause', {});
    expect((await again).step).toBe(paused.step);
    expect(paused.preset).toBe('custom');
    await call('flow2d.reset', {});
  });

  it('keeps the controller free of clamps (it receives clean values)', async () => {
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(new URL('../../src/workers/flow2d.ts', import.meta.url), 'utf8')).not.toMatch(/Math\.(min|max)\(/);
    expect(new Flow2dController(res)).toBeInstanceOf(Flow2dController);
  });
});
