import { defineConfig } from 'vitest/config';

/**
 * `npm run test:compose`: the compose stack built and run for real, one flavour after the other
 * (they share the engine and its build cache). Kept out of `npm test`; `.ci/run` runs both.
 */
export default defineConfig({
  test: {
    include: ['test/compose/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
