import { execa } from 'execa';

/** Tests run the built CLI; build it once so they never exercise a stale dist/. */
export default async function setup(): Promise<void> {
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
