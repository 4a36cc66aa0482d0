import { describe, expect, it } from 'vitest';
import { BACKEND_NAMES, isBackendName } from '../../src/core/backendNames';
import * as backends from '../../src/core/backends';

describe('backend names', () => {
  it('list the ladder fastest first and recognise only those names', () => {
    expect(BACKEND_NAMES).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
    for (const name of BACKEND_NAMES) expect(isBackendName(name)).toBe(true);
    for (const other of ['WASM', 'tensorflow', '', null, 3]) expect(isBackendName(other)).toBe(false);
  });

  it('are the backend ladder\'s default order', () => {
    expect(backends.BACKEND_ORDER).toBe(BACKEND_NAMES);
  });
});
