import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, makeTempDir, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort } from '../support/mysql-server.js';
import { HOLDABLE_DUMPS, holdDumpMidway } from '../support/stalled-dump.js';

const PASSWORD = 'restart-pw';
const NEVER = { BACKUP_SCHEDULE: '0 0 1 1 *' };

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

async function waitForAnswer(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await fetch(url).then(() => true, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer within 30 s`);
}

describe('what the daemon knows after a restart, and without its directory', () => {
  const fixture = useBackupServer({ password: PASSWORD, ...HOLDABLE_DUMPS });

  it('a crash loop shows in /health: each run the last process never finished counts as a failure', async () => {
    const dir = await makeTempDir();
    const stall = await holdDumpMidway(fixture.server);
    try {
      for (let crash = 1; crash <= 3; crash++) {
        const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { ...NEVER, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(await freePort()) }));
        await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.started') === crash);
        daemon.kill('SIGKILL');
        await daemon;
      }
    } finally {
      await stall.release();
    }
    const port = await freePort();
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { ...NEVER, BACKUP_ON_START: 'false', HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) }));
    try {
      await waitForAnswer(`http://127.0.0.1:${port}/healthz`);
      const health = await get(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(503);
      const body = JSON.parse(health.text) as { status: string; consecutiveFailures: number; lastFailure: { cause: string } };
      expect(body.status).toBe('failing');
      expect(body.consecutiveFailures).toBe(3);
      expect(body.lastFailure.cause).toMatch(/^the previous process ended during run \w+ \(started .*\) without finishing it: it was killed or crashed$/);
      const metrics = await get(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.text).toMatch(/^mysql_backup_consecutive_failures 3$/m);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });

  it('/metrics answers 200 with the directory gauge at 0 while BACKUP_DIR is gone, and /health says why', async () => {
    const parent = await makeTempDir();
    const dir = path.join(parent, 'backups');
    await mkdir(dir);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { ...NEVER, BACKUP_ON_START: 'false', HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) }));
    try {
      await waitForAnswer(`${base}/healthz`);
      expect((await get(`${base}/metrics`)).text).toMatch(/^mysql_backup_dir_available 1$/m);

      await rename(dir, `${dir}.unmounted`);
      const metrics = await get(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/^mysql_backup_dir_available 0$/m);
      expect(metrics.text).toMatch(/^mysql_backup_max_age_seconds \d+$/m);
      const health = await get(`${base}/health`);
      expect(health.status).toBe(503);
      expect(JSON.parse(health.text)).toMatchObject({ status: 'no-directory', reason: `BACKUP_DIR ${dir} does not exist`, backupsOnDisk: null });

      await rename(`${dir}.unmounted`, dir);
      expect((await get(`${base}/metrics`)).text).toMatch(/^mysql_backup_dir_available 1$/m);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });
});
