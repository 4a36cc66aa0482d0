import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  BACKEND_ORDER,
  chooseBackend,
  explainChoice,
  rankBackends,
  softwareRendererName,
  type BackendAttempt,
  type BackendName,
  type BackendProbe,
} from '../../src/core/backends';

const SWIFTSHADER_GL = 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)';
const LLVMPIPE_GL = 'llvmpipe (LLVM 15.0.6, 256 bits)';
const HARDWARE_GL = 'ANGLE (NVIDIA Corporation, NVIDIA GeForce RTX 3060/PCIe/SSE2, OpenGL 4.5.0)';

const gpu = (name: BackendName, renderer: string | undefined, software: boolean): BackendProbe => ({ name, available: true, software, renderer });
const missing = (name: BackendName, reason: string): BackendProbe => ({ name, available: false, software: false, reason });

describe('softwareRendererName', () => {
  it('names the software renderers browsers report and leaves hardware ones alone', () => {
    expect(softwareRendererName(SWIFTSHADER_GL)).toBe('SwiftShader');
    expect(softwareRendererName(LLVMPIPE_GL)).toBe('llvmpipe');
    expect(softwareRendererName('Google Inc. (Google), ANGLE (Google, Vulkan 1.3.0 (lavapipe))')).toBe('lavapipe');
    expect(softwareRendererName('ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11 vs_5_0 ps_5_0)')).toBe('Microsoft Basic Render Driver');
    expect(softwareRendererName('google, swiftshader, , SwiftShader Device (Subzero)')).toBe('SwiftShader');
    expect(softwareRendererName('Software Rasterizer')).toBe('software');
    expect(softwareRendererName(HARDWARE_GL)).toBeNull();
    expect(softwareRendererName('Apple M1 Pro')).toBeNull();
    expect(softwareRendererName('ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)')).toBeNull();
    expect(softwareRendererName(undefined)).toBeNull();
    expect(softwareRendererName('')).toBeNull();
  });
});

describe('rankBackends', () => {
  it('keeps hardware GPUs first', () => {
    expect(rankBackends(BACKEND_ORDER, [gpu('webgpu', 'nvidia, ampere', false), gpu('webgl', HARDWARE_GL, false)])).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
  });

  it('moves software GPUs below wasm, above cpu, in their own order', () => {
    expect(rankBackends(BACKEND_ORDER, [gpu('webgpu', 'google, swiftshader', true), gpu('webgl', SWIFTSHADER_GL, true)])).toEqual(['wasm', 'webgpu', 'webgl', 'cpu']);
  });

  it('drops unavailable rungs: headless Chromium without WebGPU has only SwiftShader WebGL', () => {
    expect(rankBackends(BACKEND_ORDER, [missing('webgpu', 'no adapter'), gpu('webgl', SWIFTSHADER_GL, true)])).toEqual(['wasm', 'webgl', 'cpu']);
  });

  it('mixes: a hardware WebGPU stays first while a software WebGL goes below wasm', () => {
    expect(rankBackends(BACKEND_ORDER, [gpu('webgpu', 'apple, metal-3', false), gpu('webgl', LLVMPIPE_GL, true)])).toEqual(['webgpu', 'wasm', 'webgl', 'cpu']);
    expect(rankBackends(BACKEND_ORDER, [missing('webgpu', 'none'), gpu('webgl', HARDWARE_GL, false)])).toEqual(['webgl', 'wasm', 'cpu']);
  });

  it('treats a rung without a probe by its name, and keeps orders without wasm or cpu', () => {
    expect(rankBackends(BACKEND_ORDER, [])).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
    expect(rankBackends(['webgl', 'cpu'], [gpu('webgl', SWIFTSHADER_GL, true)])).toEqual(['webgl', 'cpu']);
    expect(rankBackends(['cpu', 'wasm'], [])).toEqual(['wasm', 'cpu']);
    expect(rankBackends([], [])).toEqual([]);
  });
});

