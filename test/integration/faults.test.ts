import { chmod, chown, mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import {
  countEvents,
  dumpLikeEntries,
  followOutput,
  isDumpName,
  makeTempDir,
  readLogEvents,
  runCli,
  startCli,
  waitForLog,
  waitUntil,
} from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { startTestServer } from '../support/mysql-server.js';
import { listProcesses } from '../support/processes.js';
import { restoreWithMysqlClient } from '../support/restore.js';
import { HOLDABLE_DUMPS, holdDumpMidway, STALL_SCHEMA } from '../support/stalled-dump.js';

const PASSWORD = 'faults-Pw-7f3e';
const NOBODY = 65534;

/**
 * The fault matrix. Every case checks the same promises: nothing is named like a backup unless
 * it is complete and checksummed, older backups are untouched, the failure is reported with its
 * cause, the password shows up nowhere, the private credentials directory is gone, and the next
 * run succeeds once the fault is gone.
 */
describe('faults', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true, ...HOLDABLE_DUMPS });
  let cliPids: number[] = [];

  afterEach(async () => {
    // In every path, faults included, the private defaults file goes with its run.
    const left = (await readdir(os.tmpdir())).filter((n) => cliPids.some((pid) => n.startsWith(`mysql-backup-sidecar-${pid}-`)));
    expect(left).toEqual([]);
    cliPids = [];
  });

  /** A directory holding one earlier good backup, whose files must survive every fault. */
  async function dirWithOlderBackup(): Promise<{ dir: string; older: string[] }> {
    const dir = await makeTempDir();
    const first = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir));
    expect(first.exitCode, first.stderr).toBe(0);
    return { dir, older: await dumpLikeEntries(dir) };
  }

  async function expectCleanFailure(dir: string, older: string[], output: { stdout: string; stderr: string }) {
    expect(await dumpLikeEntries(dir)).toEqual(older);
    await execa('sha256sum', ['-c', ...older.filter((n) => n.endsWith('.sha256'))], { cwd: dir });
    const log = (await readLogEvents(path.join(dir, 'backup.log'))).map((e) => JSON.stringify(e)).join('\n');
    for (const text of [output.stdout, output.stderr, log]) expect(text).not.toContain(PASSWORD);
  }

  async function expectNextRunSucceeds(dir: string) {
    const next = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir));
    expect(next.stderr).toBe('');
    expect(next.exitCode, next.stderr).toBe(0);
  }

  it('a frozen server (SIGSTOP) mid-dump: BACKUP_TIMEOUT stops the run; nothing hangs', async () => {
    const { dir, older } = await dirWithOlderBackup();
    const stall = await holdDumpMidway(fixture.server);
    const cli = startCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_TIMEOUT: '3s' }));
    cliPids.push(cli.pid!);
    await stall.waitUntilDumpWaits('backup');
    await fixture.server.freeze();
    const result = await cli;
    await fixture.server.thaw();
    await stall.release();
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain('mysqldump did not finish within BACKUP_TIMEOUT (3s) and was stopped');
    await expectCleanFailure(dir, older, result);
    await expectNextRunSucceeds(dir);
  });

  it('the account loses a privilege the dump needs (EVENT): the run fails before dumping, naming the grant', async () => {
    const { dir, older } = await dirWithOlderBackup();
    await fixture.server.query("REVOKE EVENT ON *.* FROM 'backup'@'%'");
    try {
      const cli = startCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir));
      cliPids.push(cli.pid!);
      const result = await cli;
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toContain('the account backup@% lacks EVENT (mysqldump fails at SHOW EVENTS)');
      expect(result.stderr).toContain("GRANT EVENT ON *.* TO 'backup'@'%'");
      await expectCleanFailure(dir, older, result);
    } finally {
      await fixture.server.query("GRANT EVENT ON *.* TO 'backup'@'%'");
    }
    await expectNextRunSucceeds(dir);
  });

  it.each([
    ['ALTER TABLE on a table not yet dumped', `ALTER TABLE ${STALL_SCHEMA}.u_later ADD COLUMN extra INT`],
    ['RENAME TABLE of a table not yet dumped', `RENAME TABLE ${STALL_SCHEMA}.u_later TO ${STALL_SCHEMA}.renamed`],
    ['TRUNCATE of a table not yet dumped', `TRUNCATE TABLE ${STALL_SCHEMA}.u_later`],
    ['ALTER TABLE on a table already dumped', 'ALTER TABLE `app-data`.`legacy-log` ADD COLUMN extra INT'],
  ])('DDL during the dump (%s): no dump is kept that would not restore', async (_case, ddl) => {
    const { dir, older } = await dirWithOlderBackup();
    const { server } = fixture;
    await server.query(`CREATE DATABASE IF NOT EXISTS ${STALL_SCHEMA}`);
    await server.query(`DROP TABLE IF EXISTS ${STALL_SCHEMA}.u_later, ${STALL_SCHEMA}.renamed`);
    await server.query(`CREATE TABLE ${STALL_SCHEMA}.u_later (id INT PRIMARY KEY, note VARCHAR(20))`);
    await server.query(`INSERT INTO ${STALL_SCHEMA}.u_later VALUES (1, 'one'), (2, 'two')`);
    const stall = await holdDumpMidway(server);
    const cli = startCli(['backup'], sidecarEnv(server, PASSWORD, dir));
    cliPids.push(cli.pid!);
    await stall.waitUntilDumpWaits('backup');
    // mysqldump holds the metadata lock of tables it has read until it ends, so DDL on those
    // waits for it: issue the DDL, let the dump go on, and only then wait for both.
    const ddlDone = server.query(ddl).then(
      () => 'applied',
      (error: Error) => error.message,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await stall.release();
    const result = await cli;
    await ddlDone;
    const extra = await server.query("SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app-data' AND TABLE_NAME = 'legacy-log' AND COLUMN_NAME = 'extra'");
    if (extra.length > 0) await server.query('ALTER TABLE `app-data`.`legacy-log` DROP COLUMN extra');

    if (result.exitCode !== 0) {
      expect(result.stderr).toMatch(/backup failed: mysqldump/);
      await expectCleanFailure(dir, older, result);
      return;
    }
    // Kept: then it must be complete and restore. (zz_stall.u_later sorts after zz_stall.t, the
    // table the dump waits on, so it is not yet dumped when the DDL runs.)
    const dump = (await dumpLikeEntries(dir)).find((n) => isDumpName(n) && !older.includes(n))!;
    await execa('sha256sum', ['-c', `${dump}.sha256`], { cwd: dir });
    const scratch = await startTestServer();
    try {
      await restoreWithMysqlClient(scratch, path.join(dir, dump));
      expect(await scratch.query('SELECT COUNT(*) AS n FROM `app-data`.`order lines`')).toEqual([{ n: 100_000 }]);
    } finally {
      await scratch.stop();
    }
  });

  it('a row larger than the client\'s default max_allowed_packet dumps and restores', async () => {
    const { server } = fixture;
    const size = 30 * 1024 * 1024;
    await server.query('SET GLOBAL max_allowed_packet = 67108864');
    const admin = await mysql.createConnection(server.adminConnection());
    try {
      await admin.query('CREATE DATABASE IF NOT EXISTS big');
      await admin.query('CREATE TABLE IF NOT EXISTS big.blobs (id INT PRIMARY KEY, b LONGBLOB)');
      await admin.query('REPLACE INTO big.blobs VALUES (1, ?)', [Buffer.alloc(size, 0x5a)]);
    } finally {
      await admin.end();
    }
    const dir = await makeTempDir();
    try {
      const cli = startCli(['backup'], sidecarEnv(server, PASSWORD, dir));
      cliPids.push(cli.pid!);
      const result = await cli;
      expect(result.stderr).toBe('');
      expect(result.exitCode, result.stderr).toBe(0);
      const scratch = await startTestServer();
      try {
        await scratch.query('SET GLOBAL max_allowed_packet = 67108864');
        const dump = (await dumpLikeEntries(dir)).find(isDumpName)!;
        await restoreWithMysqlClient(scratch, path.join(dir, dump));
        // SHA2, not MD5: MySQL 9.7 has no MD5().
        expect(await scratch.query('SELECT LENGTH(b) AS n, SHA2(b, 256) = SHA2(REPEAT(\'Z\', ?), 256) AS same FROM big.blobs', [size])).toEqual([
          { n: size, same: 1 },
        ]);
      } finally {
        await scratch.stop();
      }
    } finally {
      await server.query('DROP DATABASE big');
    }
  });

  it('the compressor dying while mysqldump is fine fails the run', async () => {
    const { dir, older } = await dirWithOlderBackup();
    const stall = await holdDumpMidway(fixture.server);
    const cli = startCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_COMPRESSION: 'zstd' }));
    cliPids.push(cli.pid!);
    await stall.waitUntilDumpWaits('backup');
    const zstd = (await listProcesses()).find((p) => p.ppid === cli.pid && p.argv[0]?.endsWith('zstd'));
    expect(zstd).toBeDefined();
    process.kill(zstd!.pid, 'SIGKILL');
    await stall.release();
    const result = await cli;
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/backup failed: writing the dump failed: .*zstd/i);
    await expectCleanFailure(dir, older, result);
    await expectNextRunSucceeds(dir);
  });

  it('BACKUP_DIR removed under the running daemon: runs fail with that cause until it is back', async () => {
    const { dir } = await dirWithOlderBackup();
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_SCHEDULE: '*/2 * * * * *', BACKUP_ON_START: 'false' }));
    const output = followOutput(daemon);
    cliPids.push(daemon.pid!);
    try {
      await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.succeeded') >= 2);
      await rm(dir, { recursive: true });
      // The daemon's stdout carries the failure while the log file's directory is gone.
      await waitUntil(() => /BACKUP_DIR .* does not exist/.test(output.text), 'a run reporting the missing BACKUP_DIR');
      await mkdir(dir);
      // backup.log follows its path into the new directory on the next run.
      await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.succeeded') >= 1);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });

  it.skipIf(process.getuid?.() !== 0)('BACKUP_DIR made read-only in the middle of a run (needs root): the run fails with that cause; the daemon removes its partial file once it can', async () => {
    const dir = await makeTempDir();
    await chown(dir, NOBODY, NOBODY);
    const stall = await holdDumpMidway(fixture.server);
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_SCHEDULE: '*/2 * * * * *' }), { user: NOBODY });
    cliPids.push(daemon.pid!);
    try {
      await stall.waitUntilDumpWaits('backup');
      const [partial] = (await readdir(dir)).filter((n) => n.endsWith('.partial'));
      expect(partial).toBeDefined();
      // The dump goes on into its open file; giving it a name, and removing it, now fail.
      await chmod(dir, 0o555);
      await stall.release();
      const [failed] = (await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.failed') >= 1)).filter(
        (e) => e.event === 'backup.failed',
      );
      expect(failed!.cause).toMatch(/EACCES/);
      expect(failed!.cause).not.toMatch(/unexpected error/);
      expect(failed!.cause).toContain(`${partial} could not be removed`);
      expect(await readdir(dir)).toContain(partial);
      await chmod(dir, 0o755);
      const events = await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.succeeded') >= 1);
      expect(events.filter((e) => e.event === 'cleanup.removed').map((e) => e.path)).toContain(path.join(dir, partial!));
    } finally {
      await stall.release();
      await chmod(dir, 0o755);
      daemon.kill('SIGTERM');
      await daemon;
    }
    // Stopped, so no run is in flight whose own partial file would be listed.
    expect((await readdir(dir)).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)('BACKUP_DIR made read-only under the running daemon (needs root): runs fail until it is writable again', async () => {
    // Root writes anywhere and a busy file system cannot be remounted read-only, so the daemon
    // runs as nobody and loses write permission on its directory.
    const dir = await makeTempDir();
    await chown(dir, NOBODY, NOBODY);
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_SCHEDULE: '*/2 * * * * *' }), { user: NOBODY });
    const output = followOutput(daemon);
    cliPids.push(daemon.pid!);
    try {
      await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.succeeded') >= 1);
      await chmod(dir, 0o555);
      await waitUntil(() => /BACKUP_DIR .* is not writable \(EACCES\)/.test(output.text), 'a run reporting the read-only BACKUP_DIR');
      await chmod(dir, 0o755);
      const before = countEvents(await readLogEvents(path.join(dir, 'backup.log')), 'backup.succeeded');
      await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.succeeded') > before);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
    // Only once stopped: a run in flight has its own partial file, which is no leftover.
    expect((await readdir(dir)).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });
});
