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

  it('counts WebAssembly traps as backend failures, not other words that look alike', () => {
    for (const trap of [
      new WebAssembly.RuntimeError('memory access out of bounds'),
      new WebAssembly.RuntimeError('unreachable'),
      Object.assign(new Error('unreachable'), { name: 'RuntimeError' }),
      new Error('Aborted(). Build with -sASSERTIONS for more info.'),
      new Error('RuntimeError: Aborted(Assertion failed)'),
      new Error('unreachable executed'),
      'RuntimeError: memory access out of bounds',
    ]) {
      expect(isBackendFailure(trap), String(trap)).toBe(true);
    }
    for (const other of [new Error('host unreachable'), new TypeError('Failed to fetch'), new Error('the request was aborted by the page')]) {
      expect(isBackendFailure(other), String(other)).toBe(false);
    }
  });

  it('after a wasm trap in a run moves one rung down and runs the work again there', async () => {
    const events: WorkerEvent[] = [];
    const res = new Resources({ root: SITE, fetch: diskFetch, order: ['wasm', 'cpu'], onEvent: (e) => events.push(e) });
    expect((await res.ensureBackend()).backend).toBe('wasm');
    let attempts = 0;
    const out = await res.withFallback(async () => {
      attempts++;
      await res.unet('unet-mnist');
      if (attempts === 1) throw new WebAssembly.RuntimeError('memory access out of bounds');
      return tf.getBackend();
    });
    expect(out).toBe('cpu');
    expect(events.at(-1)).toMatchObject({ type: 'fallback', from: 'wasm', to: 'cpu', reason: 'memory access out of bounds' });
  });

  it('retries a failed start with the order the page named, and a model fetch that failed once', async () => {
    const res = new Resources({ root: SITE, fetch: diskFetch });
    // No WebGL in Node: the page's ladder fails to start.
    await expect(res.ensureBackend(['webgl'])).rejects.toThrow(/webgl/);
    // A model request names no order: it must not start some other backend behind the page's back.
    await expect(res.ensureBackend()).rejects.toThrow(/webgl/);

    let down = true;
    const flaky: typeof fetch = (input, init) => (down ? Promise.reject(new TypeError('Failed to fetch')) : diskFetch(input, init));
    const net = new Resources({ root: SITE, fetch: flaky, order: ['cpu'] });
    await expect(net.unet('unet-mnist')).rejects.toThrow(/model\.json: could not be fetched \(Failed to fetch\)/);
    down = false;
    expect((await net.unet('unet-mnist')).metadata).toBeTruthy();
  });
});
