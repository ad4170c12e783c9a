import { defineConfig } from 'vitest/config';

/** `npm run test:soak`: long-running tests kept out of `npm test`. */
export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
