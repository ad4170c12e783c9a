import { configDefaults, defineConfig } from 'vitest/config';
import type { Flavour } from './test/support/mysql-server.js';

/**
 * Every test that starts a server runs twice, once per flavour, as its own vitest project
 * (`npm test -- --project mysql` runs one); the rest run once. A test names its flavour in the
 * report as [mariadb] or [mysql].
 */
const SERVERLESS = ['test/integration/compression-stream.test.ts', 'test/integration/verify-memory.test.ts'];
const FLAVOURS: readonly Flavour[] = ['mariadb', 'mysql'];

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests start real servers and wait on real processes.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts', ...SERVERLESS] } },
      ...FLAVOURS.map((flavour) => ({
        extends: true as const,
        test: {
          name: flavour,
          include: ['test/integration/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...SERVERLESS],
          env: { TEST_SERVER_FLAVOUR: flavour },
        },
      })),
    ],
  },
});
