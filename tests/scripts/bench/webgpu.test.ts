import { describe, expect, it } from 'vitest';
import { webgpuVerdict } from '../../../scripts/bench/webgpu';

describe('webgpu bench: which adapters it times', () => {
  it('times a hardware adapter', () => {
    expect(webgpuVerdict({ api: true, adapter: true, fallback: false, vendor: 'nvidia', architecture: 'hopper' })).toEqual({ real: true });
  });

  it('skips, saying why, without WebGPU, without an adapter, and on a fallback or software adapter', () => {
    const reasons = [
      webgpuVerdict({ api: false, adapter: false, fallback: false }),
      webgpuVerdict({ api: true, adapter: false, fallback: false }),
      webgpuVerdict({ api: true, adapter: true, fallback: true, vendor: 'google', architecture: 'swiftshader' }),
      webgpuVerdict({ api: true, adapter: true, fallback: false, vendor: 'google', description: 'SwiftShader Device (Subzero)' }),
      webgpuVerdict({ api: true, adapter: true, fallback: false, vendor: 'mesa', device: 'llvmpipe (LLVM 15.0.6, 256 bits)' }),
    ].map((v) => (v.real ? 'timed' : v.reason));
    expect(reasons[0]).toMatch(/no WebGPU/);
    expect(reasons[1]).toMatch(/no WebGPU adapter/);
    expect(reasons[2]).toMatch(/^only a fallback \(software\) WebGPU adapter is present \(google, swiftshader\)/);
    expect(reasons[3]).toMatch(/^only a software WebGPU adapter is present \(google, SwiftShader Device/);
    expect(reasons[4]).toMatch(/llvmpipe/);
  });
});
