import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Compression } from '../../src/config/schema.js';
import { freePort, type TestServer } from '../../test/support/mysql-server.js';
import { CLI, inScratchDir, manifestIn, productEnv } from './contenders.js';

/**
 * The long-running daemon (`run`), not the one-shot command: started with a backup on start and no
 * other run due, it is asked for its peak resident set (VmHWM) once that backup is stored.
 */
export async function daemonPeakRss(server: TestServer, compression: Compression): Promise<{ peakRssKiB: number; rawBytes: number }> {
  return inScratchDir(async (dir) => {
    const port = await freePort();
    const daemon = startBenchDaemon(server, dir, port, { BACKUP_COMPRESSION: compression, BACKUP_ON_START: 'true' });
    try {
      await waitForStoredBackup(`http://127.0.0.1:${port}/metrics`);
      const status = await readFile(`/proc/${daemon.pid}/status`, 'utf8');
      return { peakRssKiB: Number(/VmHWM:\s+(\d+)/.exec(status)![1]), rawBytes: (await manifestIn(dir)).rawBytes };
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });
}

export async function waitForStoredBackup(metricsUrl: string): Promise<void> {
  const deadline = Date.now() + 3_600_000;
  while (Date.now() < deadline) {
    const text = await fetch(metricsUrl).then((response) => response.text(), () => '');
    if (/^mysql_backup_runs_total\{result="failure"\} [1-9]/m.test(text)) throw new Error('the daemon\'s backup failed');
    if (/^mysql_backup_runs_total\{result="success"\} [1-9]/m.test(text)) return;
    await sleep(200);
  }
  throw new Error('the daemon stored no backup within an hour');
}

/** `run` on `dir` with no scheduled run due, quiet, its HTTP on loopback at `port`; `env` adds to the product's settings. */
export function startBenchDaemon(server: TestServer, dir: string, port: number, env: Record<string, string>) {
  return execa(process.execPath, [CLI, 'run'], {
    cwd: dir,
    extendEnv: false,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...productEnv(server, dir),
      BACKUP_SCHEDULE: '0 0 1 1 *',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      ...env,
    },
    stdio: 'ignore',
    reject: false,
  });
}
