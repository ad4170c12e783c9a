import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/** What one command cost, as the kernel accounted it for the whole process tree. */
export interface Usage {
  readonly wallSeconds: number;
  /** User + system CPU of the command and every child it waited for. */
  readonly cpuSeconds: number;
  /** The largest resident set of any single process in the tree. */
  readonly maxRssKiB: number;
}

/**
 * Runs `command` under GNU time, which reports wait4()'s rusage: CPU summed over the tree, peak RSS
 * of its largest process. Fails loudly with the command's stderr, so a broken contender never
 * turns into a fast-looking figure.
 */
export async function measure(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<Usage> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-bench-time-'));
  const report = path.join(dir, 'time');
  try {
    const result = await execa('/usr/bin/time', ['-o', report, '-f', '%e %U %S %M', command, ...args], {
      // Only what the caller names: a stray MYSQL_PWD or NODE_OPTIONS must not change a figure.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env },
      extendEnv: false,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      reject: false,
      stdin: 'ignore',
    });
    if (result.exitCode !== 0) {
      throw new Error(`${command} ${args.join(' ')} exited ${result.exitCode}:\n${result.stderr.slice(-2000)}`);
    }
    const last = (await readFile(report, 'utf8')).trim().split('\n').pop() ?? '';
    const [wall, user, system, rss] = last.split(' ').map(Number);
    return { wallSeconds: wall!, cpuSeconds: user! + system!, maxRssKiB: rss! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A shell pipeline measured as one tree; the shell fails when any stage fails. */
export const measurePipeline = (script: string, options: { env?: Record<string, string> } = {}) =>
  measure('bash', ['-o', 'pipefail', '-c', script], options);

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
