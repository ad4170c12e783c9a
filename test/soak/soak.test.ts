import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { makeTempDir, startCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort } from '../support/mysql-server.js';

const PASSWORD = 'soak-pw';
/** 1000 by the measure; SOAK_RUNS sets another count. */
const RUNS = Number(process.env.SOAK_RUNS ?? 1000);
const BASELINE_RUNS = 50;

const SAMPLES = 10;

/**
 * Resident memory as the median of ten readings a second apart, open descriptors as the most seen:
 * one reading lands anywhere on the garbage collector's saw-tooth, several megabytes wide.
 */
async function footprint(pid: number): Promise<{ rssKiB: number; fds: number }> {
  const rss: number[] = [];
  let fds = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    rss.push(Number(/VmRSS:\s+(\d+)/.exec(status)![1]));
    fds = Math.max(fds, (await readdir(`/proc/${pid}/fd`)).length);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  rss.sort((a, b) => a - b);
  return { rssKiB: (rss[SAMPLES / 2 - 1]! + rss[SAMPLES / 2]!) / 2, fds };
}

/** The daemon's own counters, read from /metrics until `runs` runs have finished. */
async function waitForRuns(base: string, runs: number): Promise<{ failures: number; skipped: number }> {
  const deadline = Date.now() + (runs + 60) * 2_000;
  for (;;) {
    const text = await fetch(`${base}/metrics`).then((r) => r.text(), () => '');
    const count = (result: string) => Number(new RegExp(`^mysql_backup_runs_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    if (count('success') + count('failure') >= runs) {
      return { failures: count('failure'), skipped: Number(/^mysql_backup_skipped_runs_total (\d+)/m.exec(text)?.[1] ?? 0) };
    }
    if (Date.now() > deadline) throw new Error(`fewer than ${runs} runs finished in time`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('soak', () => {
  const fixture = useBackupServer({ password: PASSWORD });

  it(`${RUNS} runs on a one-second schedule leave memory and descriptors where they were after ${BASELINE_RUNS}`, async () => {
    const port = await freePort();
    const daemon = startCli(
      ['run'],
      sidecarEnv(fixture.server, PASSWORD, await makeTempDir(), {
        BACKUP_SCHEDULE: '* * * * * *',
        // About 120 dumps on disk at a time, whatever the count.
        BACKUP_RETENTION: '2m',
        LOG_LEVEL: 'warn',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
      }),
    );
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForRuns(base, BASELINE_RUNS);
      const baseline = await footprint(daemon.pid!);
      const { failures, skipped } = await waitForRuns(base, RUNS);
      const end = await footprint(daemon.pid!);
      console.log(
        `soak: ${RUNS} runs (${failures} failed, ${skipped} ticks skipped); after ${BASELINE_RUNS}: ` +
          `RSS ${baseline.rssKiB} KiB, ${baseline.fds} fds; at the end: RSS ${end.rssKiB} KiB, ${end.fds} fds`,
      );
      expect(failures).toBe(0);
      expect(end.fds).toBeLessThanOrEqual(baseline.fds + 2);
      expect(end.rssKiB).toBeLessThan(baseline.rssKiB * 1.1);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  }, 3 * 3_600_000);
});
