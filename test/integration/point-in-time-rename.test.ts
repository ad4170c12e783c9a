import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKUP_USER, useBackupServer } from '../support/backup-server.js';
import { LEDGER_SQL, waitUntilLevel, writeBatch } from '../support/binlog-archive.js';
import { countEvents, makeTempDir, runCli, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { asJson, fingerprint, renamed, withoutDatabase } from '../support/fingerprint.js';
import type { TestServer } from '../support/mysql-server.js';
import { adminCnf, wallTime } from '../support/restore.js';
import { BINLOG_GRANTS } from '../support/sample-data.js';

const PASSWORD = 'pitr-rename-pw';

/**
 * `restore --database pitr --as NEW --to T` into the server the archive is of: the damaged
 * database comes back as it was at T under a new name, beside the original, which the replay
 * must not touch. Logged as rows on both flavours (MariaDB's MIXED default would be refused).
 * After T, DDL run in no database names pitr outright: a roll-forward past it is refused, with
 * --as and without.
 */
describe('restore one database to a point under a new name', () => {
  const fixture = useBackupServer({ password: PASSWORD });
  let server: TestServer;
  let env: Record<string, string>;
  let targetMs: number;
  /** pitr at T: the dump's rows, the batches after it, and the column added by its USE. */
  let atTarget: Record<string, unknown>;
  /** Just before the ALTER TABLE run in no database. */
  let beforeAlterPosition: string;

  beforeAll(async () => {
    server = fixture.server;
    // Each query below opens its own session, which takes the global format.
    if (server.flavour === 'mariadb') await server.query("SET GLOBAL binlog_format = 'ROW'");
    await server.query(`GRANT ${BINLOG_GRANTS[server.flavour]} ON *.* TO ?@?`, [BACKUP_USER, '%']);
    const more = ['CREATE TABLE pitr.notes (id INT PRIMARY KEY, body VARCHAR(32))', 'CREATE DATABASE other', 'CREATE TABLE other.t (id INT PRIMARY KEY)'];
    for (const statement of [...LEDGER_SQL, ...more]) await server.query(statement);
    const dir = await makeTempDir();
    env = sidecarEnv(server, PASSWORD, dir, { BINLOG_ARCHIVE: 'true', BACKUP_SCHEDULE: '0 0 1 1 *', MYSQL_WAIT_TIMEOUT: '20s' });
    const daemon = startCli(['run'], env);
    try {
      await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.succeeded') === 1 && countEvents(e, 'binlog.streaming') === 1);
      await writeBatch(server, 'after-dump');
      // DDL by its USE, which the replay runs in the new database; and a change elsewhere it leaves out.
      const inPitr = await mysql.createConnection({ ...server.adminConnection(), database: 'pitr' });
      try {
        await inPitr.query('ALTER TABLE ledger ADD COLUMN memo VARCHAR(16) NULL');
        await inPitr.query("INSERT INTO ledger (note, amount, memo) VALUES ('with-memo', 3, 'm')");
      } finally {
        await inPitr.end();
      }
      await server.query('INSERT INTO other.t VALUES (1)');
      await writeBatch(server, 'after-alter');

      targetMs = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      atTarget = withoutDatabase(await fingerprint(server), 'pitr', { keep: true });
      await sleep(targetMs + 1_200 - Date.now());
      // The mistake; DDL by pitr's USE that names pitr outright; then DDL from no database that names it.
      await server.query('DELETE FROM pitr.ledger');
      await server.query("INSERT INTO pitr.notes VALUES (1, 'after T')");
      const inPitrAgain = await mysql.createConnection({ ...server.adminConnection(), database: 'pitr' });
      try {
        await inPitrAgain.query('CREATE TABLE pitr.after_mistake (id INT PRIMARY KEY)');
        const [status] = (await inPitrAgain.query(server.flavour === 'mysql' ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS')) as unknown as [Array<{ File: string; Position: number }>];
        beforeAlterPosition = `${status[0]!.File}:${status[0]!.Position}`;
      } finally {
        await inPitrAgain.end();
      }
      await server.query('ALTER TABLE pitr.after_mistake ADD COLUMN note INT');
      await waitUntilLevel(server, path.join(dir, 'binlogs'));
    } finally {
      daemon.kill('SIGTERM');
      await daemon.catch(() => undefined);
    }
  });

  it('rolls it forward to T beside the original, which keeps its state, and so does every other database', async () => {
    const before = await fingerprint(server);
    const cnf = await adminCnf(server);
    const to = `${wallTime(targetMs, 'UTC')}+00:00`;

    const dry = await runCli(['restore', '--database', 'pitr', '--as', 'pitr_then', '--to', to, '--dry-run'], env);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^restore database pitr as pitr_then to .*, the first transaction committed at or after it excluded:\n  dump: /);

    const restored = await runCli(['restore', '--database', 'pitr', '--as', 'pitr_then', '--to', to, '--yes', '--defaults-file', cnf], env);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/restored database pitr of full_dump_\S+ as pitr_then into .*, rolled forward \d+ transactions to/);
    const after = await fingerprint(server);
    expect(withoutDatabase(after, 'pitr_then')).toEqual(before);
    const copy = withoutDatabase(after, 'pitr_then', { keep: true });
    // The column added by pitr's USE, and the row written with it, are the copy's.
    expect(await server.query("SELECT memo FROM pitr_then.ledger WHERE note = 'with-memo'")).toEqual([{ memo: 'm' }]);
    expect(renamed(copy, 'pitr_then', 'pitr')).toEqual(asJson(atTarget));
  });

  it('--table with a target: the table as it was at T over the damaged one, by way of a scratch database; the other tables keep their changes', async () => {
    const before = await fingerprint(server);
    const cnf = await adminCnf(server);
    const to = `${wallTime(targetMs, 'UTC')}+00:00`;

    const dry = await runCli(['restore', '--database', 'pitr', '--table', 'ledger', '--to', to, '--dry-run'], env);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^restore table pitr\.ledger to .*\n(.*\n)*  table: +database pitr is restored and rolled forward as pitr_restoring_[0-9a-f]{6}, beside it; then table ledger is copied over pitr\.ledger/);

    const restored = await runCli(['restore', '--database', 'pitr', '--table', 'ledger', '--to', to, '--yes', '--defaults-file', cnf], env);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/restored table pitr\.ledger of full_dump_\S+ into .*, rolled forward \d+ transactions to/);
    const after = await fingerprint(server);
    const tablesOf = (print: Record<string, unknown>) => print.tables as Record<string, unknown>;
    expect(tablesOf(after)['pitr.ledger']).toEqual(tablesOf(atTarget)['pitr.ledger']);
    // Everything else as it was: pitr.notes keeps its row from after T, and no scratch database is left.
    expect({ ...after, tables: { ...tablesOf(after), 'pitr.ledger': null } }).toEqual({ ...before, tables: { ...tablesOf(before), 'pitr.ledger': null } });
    expect(await server.query("SELECT body FROM pitr.notes")).toEqual([{ body: 'after T' }]);
    expect(await server.query("SHOW DATABASES LIKE 'pitr\\_restoring\\_%'")).toEqual([]);
  });

  it('refuses a roll-forward through DDL run elsewhere that names the database, with --as and without, and writes nothing', async () => {
    const before = await fingerprint(server);
    const cnf = await adminCnf(server);
    // Up to the ALTER: the CREATE TABLE pitr.after_mistake, run in pitr, is on the way.
    const renaming = await runCli(['restore', '--database', 'pitr', '--as', 'pitr_now', '--to-position', beforeAlterPosition, '--yes', '--defaults-file', cnf], env);
    expect(renaming.exitCode, renaming.stderr).toBe(2);
    expect(renaming.stderr).toMatch(/a roll-forward of database pitr as pitr_now cannot replay DDL that names pitr in its text, as the one .* does \(CREATE TABLE pitr\.after_mistake/);
    // Past the archive's end: the ALTER run in no database too.
    const alone = await runCli(['restore', '--database', 'pitr', '--to', `${wallTime(Date.now() + 60_000, 'UTC')}+00:00`, '--force', '--yes', '--defaults-file', cnf], env);
    expect(alone.exitCode, alone.stderr).toBe(2);
    expect(alone.stderr).toMatch(/a restore of database pitr alone cannot roll forward through DDL run in no database that names pitr, as the one .* does \(ALTER TABLE pitr\.after_mistake/);
    const spaced = await runCli(['restore', '--database', 'pitr', '--as', 'pitr then', '--to', `${wallTime(targetMs, 'UTC')}+00:00`, '--yes', '--defaults-file', cnf], env);
    expect(spaced.exitCode, spaced.stderr).toBe(2);
    expect(spaced.stderr).toMatch(/--as pitr then with a target: .* cannot take a name with a space/);
    expect(await fingerprint(server)).toEqual(before);
  });
});
