import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, readLogEvents, runCli, waitUntil } from '../support/cli.js';
import { fingerprint } from '../support/fingerprint.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { startTestServer, type TestServer } from '../support/mysql-server.js';
import { restoreWithMysqlClient } from '../support/restore.js';
import { createBackupAccount, loadSampleData } from '../support/sample-data.js';

const BACKUP_USER = 'backup';
// Every character that breaks naive quoting in a shell, an option file or SQL.
const PASSWORD = `p@ss"w\\o'rd #1 ;x=y $HOME \`id\``;

describe('backup: a verified dump that restores with plain mysql', () => {
  let source: TestServer;
  let target: TestServer;
  let expected: Record<string, unknown>;

  beforeAll(async () => {
    [source, target] = await Promise.all([startTestServer(), startTestServer()]);
    await loadSampleData(source);
    await createBackupAccount(source, BACKUP_USER, PASSWORD);
    expected = await fingerprint(source);
  });

  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  /** A .my.cnf written by hand, the way users mount theirs as a secret. */
  async function writeMyCnf(dir: string): Promise<string> {
    const file = path.join(dir, '.my.cnf');
    const quoted = PASSWORD.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    await writeFile(
      file,
      `[client]\nuser=${BACKUP_USER}\npassword="${quoted}"\nhost=${source.host}\nport=${source.port}\n`,
      { mode: 0o600 },
    );
    return file;
  }

  async function onlyDump(dir: string): Promise<string> {
    const dumps = (await readdir(dir)).filter((n) => /^full_dump_\d{8}_\d{6}\.sql/.test(n) && !n.endsWith('.sha256') && !n.endsWith('.json'));
    expect(dumps).toHaveLength(1);
    return path.join(dir, dumps[0]!);
  }

  it.each([
    { compression: 'gzip', test: ['gzip', '-t'], credentials: 'MYSQL_DEFAULTS_FILE' },
    { compression: 'zstd', test: ['zstd', '-tq'], credentials: 'MYSQL_PASSWORD_FILE' },
  ])(
    'round-trips every table, routine, trigger, event and view through a $compression dump (credentials from $credentials)',
    async ({ compression, test, credentials }) => {
      const dir = await makeTempDir();
      const secrets = await makeTempDir('mbs-secrets-');
      const env: Record<string, string> =
        credentials === 'MYSQL_DEFAULTS_FILE'
          ? { MYSQL_DEFAULTS_FILE: await writeMyCnf(secrets) }
          : {
              MYSQL_HOST: source.host,
              MYSQL_PORT: String(source.port),
              MYSQL_USER: BACKUP_USER,
              MYSQL_PASSWORD_FILE: path.join(secrets, 'password'),
            };
      if (env.MYSQL_PASSWORD_FILE) await writeFile(env.MYSQL_PASSWORD_FILE, `${PASSWORD}\n`, { mode: 0o600 });

      const result = await runCli(['backup'], { ...env, BACKUP_DIR: dir, BACKUP_COMPRESSION: compression, MYSQL_CLIENT_DIR: source.clientDir });
      expect(result.stderr).toBe('');
      expect(result.exitCode, result.stderr).toBe(0);

      const dump = await onlyDump(dir);
      expect(path.basename(dump)).toMatch(compression === 'gzip' ? /\.sql\.gz$/ : /\.sql\.zst$/);
      await execa('sha256sum', ['-c', `${path.basename(dump)}.sha256`], { cwd: dir });
      await execa(test[0]!, [...test.slice(1), dump]);
      for (const file of [dump, `${dump}.sha256`, `${dump}.manifest.json`]) expect((await stat(file)).mode & 0o777, file).toBe(0o600);

      const manifest = JSON.parse(await readFile(`${dump}.manifest.json`, 'utf8'));
      const bytes = await readFile(dump);
      expect(manifest.storedBytes).toBe(bytes.length);
      expect(manifest.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(manifest.rawBytes).toBeGreaterThan(manifest.storedBytes);
      expect(manifest.server.flavour).toBe(source.flavour);
      // The fixture runs with the binary log on and the account may read the position.
      expect(manifest.binlog.file).toMatch(/binlog\.\d+$/);
      expect(manifest.binlog.position).toBeGreaterThan(0);

      const events = await readLogEvents(path.join(dir, 'backup.log'));
      expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['backup.started', 'backup.succeeded']));
      expect(events.find((e) => e.event === 'backup.succeeded')?.sha256).toBe(manifest.sha256);

      await restoreWithMysqlClient(target, dump);
      expect(await fingerprint(target)).toEqual(expected);
    },
  );

  it('stores an uncompressed dump that sha256sum -c accepts', async () => {
    const dir = await makeTempDir();
    const result = await runCli(['backup'], {
      MYSQL_DEFAULTS_FILE: await writeMyCnf(await makeTempDir('mbs-secrets-')),
      BACKUP_DIR: dir,
      BACKUP_COMPRESSION: 'none',
      MYSQL_CLIENT_DIR: source.clientDir,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const dump = await onlyDump(dir);
    expect(path.basename(dump)).toMatch(/^full_dump_\d{8}_\d{6}\.sql$/);
    await execa('sha256sum', ['-c', `${path.basename(dump)}.sha256`], { cwd: dir });
    const text = await readFile(dump, 'utf8');
    expect(text.trimEnd().split('\n').pop()).toMatch(/^-- Dump completed/);
  });

  it('the fingerprint it compares is not vacuous', () => {
    // Guards the round trip above against comparing two empty servers.
    const tables = expected.tables as Record<string, { rows: number; engine: string }>;
    expect(Object.keys(tables).length).toBeGreaterThanOrEqual(5);
    expect(Object.values(tables).some((t) => t.engine === 'MyISAM')).toBe(true);
    for (const kind of ['routines', 'triggers', 'events', 'views'] as const) {
      expect((expected[kind] as unknown[]).length).toBeGreaterThan(0);
    }
  });
});

describe('backups started at the same moment', () => {
  const PASSWORD_2 = 'twice-pw';
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
    await createBackupAccount(server, 'backup', PASSWORD_2);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('one writes, the others refuse naming it, and nothing is overwritten', async () => {
    const dir = await makeTempDir();
    const env = sidecarEnv(server, PASSWORD_2, dir);
    // The dump that goes on is held behind a table lock until the other two have refused: on a
    // busy machine three processes started together may start seconds apart, and a dump of an
    // empty server would be over before the last one looked.
    await server.query('CREATE DATABASE IF NOT EXISTS held');
    await server.query('CREATE TABLE IF NOT EXISTS held.t (i INT PRIMARY KEY)');
    const holder = await createConnection(server.adminConnection());
    await holder.query('LOCK TABLES held.t WRITE');
    const runs = [runCli(['backup'], env), runCli(['backup'], env), runCli(['backup'], env)];
    let finished = 0;
    for (const run of runs) void run.then(() => finished++, () => finished++);
    try {
      await waitUntil(() => finished >= 2, 'two of the three backups end while one is held');
    } finally {
      await holder.query('UNLOCK TABLES');
      await holder.end();
    }
    const releasedAt = Date.now();
    const results = await Promise.all(runs);
    expect(results.map((r) => r.exitCode).sort()).toEqual([0, 1, 1]);
    // The lock did hold the dump: it finished only once the table was free.
    const succeeded = (await readLogEvents(path.join(dir, 'backup.log'))).find((e) => e.event === 'backup.succeeded');
    expect(Date.parse(String(succeeded?.time))).toBeGreaterThanOrEqual(releasedAt - 1_000);
    for (const refused of results.filter((r) => r.exitCode === 1)) {
      expect(refused.stderr).toMatch(new RegExp(`BACKUP_DIR ${dir} is in use: a backup started by hand \\(the backup command\\), pid \\d+`));
    }
    const checksums = (await readdir(dir)).filter((n) => n.endsWith('.sha256'));
    expect(checksums).toHaveLength(1);
    await execa('sha256sum', ['-c', ...checksums], { cwd: dir });
  });
});
