import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { followOutput, isDumpName, makeTempDir, startCli, waitForLog, waitUntil } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort } from '../support/mysql-server.js';
import { canMount, mountSmallFilesystem } from '../support/small-filesystem.js';

const PASSWORD = 'log-full-pw';
const mountable = await canMount();

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe.skipIf(!mountable)('backup.log on a full disk (tmpfs; needs root)', () => {
  const fixture = useBackupServer({ password: PASSWORD });

  it('the daemon keeps backing up, says so on stdout, /metrics and /health, and writes the held lines once there is room', async () => {
    const logVolume = await mountSmallFilesystem(256);
    const logFile = path.join(logVolume.dir, 'backup.log');
    const filler = path.join(logVolume.dir, 'filler');
    // dd stops at ENOSPC: the log's file system is full before the daemon starts.
    await execa('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { reject: false });
    const dir = await makeTempDir();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = sidecarEnv(fixture.server, PASSWORD, dir, {
      BACKUP_SCHEDULE: '*/2 * * * * *',
      BACKUP_LOG_FILE: logFile,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
    });
    const daemon = startCli(['run'], env);
    const stdout = followOutput(daemon);
    const dumps = async () => (await readdir(dir)).filter(isDumpName).sort();
    let result: Awaited<typeof daemon> | undefined;
    try {
      // Two dumps stored while not one line could be written: the log did not stop the backups.
      let stored: string[] = [];
      const deadline = Date.now() + 60_000;
      while ((stored = await dumps()).length < 2 && Date.now() < deadline && daemon.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(daemon.exitCode, `the daemon exited; stdout:\n${stdout.text}`).toBeNull();
      expect(stored.length).toBeGreaterThanOrEqual(2);

      const failing = jsonLines(stdout.text).find((e) => e.event === 'log.failing');
      expect(failing).toMatchObject({ level: 'error', file: logFile });
      expect(failing?.cause).toMatch(/ENOSPC/);
      expect(failing?.msg).toMatch(/backup\.log .*cannot be written.*held in memory/);

      const metrics = await get(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/^mysql_backup_log_write_failing 1$/m);
      expect(metrics.text).toMatch(/^mysql_backup_log_held_bytes [1-9]\d*$/m);
      const health = await get(`${base}/health`);
      expect(health.status).toBe(200);
      const body = JSON.parse(health.text) as { status: string; reason: string };
      expect(body.status).toBe('degraded');
      expect(body.reason).toMatch(/backup\.log cannot be written: ENOSPC/);

      const whileFull = await dumps();
      await rm(filler);
      // Caught up: every run of the full-disk time is in the file, then the recovery line.
      const events = await waitForLog(logFile, (e) => e.some((line) => line.event === 'log.recovered'), 30_000);
      const succeeded = events.filter((e) => e.event === 'backup.succeeded').map((e) => path.basename(String(e.file)));
      for (const name of whileFull) expect(succeeded).toContain(name);
      const recovered = events.find((e) => e.event === 'log.recovered')!;
      expect(recovered).toMatchObject({ droppedLines: 0 });
      expect(recovered.heldLines).toBeGreaterThan(0);
      expect(events.findIndex((e) => e.event === 'log.failing')).toBeLessThan(events.indexOf(recovered));
      await waitUntil(() => jsonLines(stdout.text).some((e) => e.event === 'log.recovered'), 'the recovery on stdout');
      expect((await get(`${base}/metrics`)).text).toMatch(/^mysql_backup_log_write_failing 0$/m);
      expect(JSON.parse((await get(`${base}/health`)).text)).toMatchObject({ status: 'ok' });
    } finally {
      daemon.kill('SIGTERM');
      result = await daemon;
      await logVolume.unmount();
    }
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/unhandled|unexpected error|ENOSPC/i);
  });
});
