// Vitest runs the unit and integration tests (scripts/test.mjs; the e2e tests are Playwright Test's:
// playwright.config.ts). Test files run in child processes, two at a time: the machines have 2 cores,
// and many integration tests start real programs. A test's own `{ timeout }` overrides the default,
// which is long because node:test, which these tests were written for, had none.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    // cleanups and after-hooks run in the order they were registered, as under node:test
    sequence: { hooks: 'list' },
    setupFiles: ['test/helpers/vitest-setup.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
    ],
  },
});
