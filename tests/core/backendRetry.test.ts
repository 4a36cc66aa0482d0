import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../src/core/backends';

const original = tf.findBackendFactory('cpu')!;

afterAll(() => {
  tf.removeBackend('cpu');
  tf.registerBackend('cpu', original, 1);
});

describe('a backend whose start failed', () => {
  it('stays registered, so a later attempt can start it (a wasm binary that arrives once the network is back)', async () => {
    // A stand-in for the wasm rung: the first start fails as a dropped download does, the second succeeds.
    let starts = 0;
    tf.removeBackend('cpu');
    tf.registerBackend('cpu', async () => {
      starts++;
      if (starts === 1) throw new TypeError('Failed to fetch');
      return new MathBackendCPU();
    });
    await expect(initBackend({ order: ['cpu'], probe: false, timeoutMs: 5_000 })).rejects.toThrow(/no tfjs backend could be initialised \(cpu: /);
    expect(tf.findBackendFactory('cpu')).not.toBeNull();
    expect(await initBackend({ order: ['cpu'], probe: false, timeoutMs: 5_000 })).toBe('cpu');
    expect(starts).toBe(2);
    const y = tf.add(tf.scalar(2), tf.scalar(3));
    expect((await y.data())[0]).toBe(5);
    y.dispose();
  });
});