describe('explainChoice', () => {
  it('says why wasm beat a software WebGL and an absent WebGPU', () => {
    const attempts: BackendAttempt[] = [
      { name: 'webgpu', ok: false, skipped: true, error: 'the browser has no WebGPU adapter for this device', ms: 0 },
      { name: 'wasm', ok: true, ms: 40 },
    ];
    const reason = explainChoice('wasm', attempts, [missing('webgpu', 'the browser has no WebGPU adapter for this device'), gpu('webgl', SWIFTSHADER_GL, true)], true);
    expect(reason).toBe('WebGL runs on a software renderer (SwiftShader), slower than WebAssembly here. WebGPU: the browser has no WebGPU adapter for this device.');
  });

  it('names a WebGPU fallback adapter and a hardware GPU', () => {
    const probes = [gpu('webgpu', 'a fallback adapter', true), gpu('webgl', SWIFTSHADER_GL, true)];
    expect(explainChoice('wasm', [{ name: 'wasm', ok: true, ms: 1 }], probes, true)).toBe(
      'WebGPU runs on a software renderer (a fallback adapter), slower than WebAssembly here. WebGL runs on a software renderer (SwiftShader), slower than WebAssembly here.',
    );
    expect(explainChoice('webgpu', [{ name: 'webgpu', ok: true, ms: 1 }], [gpu('webgpu', 'nvidia, ampere', false)], true)).toBe('WebGPU runs on the GPU (nvidia, ampere).');
    expect(explainChoice('webgl', [{ name: 'webgl', ok: true, ms: 1 }], [gpu('webgl', SWIFTSHADER_GL, true)], false)).toBe(
      'WebGL runs on a software renderer (SwiftShader), slower than a real GPU.',
    );
  });

  it('reports a rung that failed to start, and says plainly when nothing needed explaining', () => {
    const attempts: BackendAttempt[] = [
      { name: 'webgl', ok: false, error: 'context lost', ms: 5 },
      { name: 'cpu', ok: true, ms: 1 },
    ];
    expect(explainChoice('cpu', attempts, [gpu('webgl', HARDWARE_GL, false)], false)).toBe('WebGL failed to start (context lost).');
    expect(explainChoice('wasm', [{ name: 'wasm', ok: true, ms: 1 }], [], false)).toBe('WebAssembly is the backend asked for.');
    expect(explainChoice('wasm', [{ name: 'wasm', ok: true, ms: 1 }], [], true)).toBe('WebAssembly is the fastest backend that runs here.');
  });
});

describe('chooseBackend with probes', () => {
  /** Probes as headless Chromium here answers them: SwiftShader WebGL, WebGPU per `webgpu`. */
  const fakeProbe = (webgpu: BackendProbe) => async (name: BackendName) =>
    name === 'webgpu' ? webgpu : name === 'webgl' ? gpu('webgl', SWIFTSHADER_GL, true) : { name, available: true, software: false };

  it('on the ranked default ladder, skips an absent WebGPU without touching tfjs and lands on wasm ahead of SwiftShader WebGL', async () => {
    const choice = await chooseBackend({ rank: true, probe: fakeProbe(missing('webgpu', 'no adapter')) });
    expect(choice.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.order).toEqual(['wasm', 'webgl', 'cpu']);
    expect(choice.attempts.map((a) => [a.name, a.ok, a.skipped ?? false])).toEqual([
      ['webgpu', false, true],
      ['wasm', true, false],
    ]);
    expect(choice.reason).toBe('WebGL runs on a software renderer (SwiftShader), slower than WebAssembly here. WebGPU: no adapter.');
    expect(choice.ranked).toBe(true);
  });

  it('ranks a software WebGPU below wasm too', async () => {
    const choice = await chooseBackend({ rank: true, probe: fakeProbe(gpu('webgpu', 'google, swiftshader', true)) });
    expect(choice.backend).toBe('wasm');
    expect(choice.order).toEqual(['wasm', 'webgpu', 'webgl', 'cpu']);
    expect(choice.attempts).toHaveLength(1);
  });

  it('keeps an order the reader named, only skipping what is not there', async () => {
    const choice = await chooseBackend({ order: ['webgpu', 'cpu'], probe: fakeProbe(missing('webgpu', 'no adapter')) });
    expect(choice.backend).toBe('cpu');
    expect(choice.ranked).toBe(false);
    expect(choice.attempts.map((a) => `${a.name}:${a.ok}`)).toEqual(['webgpu:false', 'cpu:true']);
    const wasmOnly = await chooseBackend({ order: ['wasm'], probe: fakeProbe(missing('webgpu', 'no adapter')) });
    expect(wasmOnly.probes).toEqual([]); // nothing to probe: wasm is tried as before
    expect(wasmOnly.attempts.map((a) => `${a.name}:${a.ok}`)).toEqual(['wasm:true']);
  });
});

describe('the page side: ?backend= wins over the remembered choice', () => {
  it('reads the URL first, then the remembered choice, else leaves the ranking to the worker', async () => {
    const { backendRequest, rememberedOrder } = await import('../../src/widgets/lib/compute');
    expect(backendRequest('?backend=wasm', 'cpu')).toEqual({ order: ['wasm'], source: 'url' });
    expect(backendRequest('?backend=cuda', 'cpu')).toEqual({ order: ['cpu', 'wasm'], source: 'remembered' });
    expect(backendRequest('', 'webgl')).toEqual({ order: ['webgl', 'wasm', 'cpu'], source: 'remembered' });
    expect(backendRequest('', ' WebGPU ')).toEqual({ order: ['webgpu', 'wasm', 'cpu'], source: 'remembered' });
    expect(backendRequest('', 'nonsense')).toEqual({ source: 'auto' });
    expect(backendRequest('?x=1', null)).toEqual({ source: 'auto' });
    expect(rememberedOrder('wasm')).toEqual(['wasm', 'cpu']);
  });
});
