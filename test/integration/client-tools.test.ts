import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { dumpLikeEntries, makeTempDir, readLogEvents, runCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { clientDirOf, type Flavour, freePort } from '../support/mysql-server.js';
import { adminCnf } from '../support/restore.js';

const PASSWORD = 'family-pw';
const FAMILY: Record<Flavour, string> = { mysql: 'MySQL', mariadb: 'MariaDB' };

describe("the client tools of the server's own family", () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });
  let otherFamily: string;
  let otherName: string;

  beforeAll(async () => {
    const other: Flavour = fixture.server.flavour === 'mysql' ? 'mariadb' : 'mysql';
    otherFamily = await clientDirOf(other);
    otherName = FAMILY[other];
  });

  it("`backup` with the other family's mysqldump is refused as a configuration error (exit 2), naming both, and dumps nothing", async () => {
    const dir = await makeTempDir();
    const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, { MYSQL_CLIENT_DIR: otherFamily }));
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`${path.join(otherFamily, 'mysqldump')} is ${otherName}'s`);
    expect(result.stderr).toMatch(new RegExp(`but the server at 127\\.0\\.0\\.1:\\d+ is ${FAMILY[fixture.server.flavour]} \\d+\\.\\d+`));
    expect(result.stderr).toContain('refusing to use another family');
    expect(result.stderr).toContain('MYSQL_CLIENT_DIR');
    expect((await dumpLikeEntries(dir)).filter((n) => n !== 'backup.log')).toEqual([]);
  });

  it('`run` stops with exit 2 at its first run instead of failing every run, and says why in backup.log', async () => {
    const dir = await makeTempDir();
    const result = await runCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { MYSQL_CLIENT_DIR: otherFamily, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(await freePort()) }));
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('refusing to use another family');
    const events = (await readLogEvents(path.join(dir, 'backup.log'))).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['backup.failed', 'daemon.refusing', 'daemon.stopped']));
    expect(events).not.toContain('backup.started');
  });

  it("`restore` with the other family's mysql client refuses before writing anything", async () => {
    const dir = await makeTempDir();
    const env = sidecarEnv(fixture.server, PASSWORD, dir);
    expect((await runCli(['backup'], env)).exitCode).toBe(0);
    const cnf = await adminCnf(fixture.server);
    await fixture.server.query('DROP TABLE `inventory`.`stock`');
    try {
      const restore = await runCli(['restore', 'latest', '--yes', '--defaults-file', cnf], { ...env, MYSQL_CLIENT_DIR: otherFamily });
      expect(restore.exitCode, restore.stderr).toBe(2);
      expect(restore.stderr).toContain(`${path.join(otherFamily, 'mysql')} is ${otherName}'s`);
      expect(restore.stderr).toMatch(/but the target 127\.0\.0\.1:\d+ is/);
      // The dump holds the table: had the restore written anything, it would be back.
      expect(await fixture.server.query("SHOW TABLES FROM `inventory` LIKE 'stock'")).toHaveLength(0);
    } finally {
      expect((await runCli(['restore', 'latest', '--yes', '--defaults-file', cnf], env)).exitCode).toBe(0);
    }
  });

  it('a MYSQL_CLIENT_DIR without mysqldump stops `run` at start-up, naming where it looked', async () => {
    const empty = await makeTempDir('mbs-no-tools-');
    await mkdir(path.join(empty, 'bin'));
    // mysql alone, as a client-only install might have it: still no mysqldump.
    await symlink(path.join(fixture.server.clientDir, 'mysql'), path.join(empty, 'bin', 'mysql'));
    const dir = await makeTempDir();
    const result = await runCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { MYSQL_CLIENT_DIR: path.join(empty, 'bin') }));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain(`mysqldump or mariadb-dump was not found in MYSQL_CLIENT_DIR (${path.join(empty, 'bin')})`);
  });

  it('a MYSQL_CLIENT_DIR that is not a directory is a configuration error', async () => {
    const dir = await makeTempDir();
    const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, { MYSQL_CLIENT_DIR: '/nowhere/bin' }));
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('MYSQL_CLIENT_DIR="/nowhere/bin" is not a directory');
  });
});
