import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKUP_USER, useBackupServer } from '../support/backup-server.js';
import { LEDGER_SQL, waitUntilLevel, writeBatch, writeThroughTemporaryTableAcrossRotation } from '../support/binlog-archive.js';
import { countEvents, makeTempDir, readLogEvents, runCli, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { asJson, fingerprint, renamed, withoutDatabase } from '../support/fingerprint.js';
import { startTestServer, type TestServer } from '../support/mysql-server.js';
import { adminCnf, wallTime } from '../support/restore.js';
import { BINLOG_GRANTS } from '../support/sample-data.js';

const PASSWORD = 'point-in-time-pw';

describe('restore to a point in time', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;
  /** Every row committed before T, and nothing after. */
  let expected: Record<string, unknown>;
  let targetMs: number;
  let dropGtid: string;
  let dropPosition: string;
  let dumpFile: string;

  beforeAll(async () => {
    server = fixture.server;
    await server.query(`GRANT ${BINLOG_GRANTS[server.flavour]} ON *.* TO ?@?`, [BACKUP_USER, '%']);
    for (const statement of LEDGER_SQL) await server.query(statement);
    dir = await makeTempDir();
    env = sidecarEnv(server, PASSWORD, dir, { BINLOG_ARCHIVE: 'true', BACKUP_SCHEDULE: '0 0 1 1 *', MYSQL_WAIT_TIMEOUT: '20s' });
    const log = path.join(dir, 'backup.log');
    const daemon = startCli(['run'], env);
    try {
      const started = await waitForLog(log, (e) => countEvents(e, 'backup.succeeded') === 1 && countEvents(e, 'binlog.streaming') === 1);
      dumpFile = String(started.find((e) => e.event === 'backup.succeeded')?.file);

      // Writes go on after the dump, across a rotation, one of them through a temporary table.
      await writeBatch(server, 'after-dump');
      await writeThroughTemporaryTableAcrossRotation(server);
      await writeBatch(server, 'after-flush');

      // Nothing is written for over a second either side of T: event times are whole seconds.
      targetMs = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      expected = await fingerprint(server);
      await sleep(targetMs + 1_200 - Date.now());

      // The mistake, and a write after it that must not come back either.
      const admin = await mysql.createConnection(server.adminConnection());
      try {
        const [status] = (await admin.query(server.flavour === 'mysql' ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS')) as unknown as [Array<{ File: string; Position: number }>];
        dropPosition = `${status[0]!.File}:${status[0]!.Position}`;
        await admin.query('DROP TABLE pitr.ledger');
        dropGtid = await lastGtid(admin, server);
        await admin.query('CREATE TABLE pitr.after_mistake (id INT PRIMARY KEY)');
        await admin.query('INSERT INTO pitr.after_mistake VALUES (1)');
      } finally {
        await admin.end();
      }
      await waitUntilLevel(server, path.join(dir, 'binlogs'));
    } finally {
      // The runbook: stop the sidecar before restoring.
      daemon.kill('SIGTERM');
      await daemon.catch(() => undefined);
    }
  });

  it('prints the plan on a dry run, and changes nothing', async () => {
    const dry = await runCli(['restore', '--to', wallTime(targetMs, 'UTC'), '--dry-run'], { ...env, TZ: 'UTC' });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`dump:     ${dumpFile}`);
    expect(dry.stdout).toMatch(/binlogs: {2}\S+\.\d{6}, \S+\.\d{6}/);
    expect(dry.stdout).toContain(`excluded: ${dropGtid}, committed`);
    expect(dry.stdout).toContain(`at ${dropPosition}, and everything after it`);
    const [tables] = await server.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'pitr' AND TABLE_NAME = 'ledger'");
    expect(Number(tables?.n)).toBe(0);
  });

  it('refuses a time past the last archived transaction, unless --force', async () => {
    const later = wallTime(Date.now() + 3_600_000, 'UTC');
    const refused = await runCli(['restore', '--to', later, '--dry-run'], { ...env, TZ: 'UTC' });
    expect(refused.exitCode, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/is past the archive: its last transaction committed at .* would be missing from the restore/);
    const forced = await runCli(['restore', '--to', later, '--dry-run', '--force'], { ...env, TZ: 'UTC' });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('excluded: nothing archived');
  });

  it('restores exactly the rows committed before T into a fresh server, by time, GTID and position', async () => {
    const [byTime, byGtid] = await Promise.all([startTestServer({ flavour: server.flavour }), startTestServer({ flavour: server.flavour })]);
    try {
      const timed = await runCli(['restore', '--to', `${wallTime(targetMs, 'UTC')}+00:00`, '--yes', '--defaults-file', await adminCnf(byTime)], env);
      expect(timed.exitCode, timed.stderr).toBe(0);
      expect(timed.stdout).toMatch(new RegExp(`restored ${dumpFile} into .*, rolled forward \\d+ transactions to`));
      expect(await fingerprint(byTime)).toEqual(expected);

      const gtid = await runCli(['restore', '--to-gtid', dropGtid, '--yes', '--defaults-file', await adminCnf(byGtid)], env);
      expect(gtid.exitCode, gtid.stderr).toBe(0);
      expect(await fingerprint(byGtid)).toEqual(expected);

      // Into a server that has run the transactions now (byTime): the replay must still apply them.
      await byTime.query('DROP DATABASE pitr');
      const positioned = await runCli(['restore', '--to-position', dropPosition, '--yes', '--defaults-file', await adminCnf(byTime)], env);
      expect(positioned.exitCode, positioned.stderr).toBe(0);
      expect(await fingerprint(byTime)).toEqual(expected);
      // Other servers than the archived one: the archive goes on as it is.
      expect(existsSync(path.join(dir, 'binlogs', '.restored.json'))).toBe(false);
    } finally {
      await Promise.all([byTime.stop(), byGtid.stop()]);
    }
  });

  it('restores one database alone, from the dump and rolled forward to T, leaving the others as they are', async () => {
    const scratch = await startTestServer({ flavour: server.flavour });
    try {
      const cnf = await adminCnf(scratch);
      const whole = await runCli(['restore', '--to', `${wallTime(targetMs, 'UTC')}+00:00`, '--yes', '--defaults-file', cnf], env);
      expect(whole.exitCode, whole.stderr).toBe(0);
      // A change of its own in another database, which a restore of pitr must not touch.
      await scratch.query('CREATE TABLE `app-data`.kept_apart (id INT PRIMARY KEY)');
      await scratch.query('INSERT INTO `app-data`.kept_apart VALUES (1)');
      await scratch.query('DROP DATABASE pitr');
      const others = withoutDatabase(await fingerprint(scratch), 'pitr');

      const fromDump = await runCli(['restore', 'latest', '--database', 'pitr', '--yes', '--defaults-file', cnf], env);
      expect(fromDump.exitCode, fromDump.stderr).toBe(0);
      expect(fromDump.stdout).toContain(`restored database pitr of ${dumpFile}`);
      const afterDump = await fingerprint(scratch);
      expect(withoutDatabase(afterDump, 'pitr')).toEqual(others);
      // The dump was taken before the first write to the ledger.
      expect((afterDump.tables as Record<string, unknown>)['pitr.ledger']).toMatchObject({ rows: 0 });

      const rolled = await runCli(['restore', '--database', 'pitr', '--to', `${wallTime(targetMs, 'UTC')}+00:00`, '--yes', '--defaults-file', cnf], env);
      if (server.flavour === 'mariadb') {
        // MariaDB's default binlog_format, MIXED, logs these writes as statements.
        expect(rolled.exitCode, rolled.stderr).toBe(2);
        expect(rolled.stderr).toMatch(/cannot roll forward through changes logged as SQL statements .* at binlog\.\d{6}:\d+/);
        expect(await fingerprint(scratch)).toEqual(afterDump);
      } else {
        expect(rolled.exitCode, rolled.stderr).toBe(0);
        const after = await fingerprint(scratch);
        expect(withoutDatabase(after, 'pitr')).toEqual(others);
        expect(withoutDatabase(after, 'pitr', { keep: true })).toEqual(withoutDatabase(expected, 'pitr', { keep: true }));
      }
    } finally {
      await scratch.stop();
    }
  });

  it('restores one database under a new name beside the original, and one table, from the dump', async () => {
    const scratch = await startTestServer({ flavour: server.flavour });
    try {
      const cnf = await adminCnf(scratch);
      const whole = await runCli(['restore', '--to', `${wallTime(targetMs, 'UTC')}+00:00`, '--yes', '--defaults-file', cnf], env);
      expect(whole.exitCode, whole.stderr).toBe(0);
      const before = await fingerprint(scratch);

      // app-data has a view, a trigger, routines and an event: each must land in the copy.
      const copied = await runCli(['restore', 'latest', '--database', 'app-data', '--as', 'app copy', '--yes', '--defaults-file', cnf], env);
      expect(copied.exitCode, copied.stderr).toBe(0);
      expect(copied.stdout).toContain(`restored database app-data of ${dumpFile} as app copy into`);
      const after = await fingerprint(scratch);
      expect(withoutDatabase(after, 'app copy')).toEqual(before);
      const copy = withoutDatabase(after, 'app copy', { keep: true });
      expect(JSON.stringify(copy)).not.toContain('app-data');
      expect(renamed(copy, 'app copy', 'app-data')).toEqual(asJson(withoutDatabase(expected, 'app-data', { keep: true })));

      // A database of that name is somebody's: --as does not overwrite it.
      const again = await runCli(['restore', 'latest', '--database', 'app-data', '--as', 'app copy', '--yes', '--defaults-file', cnf], env);
      expect(again.exitCode, again.stderr).toBe(2);
      expect(again.stderr).toMatch(/--as app copy: .* already has a database app copy, and --as does not overwrite one/);
      expect(await fingerprint(scratch)).toEqual(after);

      // One table from the dump: its rows and trigger come back; the table beside it keeps its change.
      await scratch.query('DELETE FROM `app-data`.`customer list`');
      await scratch.query("INSERT INTO `app-data`.audit (customer_id, action) VALUES (99, 'kept')");
      const changed = await fingerprint(scratch);
      const table = await runCli(['restore', 'latest', '--database', 'app-data', '--table', 'customer list', '--yes', '--defaults-file', cnf], env);
      expect(table.exitCode, table.stderr).toBe(0);
      expect(table.stdout).toContain(`restored table app-data.customer list of ${dumpFile} into`);
      const tabled = await fingerprint(scratch);
      const tablesOf = (print: Record<string, unknown>) => print.tables as Record<string, unknown>;
      expect(tablesOf(tabled)['app-data.customer list']).toEqual(tablesOf(expected)['app-data.customer list']);
      expect({ ...tabled, tables: { ...tablesOf(tabled), 'app-data.customer list': null } }).toEqual({ ...changed, tables: { ...tablesOf(changed), 'app-data.customer list': null } });
      const missing = await runCli(['restore', 'latest', '--database', 'app-data', '--table', 'no such', '--yes', '--defaults-file', cnf], env);
      expect(missing.exitCode, missing.stderr).toBe(2);
      expect(missing.stderr).toMatch(/holds no table no such in database app-data; it holds .*customer list/);
    } finally {
      await scratch.stop();
    }
  });

  it('rolls the original server back to T, a local time in TZ, GTIDs and all', async () => {
    const zone = 'Asia/Kolkata';
    const restored = await runCli(['restore', '--to', wallTime(targetMs, zone), '--yes', '--defaults-file', await adminCnf(server)], { ...env, TZ: zone });
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/binlog replay GTIDs: the target has already (executed|run)/);
    // pitr.after_mistake, created after T, is gone too: the restore dropped pitr before refilling it.
    expect(await fingerprint(server)).toEqual(expected);
    const [fromTemp] = await server.query("SELECT COUNT(*) AS n FROM pitr.ledger WHERE note = 'from-temp'");
    expect(Number(fromTemp?.n)).toBe(1);
    const events = (await readLogEvents(path.join(dir, 'backup.log'))).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['restore.replay', 'restore.replayed', 'restore.succeeded']));

    // The server's data changed outside its binary log: the archive starts over, with a dump.
    expect(restored.stderr).toMatch(/is the server BINLOG_DIR archives/);
    const daemon = startCli(['run'], env);
    try {
      const log = path.join(dir, 'backup.log');
      const after = await waitForLog(log, (e) => countEvents(e, 'binlog.gap') === 1 && countEvents(e, 'backup.succeeded') === 2);
      expect(String(after.find((e) => e.event === 'binlog.gap')?.cause)).toMatch(/^the restore of full_dump_\S+ to .* changed the server's data outside its binary log$/);
      expect(existsSync(path.join(dir, 'binlogs', '.restored.json'))).toBe(false);
    } finally {
      daemon.kill('SIGTERM');
      await daemon.catch(() => undefined);
    }
  });
});

/** The GTID of the last transaction this session committed. */
async function lastGtid(connection: mysql.Connection, server: TestServer): Promise<string> {
  if (server.flavour === 'mariadb') {
    const [rows] = (await connection.query('SELECT @@SESSION.last_gtid AS gtid')) as unknown as [Array<{ gtid: string }>];
    return rows[0]!.gtid;
  }
  const [rows] = (await connection.query('SELECT @@GLOBAL.server_uuid AS uuid, @@GLOBAL.gtid_executed AS executed')) as unknown as [Array<{ uuid: string; executed: string }>];
  const { uuid, executed } = rows[0]!;
  const own = executed.replace(/\s+/g, '').split(',').find((item) => item.startsWith(uuid))!;
  return `${uuid}:${own.split(/[:-]/).at(-1)}`;
}
