import { execa } from 'execa';

/**
 * Tests run the built CLI; build it once so they never exercise a stale dist/. Each vitest
 * project runs the global setup in the same main process: the first one builds.
 */
export default async function setup(): Promise<void> {
  if (process.env.MBS_TEST_BUILT) return;
  process.env.MBS_TEST_BUILT = '1';
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
