import { lstat, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, makeTempDir, runCli, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort } from '../support/mysql-server.js';

const PASSWORD = 'retention-pw';
const DAY = 86_400_000;

/** Writes `name` with an mtime `ageDays` ago. */
async function plant(dir: string, name: string, ageDays: number, content = 'x'): Promise<void> {
  const file = path.join(dir, name);
  await writeFile(file, content);
  const when = new Date(Date.now() - ageDays * DAY);
  await utimes(file, when, when);
}

async function plantDump(dir: string, stamp: string, ageDays: number): Promise<string[]> {
  const name = `full_dump_${stamp}.sql.gz`;
  const files = [name, `${name}.sha256`, `${name}.manifest.json`];
  for (const f of files) await plant(dir, f, ageDays);
  return files;
}

describe('retention', () => {
  const fixture = useBackupServer({ password: PASSWORD });

  it('after a successful run deletes exactly the old dumps of its own, never after a failed one', async () => {
    const dir = await makeTempDir();
    const outside = await makeTempDir('mbs-outside-');
    const expired = [
      ...(await plantDump(dir, '20200101_000000', 30)),
      ...(await plantDump(dir, '20200102_000000', 20)),
      ...(await plantDump(dir, '20200103_000000', 10)),
    ];
    const fresh = await plantDump(dir, '20200104_000000', 1);
    const foreign = ['notes.txt', 'other.sql', 'full_dump_20190101_0000.sql', 'full_dump_20190101_000000.sql.bak'];
    for (const name of foreign) await plant(dir, name, 60);
    // A symlink named like a dump, pointing outside BACKUP_DIR at an old file.
    await plant(outside, 'precious.sql.gz', 60, 'not yours');
    await symlink(path.join(outside, 'precious.sql.gz'), path.join(dir, 'full_dump_20190201_000000.sql.gz'));
    const untouchable = [...fresh, ...foreign, 'full_dump_20190201_000000.sql.gz'];
    const log = path.join(dir, 'backup.log');
    const schedule = { BACKUP_SCHEDULE: '0 0 1 1 *', BACKUP_RETENTION: '7d' };

    // A failed run first: the server is unreachable.
    const failing = startCli(
      ['run'],
      sidecarEnv(fixture.server, PASSWORD, dir, { ...schedule, MYSQL_PORT: String(await freePort()), MYSQL_WAIT_TIMEOUT: '1s' }),
    );
    await waitForLog(log, (events) => countEvents(events, 'backup.failed') === 1);
    failing.kill('SIGTERM');
    expect((await failing).exitCode).toBe(0);
    for (const name of [...expired, ...untouchable]) await lstat(path.join(dir, name));
    expect(countEvents(await waitForLog(log, () => true), 'retention.deleted')).toBe(0);

    // Then a good one.
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, schedule));
    const events = await waitForLog(log, (e) => countEvents(e, 'retention.applied') === 1);
    daemon.kill('SIGTERM');
    expect((await daemon).exitCode).toBe(0);

    const left = await readdir(dir);
    for (const name of expired) expect(left).not.toContain(name);
    for (const name of untouchable) expect(left).toContain(name);
    expect((await lstat(path.join(dir, 'full_dump_20190201_000000.sql.gz'))).isSymbolicLink()).toBe(true);
    expect(await readFile(path.join(outside, 'precious.sql.gz'), 'utf8')).toBe('not yours');
    const deleted = events.filter((e) => e.event === 'retention.deleted').map((e) => e.file);
    expect(deleted.sort()).toEqual(expired.filter((n) => n.endsWith('.sql.gz')).sort());
    expect(events.find((e) => e.event === 'retention.applied')).toMatchObject({ deleted: 3, kept: 2 });
  });

  it('prune --dry-run lists what would go and deletes nothing; prune deletes it', async () => {
    const dir = await makeTempDir();
    const old = await plantDump(dir, '20200101_000000', 30);
    const newest = await plantDump(dir, '20200102_000000', 20);
    const env = sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_RETENTION: '7d' });

    const dry = await runCli(['prune', '--dry-run'], env);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('would delete full_dump_20200101_000000.sql.gz');
    // Every dump is old, and the newest good one is kept whatever its age.
    expect(dry.stdout).toContain('kept full_dump_20200102_000000.sql.gz');
    expect(dry.stdout).toContain('1 to delete (dry run: nothing deleted), 1 kept');
    for (const name of [...old, ...newest]) await lstat(path.join(dir, name));

    const real = await runCli(['prune'], env);
    expect(real.exitCode, real.stderr).toBe(0);
    expect(real.stdout).toContain('deleted full_dump_20200101_000000.sql.gz');
    expect((await readdir(dir)).filter((n) => n.startsWith('full_dump_')).sort()).toEqual(newest.sort());
  });
});
