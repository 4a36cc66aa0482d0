import { defineConfig } from 'vitest/config';

// Unit tests: framework-free code under src/core (and anything else without a browser).
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/e2e/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'test-results/unit.json' }]],
  },
});
