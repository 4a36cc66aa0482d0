import { defineConfig } from 'vitest/config';

// End-to-end tests: a real Chromium (playwright-core) against the built site served locally.
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'test-results/e2e.json' }]],
  },
});
