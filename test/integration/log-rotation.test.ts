import { readFile, rename, truncate } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, makeTempDir, readLogEvents, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';

const PASSWORD = 'rotation-pw';

describe('backup.log under rotation', () => {
  const fixture = useBackupServer({ password: PASSWORD });

  it('follows a rename after SIGHUP, and keeps valid lines after copytruncate', async () => {
    const dir = await makeTempDir();
    const log = path.join(dir, 'backup.log');
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_SCHEDULE: '*/2 * * * * *' }));
    try {
      await waitForLog(log, (e) => countEvents(e, 'backup.succeeded') >= 1);

      // logrotate's default: rename, then tell the program to reopen.
      await rename(log, `${log}.1`);
      daemon.kill('SIGHUP');
      await waitForLog(log, (e) => countEvents(e, 'backup.succeeded') >= 1);
      const rotated = await readLogEvents(`${log}.1`);
      expect(countEvents(rotated, 'backup.succeeded')).toBeGreaterThanOrEqual(1);

      // logrotate's copytruncate: the file shrinks under the open descriptor.
      await truncate(log, 0);
      await waitForLog(log, (e) => countEvents(e, 'backup.succeeded') >= 1);
      const text = await readFile(log, 'utf8');
      // Appends land at the new end: no hole of NUL bytes where the old content was.
      expect(text.startsWith('{')).toBe(true);
      expect(text).not.toContain('\0');
    } finally {
      daemon.kill('SIGTERM');
      expect((await daemon).exitCode).toBe(0);
    }
  });
});
