import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/**
 * Tests run the built CLI; build it once so they never exercise a stale dist/. Each vitest
 * project runs the global setup in the same main process: the first one builds.
 */
export default async function setup(): Promise<() => void> {
  // One name for this run, inherited by the test workers: daemon-env.ts claims HTTP ports under it.
  process.env.MBS_TEST_RUN ??= String(process.pid);
  const claims = path.join(os.tmpdir(), `mbs-http-ports-${process.env.MBS_TEST_RUN}`);
  const teardown = () => rmSync(claims, { recursive: true, force: true });
  if (process.env.MBS_TEST_BUILT) return teardown;
  process.env.MBS_TEST_BUILT = '1';
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  return teardown;
}
