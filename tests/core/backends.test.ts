import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  BACKEND_ORDER,
  canShareMemory,
  chooseBackend,
  currentBackend,
  MAX_WASM_THREADS,
  wasmThreadCount,
  withLogicalCores,
  fallbackBackend,
  initBackend,
  nextBackends,
  type BackendAttempt,
} from '../../src/core/backends';
import { wasmGradKernelsRegistered } from '../../src/core/kernels';

describe('initBackend', () => {
  it('walks webgpu → webgl → wasm in Node, reports each rung, and lands on wasm with the gradient kernels', async () => {
    const attempts: BackendAttempt[] = [];
    const name = await initBackend({ onAttempt: (a) => attempts.push(a) });
    expect(name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(currentBackend()).toBe('wasm');
    expect(attempts.map((a) => [a.name, a.ok])).toEqual([
      ['webgpu', false],
      ['webgl', false],
      ['wasm', true],
    ]);
    // The probes find no GPU in Node: both GPU rungs are skipped before tfjs touches them.
    expect(attempts[0]).toMatchObject({ skipped: true });
    expect(attempts[0].error).toMatch(/WebGPU/);
    expect(attempts[1].error).toMatch(/canvas|WebGL/);
    expect(wasmGradKernelsRegistered()).toBe(true);
    const y = tf.tidy(() => tf.conv2d(tf.ones([1, 3, 3, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, 'same'));
    expect(Array.from(await y.data())).toEqual([4, 6, 4, 6, 9, 6, 4, 6, 4]);
    y.dispose();
  });

  it('honours an explicit order and switches backends', async () => {
    expect(await initBackend({ order: ['cpu'] })).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend({ order: ['wasm', 'cpu'] })).toBe('wasm');
  });

  it('rejects with every reason when no rung works', async () => {
    await expect(initBackend({ order: [] })).rejects.toThrow(/no tfjs backend/);
    await expect(initBackend({ order: ['webgpu', 'webgl'] })).rejects.toThrow(/webgpu: .*; webgl: /);
  });

  it('moves past a rung that hangs once timeoutMs has passed', async () => {
    // A stand-in for a GPU backend whose initialisation never settles (no probe: Node has no GPU to look at).
    tf.registerBackend('webgpu', () => new Promise<tf.KernelBackend>(() => {}), 100);
    const attempts: BackendAttempt[] = [];
    const name = await initBackend({ order: ['webgpu', 'cpu'], timeoutMs: 200, probe: false, onAttempt: (a) => attempts.push(a) });
    expect(name).toBe('cpu');
    expect(attempts[0]).toMatchObject({ name: 'webgpu', ok: false });
    expect(attempts[0].error).toMatch(/timed out/);
    expect(tf.findBackendFactory('webgpu')).toBeNull(); // abandoned, so tfjs no longer waits on it
    const y = tf.add(tf.scalar(2), tf.scalar(3));
    expect((await y.data())[0]).toBe(5);
    y.dispose();
  });
});

describe('fallback', () => {
  it('lists the rungs below a backend', () => {
    expect(BACKEND_ORDER).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
    expect(nextBackends('webgpu')).toEqual(['webgl', 'wasm', 'cpu']);
    expect(nextBackends('wasm')).toEqual(['cpu']);
    expect(nextBackends('cpu')).toEqual([]);
    expect(nextBackends('webgl', ['webgl', 'cpu'])).toEqual(['cpu']);
    expect(nextBackends('wasm', ['webgl', 'cpu'])).toEqual([]);
  });

  it('initialises the next working backend after a failure', async () => {
    await initBackend({ order: ['wasm'] });
    expect(await fallbackBackend('webgl')).toBe('wasm');
    expect(await fallbackBackend('wasm')).toBe('cpu');
    await expect(fallbackBackend('cpu')).rejects.toThrow(/no tfjs backend/);
  });
});

afterAll(async () => {
  await tf.setBackend('wasm');
});

describe('wasm threads', () => {
  it('asks for one thread per two logical cores, at least 1 and at most MAX_WASM_THREADS', () => {
    expect(MAX_WASM_THREADS).toBe(4);
    expect([undefined, NaN, 0, 1, 1.5, 2, 3, 4, 6, 8, 64].map(wasmThreadCount)).toEqual([1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 4]);
  });

  it('shares memory only in a cross-origin isolated context with SharedArrayBuffer', () => {
    expect(canShareMemory({ crossOriginIsolated: true, SharedArrayBuffer })).toBe(true);
    expect(canShareMemory({ crossOriginIsolated: false, SharedArrayBuffer })).toBe(false);
    expect(canShareMemory({ crossOriginIsolated: true })).toBe(false);
    expect(canShareMemory({})).toBe(false);
  });

  it('shows the wasm module twice the wanted threads while it starts (tfjs caps its pool at cores / 2), then the real count again', async () => {
    class Nav {
      get hardwareConcurrency() {
        return 2;
      }
    }
    const nav = new Nav() as { hardwareConcurrency?: number };
    expect(await withLogicalCores(nav, 4, async () => nav.hardwareConcurrency)).toBe(4);
    expect(nav.hardwareConcurrency).toBe(2);
    expect(Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency')).toBeUndefined();
    await expect(withLogicalCores(nav, 8, async () => Promise.reject(new Error('no start')))).rejects.toThrow('no start');
    expect(nav.hardwareConcurrency).toBe(2);
    expect(await withLogicalCores(undefined, 4, async () => 'ran')).toBe('ran');
  });

  it('reports the threads the wasm backend runs (one in Node, where the single-threaded binary loads) and none for cpu', async () => {
    const wasm = await chooseBackend({ order: ['wasm'] });
    expect(wasm.backend).toBe('wasm');
    expect(wasm.threads).toBe(1);
    const cpu = await chooseBackend({ order: ['cpu'] });
    expect(cpu.threads).toBeUndefined();
    await initBackend({ order: ['wasm'] });
  });
});
