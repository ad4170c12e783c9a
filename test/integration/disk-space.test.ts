import { readdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { isDumpName, makeTempDir, readLogEvents, runCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort } from '../support/mysql-server.js';
import { canMount, mountSmallFilesystem } from '../support/small-filesystem.js';

const PASSWORD = 'space-pw';
const mountable = await canMount();

/** An earlier backup of `bytes`, as the free-space rule sees one. */
async function plantLastDump(dir: string, bytes: number): Promise<string> {
  const name = 'full_dump_20200101_000000.sql.gz';
  await writeFile(path.join(dir, name), Buffer.alloc(bytes, 1));
  await writeFile(path.join(dir, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
  return name;
}

const DAY_MS = 86_400_000;

/** A checksummed dump of `bytes`, `ageDays` old by mtime, as retention sees one. */
async function plantDump(dir: string, name: string, bytes: number, ageDays: number): Promise<string> {
  await writeFile(path.join(dir, name), Buffer.alloc(bytes, 1));
  await writeFile(path.join(dir, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
  const at = new Date(Date.now() - ageDays * DAY_MS);
  await utimes(path.join(dir, name), at, at);
  return name;
}

const MiB = 1024 * 1024;

describe.skipIf(!mountable)('a small or full backup volume (tmpfs; needs root)', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });

  it('refuses to start a dump when less than 1.3 times the last one is free, before touching the server', async () => {
    const volume = await mountSmallFilesystem(3 * 1024);
    try {
      await plantLastDump(volume.dir, 2 * 1024 * 1024);
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, volume.dir));
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/not enough space: [\d.]+ MiB free in BACKUP_DIR .*the last dump took 2\.0 MiB; a run needs at least 1\.3 times that/);
      expect(result.stderr).toMatch(/nothing could be freed: no dump is older than BACKUP_RETENTION \(1w\) but for those kept by BACKUP_KEEP_MIN \(1\) and the newest good one/);
      const events = await readLogEvents(path.join(volume.dir, 'backup.log'));
      expect(events.map((e) => e.event)).not.toContain('backup.started');
    } finally {
      await volume.unmount();
    }
  });

  it('warns below 2 times and goes on', async () => {
    const volume = await mountSmallFilesystem(6 * 1024);
    try {
      await plantLastDump(volume.dir, Math.round(2.4 * 1024 * 1024));
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, volume.dir));
      expect(result.exitCode, result.stderr).toBe(0);
      const events = await readLogEvents(path.join(volume.dir, 'backup.log'));
      expect(events.find((e) => e.event === 'backup.warning')?.warning).toMatch(/space is running low/);
    } finally {
      await volume.unmount();
    }
  });

  it('a disk that fills up during the write fails the run with ENOSPC and leaves older backups intact', async () => {
    // A volume half the size of this server's dump (which differs by flavour and version) cannot hold it.
    const measured = await makeTempDir();
    expect((await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, measured))).exitCode).toBe(0);
    const dumpBytes = (await stat(path.join(measured, (await readdir(measured)).find(isDumpName)!))).size;
    const volume = await mountSmallFilesystem(Math.max(128, Math.floor(dumpBytes / 2048)));
    try {
      const older = await plantLastDump(volume.dir, 16 * 1024);
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, volume.dir));
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/writing the dump failed: .*ENOSPC/);
      const left = await readdir(volume.dir);
      expect(left.filter((n) => n.includes('full_dump')).sort()).toEqual([older, `${older}.sha256`]);
    } finally {
      await volume.unmount();
    }
  });

  it('a volume too full for a run deletes expired dumps, oldest first and only as many as make it fit, then backs up', async () => {
    const volume = await mountSmallFilesystem(4 * 1024);
    try {
      const oldest = await plantDump(volume.dir, 'full_dump_20200101_000000.sql.gz', Math.round(1.6 * MiB), 10);
      const older = await plantDump(volume.dir, 'full_dump_20200102_000000.sql.gz', Math.round(0.3 * MiB), 9);
      await plantDump(volume.dir, 'full_dump_20200103_000000.sql.gz', Math.round(1.5 * MiB), 0);
      // 0.6 MiB free, 1.95 MiB needed: deleting the oldest (1.6 MiB) is enough, the other one is not needed.
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, volume.dir));
      expect(result.exitCode, result.stderr).toBe(0);
      const events = await readLogEvents(path.join(volume.dir, 'backup.log'));
      const deleted = events.filter((e) => e.event === 'retention.deleted');
      expect(deleted.map((e) => [e.file, e.reason])).toEqual([[oldest, 'space']]);
      expect(events.find((e) => e.event === 'backup.warning')?.warning).toMatch(
        new RegExp(`deleted 1 expired dump \\(${oldest.replace(/\./g, '\\.')}, 1\\.6 MiB\\) ahead of retention to make room`),
      );
      const left = await readdir(volume.dir);
      expect(left).toContain(older);
      expect(left.filter(isDumpName)).toHaveLength(3);
    } finally {
      await volume.unmount();
    }
  });

  it('deletes nothing when even every expired dump would not make room, and says so', async () => {
    const volume = await mountSmallFilesystem(4 * 1024);
    try {
      const expired = await plantDump(volume.dir, 'full_dump_20200101_000000.sql.gz', Math.round(0.3 * MiB), 10);
      await plantDump(volume.dir, 'full_dump_20200103_000000.sql.gz', 2 * MiB, 0);
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, volume.dir));
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toMatch(
        /deleting the one dump older than BACKUP_RETENTION \(1w\) would free only 0\.3 MiB of the [\d.]+ MiB needed, so none was deleted/,
      );
      expect(await readdir(volume.dir)).toContain(expired);
      const events = await readLogEvents(path.join(volume.dir, 'backup.log'));
      expect(events.map((e) => e.event)).not.toContain('retention.deleted');
    } finally {
      await volume.unmount();
    }
  });

  it('a run short of room that fails before dumping (server unreachable) deletes nothing', async () => {
    const volume = await mountSmallFilesystem(4 * 1024);
    try {
      const oldest = await plantDump(volume.dir, 'full_dump_20200101_000000.sql.gz', Math.round(1.6 * MiB), 10);
      await plantDump(volume.dir, 'full_dump_20200103_000000.sql.gz', Math.round(1.5 * MiB), 0);
      const unreachable = { MYSQL_PORT: String(await freePort()), MYSQL_WAIT_TIMEOUT: '2s' };
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, volume.dir, unreachable));
      expect(result.exitCode, result.stderr).toBe(1);
      expect(await readdir(volume.dir)).toContain(oldest);
      const events = await readLogEvents(path.join(volume.dir, 'backup.log'));
      expect(events.map((e) => e.event)).not.toContain('retention.deleted');
    } finally {
      await volume.unmount();
    }
  });
});
