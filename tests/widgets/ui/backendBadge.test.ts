import { describe, expect, it } from 'vitest';
import { badgeText, threadsSentence } from '../../../src/widgets/ui/backendBadge';

describe('the backend badge', () => {
  it('names the backend, and for wasm on several threads how many', () => {
    expect(badgeText('wasm', 2)).toBe('wasm · 2 threads');
    expect(badgeText('wasm', 4)).toBe('wasm · 4 threads');
    expect(badgeText('wasm', 1)).toBe('wasm');
    expect(badgeText('wasm')).toBe('wasm');
    expect(badgeText('webgl', 2)).toBe('webgl');
    expect(badgeText('cpu')).toBe('cpu');
  });

  it('explains the thread count in the menu only for wasm', () => {
    expect(threadsSentence('wasm', 2)).toBe('It runs on 2 threads.');
    expect(threadsSentence('wasm', 1)).toMatch(/^It runs on one thread\. Several threads need at least 4 logical cores and a page that is cross-origin isolated/);
    expect(threadsSentence('webgpu', 2)).toBeNull();
    expect(threadsSentence('wasm')).toBeNull();
    expect(threadsSentence(null, 2)).toBeNull();
  });
});
