import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKUP_USER, useBackupServer } from '../support/backup-server.js';
import { countEvents, isDumpName, makeTempDir, readLogEvents, runCli, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { fingerprint } from '../support/fingerprint.js';
import { freePort, startTestServer, type TestServer } from '../support/mysql-server.js';
import { listProcesses, runsProgram } from '../support/processes.js';
import { restoreWithMysqlClient } from '../support/restore.js';
import { LEDGER_SQL, waitUntilLevel, writeBatch, writeThroughTemporaryTableAcrossRotation } from '../support/binlog-archive.js';
import { BACKUP_GRANTS, BINLOG_GRANTS, createBackupAccount } from '../support/sample-data.js';
import { scrape } from '../support/scrape.js';

const PASSWORD = 'binlog-archive-pw';
const BINLOG_TOOLS = ['mysqlbinlog', 'mariadb-binlog'];

/** The binlog streams writing into `binlogDir`: the other flavour's run of this file has its own. */
const streamsInto = async (binlogDir: string) =>
  (await listProcesses()).filter((p) => runsProgram(p, BINLOG_TOOLS) && p.argv.includes(`--result-file=${path.join(binlogDir, '.fetch-')}`));

describe('the binlog archive', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });
  let server: TestServer;
  let dir: string;
  let binlogDir: string;
  let httpPort: number;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = fixture.server;
    await server.query(`GRANT ${BINLOG_GRANTS[server.flavour]} ON *.* TO ?@?`, [BACKUP_USER, '%']);
    for (const statement of LEDGER_SQL) await server.query(statement);
    dir = await makeTempDir();
    binlogDir = path.join(dir, 'binlogs');
    httpPort = await freePort();
    env = sidecarEnv(server, PASSWORD, dir, {
      BINLOG_ARCHIVE: 'true',
      BACKUP_SCHEDULE: '0 0 1 1 *',
      MYSQL_WAIT_TIMEOUT: '20s',
      HTTP_PORT: String(httpPort),
    });
  });

  it('keeps every write through a server killed with -9 and the daemon killed mid-stream; dump plus archive replay to the source exactly', async () => {
    const log = path.join(dir, 'backup.log');
    const base = `http://127.0.0.1:${httpPort}`;
    let daemon = startCli(['run'], env);
    try {
      const started = await waitForLog(log, (e) => countEvents(e, 'backup.succeeded') === 1 && countEvents(e, 'binlog.streaming') === 1);
      const dump = started.find((e) => e.event === 'backup.succeeded') as { file: string; binlog: { file: string; position: number } };
      expect(dump.binlog.file).toBeTruthy();

      await writeBatch(server, 'before-flush');
      // A temporary table whose contents reach a real table only after a rotation.
      await writeThroughTemporaryTableAcrossRotation(server);
      await writeBatch(server, 'after-flush');
      await waitUntilLevel(server, binlogDir);

      await server.kill();
      await sleep(1_000);
      await server.restart();
      const answeredAt = Date.now();
      await writeBatch(server, 'after-crash');
      await waitUntilLevel(server, binlogDir);
      const resumed = (await readLogEvents(log)).filter((e) => e.event === 'binlog.streaming').at(-1) as { time: string };
      // Reconnected within 5 s of the server answering again.
      expect(Date.parse(resumed.time) - answeredAt).toBeLessThan(5_000);
      const metrics = await scrape(base);
      expect(metrics.get('mysql_backup_binlog_restarts_total{reason="connection-lost"}')).toBeGreaterThanOrEqual(1);
      expect(metrics.get('mysql_backup_binlog_streamer_up')).toBe(1);
      expect(metrics.get('mysql_backup_binlog_gaps_total')).toBe(0);

      // Killed mid-stream: its mysqlbinlog outlives it until the next stream takes its server id.
      daemon.kill('SIGKILL');
      await daemon.catch(() => undefined);
      await writeBatch(server, 'daemon-down');
      daemon = startCli(['run'], env);
      await waitForLog(log, (e) => countEvents(e, 'binlog.streaming') >= 3 && countEvents(e, 'daemon.started') === 2);
      await writeBatch(server, 'daemon-back');
      const files = await waitUntilLevel(server, binlogDir);
      await expect.poll(async () => (await streamsInto(binlogDir)).length, { timeout: 15_000 }).toBe(1);

      // An idle server is not a stalled stream: no restart while nothing is written.
      const before = await scrape(base);
      await sleep(35_000);
      const after = await scrape(base);
      expect(after.get('mysql_backup_binlog_restarts_total{reason="stalled"}')).toBe(before.get('mysql_backup_binlog_restarts_total{reason="stalled"}'));
      expect(after.get('mysql_backup_binlog_lag_bytes')).toBe(0);
      expect(after.get('mysql_backup_binlog_recoverable_until_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 10);

      expect((await stat(binlogDir)).mode & 0o777).toBe(0o700);
      for (const name of await readdir(binlogDir)) {
        expect(name.startsWith('.fetch-'), `${name} left behind`).toBe(false);
        expect((await stat(path.join(binlogDir, name))).mode & 0o777).toBe(0o600);
      }
      // Every file but the one being written is sealed: its index has its checksum and contents.
      for (const name of files.slice(0, -1)) {
        const index = JSON.parse(await readFile(path.join(binlogDir, `${name}.index.json`), 'utf8')) as Record<string, unknown>;
        const { stdout } = await execa('sha256sum', [path.join(binlogDir, name)]);
        expect(index).toMatchObject({ file: name, bytes: (await stat(path.join(binlogDir, name))).size, sha256: stdout.split(' ')[0], serverId: 1 });
        expect(Date.parse(String(index.firstEventAt))).toBeLessThanOrEqual(Date.parse(String(index.lastEventAt)));
      }
      expect(await readdir(binlogDir)).not.toContain(`${files.at(-1)}.index.json`);
      const withGtids = await Promise.all(files.slice(0, -1).map(async (name) => JSON.parse(await readFile(path.join(binlogDir, `${name}.index.json`), 'utf8')).gtids));
      expect(withGtids.some((gtids) => Object.keys(gtids).length > 0)).toBe(true);

      const list = await runCli(['list'], env);
      expect(list.stdout).toContain(`binlog archive ${binlogDir}: ${files[0]} .. ${files.at(-1)}`);
      expect(list.stdout).toMatch(new RegExp(`recoverable: from ${dump.file} \\(.*, ${dump.binlog.file}\\) to \\d{4}-\\d{2}-\\d{2} `));

      // The manual's recipe: the dump, then the binary log from the dump's coordinates.
      const replica = await startTestServer({ flavour: server.flavour });
      try {
        await restoreWithMysqlClient(replica, path.join(dir, dump.file));
        const fromDump = files.slice(files.indexOf(dump.binlog.file)).map((name) => path.join(binlogDir, name));
        const admin = replica.adminClient();
        await execa(path.join(server.clientDir, 'mysqlbinlog'), [`--start-position=${dump.binlog.position}`, ...fromDump]).pipe(admin.command, admin.args, { env: admin.env });
        expect(await fingerprint(replica)).toEqual(await fingerprint(server));
        const [fromTemp] = await replica.query("SELECT COUNT(*) AS n FROM pitr.ledger WHERE note = 'from-temp'");
        expect(Number(fromTemp?.n)).toBe(1);
      } finally {
        await replica.stop();
      }
    } finally {
      daemon.kill('SIGTERM');
      await daemon.catch(() => undefined);
    }
  });

  it('makes a binlog purged while the daemon was down a gap: counted, logged, a new epoch, and a dump at once', async () => {
    const log = path.join(dir, 'backup.log');
    const base = `http://127.0.0.1:${httpPort}`;
    // The archive is level with the server from the test before; now the daemon is away while
    // the server writes, rotates, and purges what the archive had not copied.
    await writeBatch(server, 'while-away');
    await server.query('FLUSH BINARY LOGS');
    await writeBatch(server, 'while-away-2');
    await server.query('FLUSH BINARY LOGS');
    await server.query('FLUSH BINARY LOGS');
    const [current] = await server.query('SHOW BINARY LOGS').then((rows) => rows.slice(-1));
    await server.query(`PURGE BINARY LOGS TO '${String(current!.Log_name)}'`);
    // MariaDB keeps a file its crash recovery may still need (the binlog checkpoint), so the
    // server may start a file earlier than the one named; the archive's copy is still behind it.
    const [oldest] = await server.query('SHOW BINARY LOGS');
    const eventsBefore = (await readLogEvents(log)).length;

    const daemon = startCli(['run'], env);
    try {
      const events = await waitForLog(log, (e) => {
        const fresh = e.slice(eventsBefore);
        return countEvents(fresh, 'binlog.gap') === 1 && countEvents(fresh, 'backup.succeeded') === 1 && countEvents(fresh, 'binlog.streaming') === 1;
      });
      const gap = events.slice(eventsBefore).find((e) => e.event === 'binlog.gap') as { cause: string; resumeAt: string; previousEpoch: string };
      expect(gap.cause).toMatch(/no longer has what came after/);
      expect(gap.resumeAt).toBe(String(oldest!.Log_name));
      // The files before the gap are kept, aside, as the epoch they were.
      expect((await readdir(gap.previousEpoch)).length).toBeGreaterThan(0);
      expect((await scrape(base)).get('mysql_backup_binlog_gaps_total')).toBe(1);
      const files = await waitUntilLevel(server, binlogDir);
      expect(files[0]).toBe(String(oldest!.Log_name));
      expect((await readdir(binlogDir)).filter((name) => /\.\d+$/.test(name))).toEqual(files);
      expect((await readdir(dir)).filter(isDumpName)).toHaveLength(2);
      const list = await runCli(['list'], env);
      expect(list.stdout).toMatch(/gap at \d{4}-.* UTC: the epoch before it \(epoch-\d{8}T\d{6}Z\/: binlog\.\d+ \.\. binlog\.\d+, .*\) rolls forward to \d{4}-/);
      expect(list.stdout).toMatch(/recoverable: from full_dump_/);
    } finally {
      daemon.kill('SIGTERM');
      await daemon.catch(() => undefined);
    }
  });

  it('makes a new server in the old one\'s place a gap, though its files have the old ones\' names', async () => {
    const log = path.join(dir, 'backup.log');
    const eventsBefore = (await readLogEvents(log)).length;
    const daemon = startCli(['run'], env);
    try {
      await waitForLog(log, (e) => countEvents(e.slice(eventsBefore), 'binlog.streaming') === 1);
      await waitUntilLevel(server, binlogDir);
      const gapsBefore = countEvents(await readLogEvents(log), 'binlog.gap');
      // An empty server at the same address, as after a restore onto new hardware.
      await server.wipe();
      await createBackupAccount(server, BACKUP_USER, PASSWORD);
      await server.query(`GRANT ${BINLOG_GRANTS[server.flavour]} ON *.* TO ?@?`, [BACKUP_USER, '%']);
      await server.query('CREATE DATABASE after_wipe');
      const events = await waitForLog(log, (e) => countEvents(e, 'binlog.gap') === gapsBefore + 1 && e.slice(e.findLastIndex((x) => x.event === 'binlog.gap')).some((x) => x.event === 'backup.succeeded'));
      const gap = events.filter((e) => e.event === 'binlog.gap').at(-1) as { cause: string; previousEpoch: string };
      // MySQL knows it by its server_uuid; MariaDB (the same server_id here) by its files.
      expect(gap.cause).toMatch(server.flavour === 'mysql' ? /another one than the archive holds the log of \(server_uuid/ : /start over|not the file archived under that name/);
      const files = await waitUntilLevel(server, binlogDir);
      const [first] = await server.query('SHOW BINARY LOGS');
      expect(files[0]).toBe(String(first!.Log_name));
      expect((await readdir(gap.previousEpoch)).length).toBeGreaterThan(0);
    } finally {
      daemon.kill('SIGTERM');
      await daemon.catch(() => undefined);
    }
  });

  describe('refuses to stream, loudly, while backups go on', () => {
    let other: string;
    afterAll(async () => {
      await server.query('DROP USER IF EXISTS ?@?', [other, '%']).catch(() => undefined);
    });

    it('with a server id the server itself uses, or an account without the grants', async () => {
      other = 'nobinlog';
      await server.query('CREATE USER ?@? IDENTIFIED BY ?', [other, '%', PASSWORD]);
      // The dump's grants without the archive's: backups work, the stream is refused.
      const dumpGrants = BACKUP_GRANTS[server.flavour].replace(', REPLICATION CLIENT', '');
      await server.query(`GRANT ${dumpGrants} ON *.* TO ?@?`, [other, '%']);
      const cases: Array<{ env: Record<string, string>; cause: RegExp }> = [
        { env: { BINLOG_SERVER_ID: '1' }, cause: /BINLOG_SERVER_ID=1 is the server's own @@server_id/ },
        { env: { MYSQL_USER: other }, cause: /lacks REPLICATION SLAVE/ },
      ];
      for (const { env: extra, cause } of cases) {
        const caseDir = await makeTempDir();
        const port = await freePort();
        const daemon = startCli(['run'], sidecarEnv(server, PASSWORD, caseDir, { BINLOG_ARCHIVE: 'true', HTTP_PORT: String(port), ...extra }));
        try {
          const events = await waitForLog(path.join(caseDir, 'backup.log'), (e) => countEvents(e, 'binlog.refused') === 1 && countEvents(e, 'backup.succeeded') === 1);
          const refusal = events.find((e) => e.event === 'binlog.refused') as { cause: string; hint: string };
          expect(refusal.cause).toMatch(cause);
          expect(refusal.hint).toBeTruthy();
          const metrics = await scrape(`http://127.0.0.1:${port}`);
          expect(metrics.get('mysql_backup_binlog_streamer_up')).toBe(0);
          expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
          expect(await streamsInto(path.join(caseDir, 'binlogs'))).toHaveLength(0);
        } finally {
          daemon.kill('SIGTERM');
          await daemon.catch(() => undefined);
        }
      }
    });
  });
});
