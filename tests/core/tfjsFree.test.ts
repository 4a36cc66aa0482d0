import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const CORE = resolve(import.meta.dirname, '../../src/core');

/**
 * The core modules that widgets, build-time components and scripts import without tfjs. Each may import only
 * other modules of this list (type-only imports aside) and the packages below: no tfjs, no Node built-ins, no DOM.
 */
const TFJS_FREE = ['backendNames', 'captions', 'chart', 'control', 'crc32', 'downsample', 'ema', 'flow2dData', 'flowMetrics', 'format', 'masks', 'mnistFormat', 'pca', 'png', 'qsample', 'rng', 'samplerInfo', 'schedules'];
const PACKAGES = new Set(['d3']);

/** The specifiers a module loads at run time (`import type` and `export type` lines carry no code). */
function runtimeImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    if (m[2]) continue;
    specs.push(m[3] ?? m[4] ?? m[5]);
  }
  return specs;
}

describe('the tfjs-free core modules', () => {
  it.each(TFJS_FREE)('%s.ts loads nothing but the other tfjs-free modules and d3', (name) => {
    const file = join(CORE, `${name}.ts`);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) {
        const target = relative(CORE, resolve(dirname(file), spec)).replace(/\.ts$/, '');
        expect(TFJS_FREE, `${name}.ts imports ${spec}`).toContain(target);
      } else expect(PACKAGES.has(spec), `${name}.ts imports ${spec}`).toBe(true);
    }
  });

  it('recognises the imports that would break the rule (the check can fail)', () => {
    const src = join(CORE, 'noise.ts');
    expect(runtimeImports(src)).toContain('@tensorflow/tfjs-core');
    expect(runtimeImports(join(CORE, 'data.ts'))).toEqual(expect.arrayContaining(['@tensorflow/tfjs-core', './mnistFormat']));
  });
});
