import { existsSync } from 'node:fs';
import { chmod, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { execaSync } from 'execa';
import { beforeEach, describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { dumpLikeEntries, makeTempDir, readLogEvents, runCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort } from '../support/mysql-server.js';

const PASSWORD = 'correct horse battery staple';
const NOBODY = 65534;

/**
 * A careless user's mistakes: each gives one clear message that names what is wrong, a non-zero
 * exit, and leaves nothing named like a backup.
 */
describe('backup with bad input', () => {
  const fixture = useBackupServer({ password: PASSWORD });
  let env: Record<string, string>;
  let dir: string;

  beforeEach(async () => {
    dir = await makeTempDir();
    env = sidecarEnv(fixture.server, PASSWORD, dir);
  });

  it('a wrong password fails at once, naming the account, and never echoes the password', async () => {
    const wrong = 'not-the-password-123';
    const started = Date.now();
    const result = await runCli(['backup'], { ...env, MYSQL_PASSWORD: wrong, MYSQL_WAIT_TIMEOUT: '1m' });
    expect(result.exitCode, result.stderr).toBe(1);
    // Refusals are not retried for the minute the wait allows.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.stderr).toMatch(/refused user 'backup'.*Access denied/);
    expect(result.stderr + result.stdout).not.toContain(wrong);
    expect(await dumpLikeEntries(dir)).toEqual([]);
    const events = await readLogEvents(path.join(dir, 'backup.log'));
    expect(events.at(-1)).toMatchObject({ event: 'backup.failed', level: 'error' });
  });

  it('an unreachable server is waited for with backoff until MYSQL_WAIT_TIMEOUT, then fails', async () => {
    const closedPort = await freePort();
    const result = await runCli(['backup'], { ...env, MYSQL_PORT: String(closedPort), MYSQL_WAIT_TIMEOUT: '3s' });
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain(`MySQL at ${fixture.server.host}:${closedPort} did not answer within 3s`);
    expect(result.stderr).toContain('ECONNREFUSED');
    const events = await readLogEvents(path.join(dir, 'backup.log'));
    const waits = events.filter((e) => e.event === 'mysql.waiting');
    expect(waits.length).toBeGreaterThanOrEqual(2);
    // Backoff: the waits grow; only the last may be cut short by the deadline.
    const delays = waits.map((e) => Number(e.retryInMs)).slice(0, -1);
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(delays[1]).toBeGreaterThan(delays[0]!);
    expect(await dumpLikeEntries(dir)).toEqual([]);
  });

  it('a missing secret file names the variable and the file', async () => {
    const { MYSQL_PASSWORD: _unused, ...rest } = env;
    const result = await runCli(['backup'], { ...rest, MYSQL_PASSWORD_FILE: '/run/secrets/does-not-exist' });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('MYSQL_PASSWORD_FILE="/run/secrets/does-not-exist" cannot be read: no such file');
    expect(await dumpLikeEntries(dir)).toEqual([]);
  });

  it('a secret "file" that cannot be read as one says why', async () => {
    const { MYSQL_PASSWORD: _unused, ...rest } = env;
    const notAFile = await makeTempDir('mbs-secrets-');
    const result = await runCli(['backup'], { ...rest, MYSQL_PASSWORD_FILE: notAFile });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`MYSQL_PASSWORD_FILE=${JSON.stringify(notAFile)} cannot be read: it is a directory`);
  });

  it('a missing MYSQL_DEFAULTS_FILE is named', async () => {
    const result = await runCli(['backup'], { ...env, MYSQL_DEFAULTS_FILE: '/nope/.my.cnf' });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('MYSQL_DEFAULTS_FILE="/nope/.my.cnf" cannot be read: no such file');
  });

  it('an invalid compression name is named with the accepted ones', async () => {
    const result = await runCli(['backup'], { ...env, BACKUP_COMPRESSION: 'brotli' });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('BACKUP_COMPRESSION="brotli" expected gzip, zstd or none');
    expect(await dumpLikeEntries(dir)).toEqual([]);
  });

  it.each([['run'], ['backup']])('`%s` without the zstd program (the default compressor) stops at once, naming it', async (command) => {
    // A PATH with mysqldump and nothing else: what a machine without the zstd package has.
    const tools = await makeTempDir();
    await symlink(execaSync('sh', ['-c', 'command -v mysqldump']).stdout, path.join(tools, 'mysqldump'));
    const result = await runCli([command], { ...env, PATH: tools });
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain('BACKUP_COMPRESSION=zstd but the zstd program cannot run');
    expect(result.stderr).toContain('apt-get install zstd');
    expect(await dumpLikeEntries(dir)).toEqual([]);
  });

  it('a BACKUP_DIR that does not exist is reported, not created', async () => {
    const missing = path.join(dir, 'not-mounted');
    const result = await runCli(['backup'], { ...env, BACKUP_DIR: missing });
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain(`BACKUP_DIR ${missing} does not exist`);
    expect(existsSync(missing)).toBe(false);
  });

  it('an unwritable BACKUP_DIR is reported', async () => {
    // Root may write anywhere, so the CLI runs as nobody against a directory nobody cannot write.
    const asRoot = process.getuid?.() === 0;
    const readOnly = path.join(dir, 'read-only');
    await mkdir(readOnly);
    await chmod(readOnly, 0o555);
    await chmod(dir, 0o755);
    const result = await runCli(['backup'], { ...env, BACKUP_DIR: readOnly }, asRoot ? { user: NOBODY } : {});
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain(`BACKUP_DIR ${readOnly} is not writable`);
    expect(await dumpLikeEntries(readOnly)).toEqual([]);
  });

  it('several bad values are all reported at once', async () => {
    const result = await runCli(['backup'], {
      ...env,
      MYSQL_PORT: '70000',
      BACKUP_RETENTION: '7 days',
      BACKUP_SCHEDULE: 'every three hours',
      TZ: 'Mars/Olympus',
    });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('MYSQL_PORT="70000" expected a whole number from 1 to 65535');
    expect(result.stderr).toContain('BACKUP_RETENTION="7 days" is not a duration');
    expect(result.stderr).toContain('BACKUP_SCHEDULE="every three hours" has 3 fields');
    expect(result.stderr).toContain('TZ="Mars/Olympus" is not a time zone');
  });

  it.each([
    ['BACKUP_SCHEDULE', 'every 3 hours', 'BACKUP_SCHEDULE="every 3 hours" has 3 fields: expected a cron expression of 5 fields'],
    ['BACKUP_SCHEDULE', '0 25 * * *', 'BACKUP_SCHEDULE="0 25 * * *" is not a valid cron expression'],
    ['BACKUP_RETENTION', '7', 'BACKUP_RETENTION="7" is not a duration: expected a whole number and a unit'],
    ['TZ', 'CEST', 'TZ="CEST" is not a time zone: expected an IANA name such as UTC or Europe/Berlin'],
  ])('run refuses to start with %s=%j', async (variable, value, message) => {
    const result = await runCli(['run'], { ...env, [variable]: value });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(message);
    expect(await dumpLikeEntries(dir)).toEqual([]);
  });

  // restore's options, read before the configuration, the dump or the server.
  const AT = '2026-12-07 09:00:00+00:00';
  it.each([
    [['--as', 'copy'], '--as NEW names the database --database NAME is restored under: give --database too'],
    [['--database', 'mysql'], "--database mysql: the server's own databases are restored with the whole dump, not alone"],
    [['--database', 'shop', '--as', 'shop'], "--as shop is the database's own name: leave --as out to restore it in place"],
    [['--database', 'shop', '--table', 'orders', '--as', 'shop2', '--to', AT], '--table orders --as shop2 with a target: restore --database shop --as shop2 to the point instead'],
    [['--database', 'my shop', '--as', 'copy', '--to', AT], '--database my shop with a target: the roll-forward renames the database with mysqlbinlog --rewrite-db, which cannot take a name with a space or "->" in it'],
    [['--database', 'shop', '--as', 'a->b', '--to', AT], '--as a->b with a target: the roll-forward renames the database'],
  ])('restore with %j is refused before anything is read or written', async (args, message) => {
    const result = await runCli(['restore', ...args, '--yes'], env);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
