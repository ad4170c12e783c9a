import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The soak runs for about 17 minutes: `npm run test:soak`, not `npm test`.
    exclude: [...configDefaults.exclude, 'test/soak/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests start real servers and wait on real processes.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
