import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { WorkerEvent } from '../../src/workers/api';
import { Resources, isBackendFailure } from '../../src/workers/resources';
import { diskFetch, SITE } from '../helpers/site';

const LOST = 'GPU device was lost (simulated)';

/** ε̂ of a U-Net for one fixed input at t = 500 (the ∅ branch), read back. */
async function predict(unet: Awaited<ReturnType<Resources['unet']>>['unet']): Promise<Float32Array> {
  const out = tf.tidy(() => unet.model(tf.fill([1, 28, 28, 1], 0.25) as tf.Tensor4D, tf.tensor1d([500], 'int32')));
  try {
    return Float32Array.from(await out.data());
  } finally {
    out.dispose();
  }
}

describe('Resources', () => {
  it('loads a model once per name, counts its tensors and forgets a failed load', async () => {
    const res = new Resources({ root: SITE, fetch: diskFetch, order: ['cpu'] });
    const [a, b] = await Promise.all([res.unet('unet-mnist'), res.unet('unet-mnist')]);
    expect(a).toBe(b);
    expect(res.cachedModels).toBe(1);
    expect(res.modelTensors).toBe(a.unet.params.size);
    await expect(res.unet('no-such-model')).rejects.toThrow(/no-such-model/);
    expect(res.cachedModels).toBe(1);
    await expect(res.unet('../models')).rejects.toThrow(/not a model name/);
    await res.drop();
    expect(res.cachedModels).toBe(0);
    expect([...a.unet.params.values()].every((v) => v.isDisposed)).toBe(true);
  });

  it('on a broken backend moves one rung down, drops the cached models and reloads them there', async () => {
    const events: WorkerEvent[] = [];
    const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm', 'cpu'], onEvent: (e) => events.push(e) });
    expect((await res.ensureBackend()).backend).toBe('wasm');
    const first = await res.unet('unet-mnist');
    const before = await predict(first.unet);

    let attempts = 0;
    const second = await res.withFallback(async () => {
      attempts++;
      const m = await res.unet('unet-mnist');
      if (attempts === 1) throw new Error(LOST);
      return m;
    });
    expect(attempts).toBe(2);
    expect(tf.getBackend()).toBe('cpu');
    expect((await res.ensureBackend()).backend).toBe('cpu');
    // The model the retry used was loaded again, on the new backend; the old one's tensors were let go.
    expect(second).not.toBe(first);
    expect([...first.unet.params.values()].every((v) => v.isDisposed)).toBe(true);
    const after = await predict(second.unet);
    for (let i = 0; i < before.length; i++) expect(after[i]).toBeCloseTo(before[i], 4);
    expect(events.map((e) => e.type)).toEqual(['backend', 'fallback']);
    expect(events[1]).toMatchObject({ type: 'fallback', from: 'wasm', to: 'cpu', reason: LOST });
  });

  it('passes other errors through without falling back', async () => {
    const res = new Resources({ root: SITE, fetch: diskFetch, order: ['cpu'] });
    await expect(res.withFallback(async () => Promise.reject(new RangeError('bad input')))).rejects.toThrow('bad input');
    expect(tf.getBackend()).toBe('cpu');
    expect(isBackendFailure(new Error('WebGL context was lost'))).toBe(true);
    expect(isBackendFailure(new Error('the model takes 28×28×1 images'))).toBe(false);
  });
});
