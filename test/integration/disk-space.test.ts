import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { isDumpName, makeTempDir, readLogEvents, runCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
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

describe.skipIf(!mountable)('a small or full backup volume (tmpfs; needs root)', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });

  it('refuses to start a dump when less than 1.3 times the last one is free, before touching the server', async () => {
    const volume = await mountSmallFilesystem(3 * 1024);
    try {
      await plantLastDump(volume.dir, 2 * 1024 * 1024);
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, volume.dir));
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/not enough space: [\d.]+ MiB free in BACKUP_DIR .*the last dump took 2\.0 MiB; a run needs at least 1\.3 times that/);
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
      expect(result.exitCode).toBe(0);
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
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/writing the dump failed: .*ENOSPC/);
      const left = await readdir(volume.dir);
      expect(left.filter((n) => n.includes('full_dump')).sort()).toEqual([older, `${older}.sha256`]);
    } finally {
      await volume.unmount();
    }
  });
});
