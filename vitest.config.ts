import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests start real servers and wait on real processes.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
