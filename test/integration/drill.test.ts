import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, makeTempDir, runCli, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort, startTestServer, type TestServer } from '../support/mysql-server.js';

const PASSWORD = 'drill-pw';
const DRILL_PASSWORD = 'scratch only, never in production';

/** An option file for the account `drill`, which only the scratch server has. */
async function drillCnf(scratch: TestServer): Promise<string> {
  const file = path.join(await makeTempDir('mbs-drill-'), 'drill.cnf');
  await writeFile(file, `[client]\nuser=drill\npassword="${DRILL_PASSWORD}"\nhost=${scratch.host}\nport=${scratch.port}\n`, { mode: 0o600 });
  return file;
}

describe('drills into a scratch server with an account of its own', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });
  let scratch: TestServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    scratch = await startTestServer();
    await scratch.query(`CREATE USER 'drill'@'127.0.0.1' IDENTIFIED BY '${DRILL_PASSWORD}'`);
    await scratch.query("GRANT ALL ON *.* TO 'drill'@'127.0.0.1' WITH GRANT OPTION");
    // A table of its own that a test can hold on the scratch server, so that a drill's restore waits.
    await fixture.server.query('CREATE DATABASE drill_probe');
    await fixture.server.query('CREATE TABLE drill_probe.held (id INT PRIMARY KEY)');
    await fixture.server.query('INSERT INTO drill_probe.held VALUES (1), (2)');
    env = sidecarEnv(fixture.server, PASSWORD, await makeTempDir());
    expect((await runCli(['backup'], env)).exitCode).toBe(0);
  });
  afterAll(async () => {
    await scratch?.stop();
  });

  it("leaves the drill's own login working: the next drill passes too, and production's accounts are not restored", async () => {
    const cnf = await drillCnf(scratch);
    for (const round of [1, 2, 3]) {
      const drill = await runCli(['drill', 'latest', '--defaults-file', cnf], env);
      expect(drill.stdout + drill.stderr, `drill ${round}`).toMatch(/drill passed/);
      expect(drill.exitCode, drill.stderr).toBe(0);
    }
    // The scratch server keeps its own accounts: production's backup account did not come along.
    const users = await scratch.query<RowDataPacket[]>("SELECT User FROM mysql.user WHERE User IN ('drill', 'backup')");
    expect(users.map((u) => u.User)).toEqual(['drill']);
  });

  it('a drill in flight obeys SIGTERM within BACKUP_STOP_GRACE, and its skipped ticks count apart from backups', async () => {
    const port = await freePort();
    const log = path.join(await makeTempDir('mbs-log-'), 'drills.log');
    const daemon = startCli(['run'], {
      ...env,
      BACKUP_LOG_FILE: log,
      BACKUP_SCHEDULE: '0 0 1 1 *',
      BACKUP_ON_START: 'false',
      BACKUP_STOP_GRACE: '2s',
      DRILL_SCHEDULE: '*/2 * * * * *',
      DRILL_DEFAULTS_FILE: await drillCnf(scratch),
      HTTP_PORT: String(port),
    });
    // Held on the scratch server, the table makes the next drill's restore wait at its DROP TABLE.
    const holder = await mysql.createConnection(scratch.adminConnection());
    let exited = false;
    try {
      await waitForLog(log, (e) => countEvents(e, 'drill.succeeded') >= 1);
      await holder.query('LOCK TABLES drill_probe.held WRITE');
      const lockedAt = Date.now();
      // Held: the drill running now, or the next one, waits at the table; two ticks skip while it does.
      // (Which one: a drill may have started just before the lock, and then no other starts.)
      const skippedSinceLock = (e: Array<Record<string, unknown>>) => e.filter((x) => x.event === 'schedule.skipped' && Date.parse(String(x.time)) >= lockedAt).length;
      const events = await waitForLog(log, (e) => skippedSinceLock(e) >= 2, 30_000);
      const skips = events.filter((e) => e.event === 'schedule.skipped');
      expect(skips.every((e) => e.duty === 'drill')).toBe(true);
      expect(String(skips[0]!.msg)).toMatch(/^scheduled drill skipped: drill \w+ still running/);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^mysql_backup_drills_skipped_total [1-9]\d*$/m);
      expect(metrics).toMatch(/^mysql_backup_skipped_runs_total 0$/m);

      const signalled = Date.now();
      daemon.kill('SIGTERM');
      const result = await daemon;
      exited = true;
      const tookMs = Date.now() - signalled;
      expect(result.exitCode, result.stderr).toBe(0);
      // The grace, then mysql stopped and the drill reported: well within a compose stop_grace_period.
      expect(tookMs).toBeGreaterThanOrEqual(1_900);
      expect(tookMs).toBeLessThan(8_000);
      const after = await waitForLog(log, (e) => countEvents(e, 'daemon.stopped') === 1);
      expect(after.find((e) => e.event === 'daemon.stopped')).toMatchObject({ outcome: 'abandoned' });
      const failed = after.filter((e) => e.event === 'drill.failed').at(-1);
      expect((failed?.problems as string[]).join(' ')).toMatch(/cancelled/);
    } finally {
      if (!exited) daemon.kill('SIGKILL');
      await holder.end();
    }
  });

  it("drill --host --port logs in with DRILL_DEFAULTS_FILE's account; without it the failure names the backup account and the way out", async () => {
    const hostPort = ['--host', scratch.host, '--port', String(scratch.port)];
    const withDrillAccount = await runCli(['drill', 'latest', ...hostPort], { ...env, DRILL_DEFAULTS_FILE: await drillCnf(scratch) });
    expect(withDrillAccount.stdout + withDrillAccount.stderr).toMatch(/drill passed/);
    expect(withDrillAccount.exitCode, withDrillAccount.stderr).toBe(0);

    const asBackup = await runCli(['drill', 'latest', ...hostPort], env);
    expect(asBackup.exitCode, asBackup.stderr).toBe(1);
    expect(asBackup.stdout).toMatch(/refused user 'backup'|Access denied for user 'backup'/);
    expect(asBackup.stdout).toContain(
      `the drill logged in to ${scratch.host}:${scratch.port} as 'backup' (from MYSQL_USER); it needs an account that may create every database of the dump there: name one with DRILL_DEFAULTS_FILE, --defaults-file, or --user and --password-file`,
    );
    expect(asBackup.stdout + asBackup.stderr).not.toContain(PASSWORD);
  });
});
