import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql, { type Connection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { dumpLikeEntries, followOutput, makeTempDir, readLogEvents, runCli, startCli, waitUntil } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { type TestServer, testFlavour } from '../support/mysql-server.js';

const PASSWORD = 'guard-pw';
const flavour = testFlavour();

/** An application writing a row every 50 ms; its worst statement latency is what a stall costs. */
async function startWriter(server: TestServer): Promise<{ stop(): Promise<number> }> {
  const connection = await mysql.createConnection(server.adminConnection());
  let running = true;
  let worstMs = 0;
  const loop = (async () => {
    while (running) {
      const began = Date.now();
      await connection.query('INSERT INTO guard.writes (at) VALUES (NOW(6))');
      worstMs = Math.max(worstMs, Date.now() - began);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await connection.end();
      return worstMs;
    },
  };
}

/** A report that reads guard.writes for `seconds`: the long statement a global read lock queues behind. */
async function startLongQuery(server: TestServer, seconds: number): Promise<{ connection: Connection; done: Promise<unknown> }> {
  const connection = await mysql.createConnection({ ...server.adminConnection(), database: 'guard' });
  const done = connection.query(`SELECT SLEEP(${seconds}) FROM writes LIMIT 1`).catch((error: Error) => error);
  return { connection, done };
}

describe(`the long-query guard (${flavour})`, () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });

  async function prepare(): Promise<string> {
    await fixture.server.query('CREATE DATABASE IF NOT EXISTS guard');
    await fixture.server.query('CREATE TABLE IF NOT EXISTS guard.writes (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6))');
    await fixture.server.query('INSERT INTO guard.writes (at) VALUES (NOW(6))');
    return makeTempDir();
  }

  /** A backup started once a 10-second statement on guard.writes has run for 2.5 s, beside the writer. */
  async function backupBesideLongQuery(extra: Record<string, string>) {
    const dir = await prepare();
    const writer = await startWriter(fixture.server);
    const long = await startLongQuery(fixture.server, 10);
    try {
      await sleep(2_500);
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, extra));
      await long.done;
      const worstWriteMs = await writer.stop();
      return { result, worstWriteMs, events: await readLogEvents(path.join(dir, 'backup.log')) };
    } finally {
      await long.connection.end().catch(() => undefined);
    }
  }

  it.skipIf(flavour !== 'mysql')(
    'MySQL: the dump waits for a statement older than BACKUP_LONG_QUERY_GUARD to end, and no write stalls behind its read lock',
    async () => {
      const { result, worstWriteMs, events } = await backupBesideLongQuery({ BACKUP_LONG_QUERY_GUARD: '2s' });
      expect(result.stderr).toBe('');
      expect(result.exitCode, result.stderr).toBe(0);
      const waiting = events.find((e) => e.event === 'backup.waiting');
      expect(waiting?.msg).toMatch(/the dump waits: id \d+ \(root@localhost, database guard\) running for \d+s ran longer than BACKUP_LONG_QUERY_GUARD/);
      expect(events.findIndex((e) => e.event === 'backup.waiting')).toBeLessThan(events.findIndex((e) => e.event === 'backup.started'));
      console.log(`guard on: worst write ${worstWriteMs} ms`);
      expect(worstWriteMs).toBeLessThan(1_000);
    },
  );

  it.skipIf(flavour !== 'mysql')(
    'MySQL, the control: with the guard off the same dump stalls writes until the long statement ends',
    async () => {
      const { result, worstWriteMs, events } = await backupBesideLongQuery({ BACKUP_LONG_QUERY_GUARD: 'off' });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(events.map((e) => e.event)).not.toContain('backup.waiting');
      console.log(`guard off: worst write ${worstWriteMs} ms`);
      // The statement had about 6 s left when FLUSH TABLES WITH READ LOCK queued behind it (the
      // CLI takes a second or so to get there).
      expect(worstWriteMs).toBeGreaterThan(3_000);
    },
  );

  it.skipIf(flavour !== 'mysql')('MySQL: the run gives up when the statement outlasts the wait, naming it', async () => {
    const dir = await prepare();
    const long = await startLongQuery(fixture.server, 30);
    try {
      await sleep(2_500);
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_LONG_QUERY_GUARD: '2s', MYSQL_WAIT_TIMEOUT: '3s' }));
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toMatch(
        /the dump did not start: a statement has run longer than BACKUP_LONG_QUERY_GUARD \(2s\) for all of the \ds this run waited: id \d+ \(root@localhost, database guard\)/,
      );
      expect(result.stderr).toContain('KILL QUERY');
      const events = (await readLogEvents(path.join(dir, 'backup.log'))).map((e) => e.event);
      expect(events).not.toContain('backup.started');
    } finally {
      await fixture.server.query(`KILL QUERY ${long.connection.threadId}`);
      await long.done;
      await long.connection.end().catch(() => undefined);
    }
  });

  it.skipIf(flavour !== 'mysql')(
    'MySQL with BACKUP_BINLOG_COORDINATES=off takes no read lock: no wait, no stall, and the dump records no position or GTID set',
    async () => {
      const { result, worstWriteMs, events } = await backupBesideLongQuery({ BACKUP_LONG_QUERY_GUARD: '2s', BACKUP_BINLOG_COORDINATES: 'off' });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(events.map((e) => e.event)).not.toContain('backup.waiting');
      const started = events.find((e) => e.event === 'backup.started');
      expect(started?.flags).toContain('--set-gtid-purged=OFF');
      expect((started?.flags as string[]).some((f) => f.startsWith('--source-data'))).toBe(false);
      expect(events.find((e) => e.event === 'backup.succeeded')?.binlog).toBeNull();
      console.log(`coordinates off: worst write ${worstWriteMs} ms`);
      expect(worstWriteMs).toBeLessThan(1_000);
    },
  );

  /** A session holding a table locked, idle: the guard sees no statement, and mysqldump's lock waits. */
  async function lockTable(): Promise<Connection> {
    const holder = await mysql.createConnection(fixture.server.adminConnection());
    await holder.query('LOCK TABLES guard.writes WRITE');
    return holder;
  }

  it.skipIf(flavour !== 'mysql')(
    'MySQL: a global read lock that times out is tried again, and the run succeeds once the lock is free',
    async () => {
      const dir = await prepare();
      const holder = await lockTable();
      const backup = startCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_LONG_QUERY_GUARD: '2s' }));
      const output = followOutput(backup);
      try {
        await waitUntil(() => output.text.includes('attempt 2 of 3'), 'the first attempt gave up and said so', 30_000);
      } finally {
        await holder.query('UNLOCK TABLES');
        await holder.end();
      }
      const result = await backup;
      expect(result.stderr).toBe('');
      expect(result.exitCode, result.stderr).toBe(0);
      const events = await readLogEvents(path.join(dir, 'backup.log'));
      expect(events.filter((e) => e.event === 'backup.started')).toHaveLength(2);
      expect(events.filter((e) => e.event === 'backup.succeeded')).toHaveLength(1);
      // The discarded attempt left nothing behind: one dump, its checksum and manifest.
      const entries = await dumpLikeEntries(dir);
      expect(entries.filter((name) => name.includes('.partial'))).toEqual([]);
      expect(entries.filter((name) => /\.sql\.zst$/.test(name))).toHaveLength(1);
    },
  );

  it.skipIf(flavour !== 'mysql')('MySQL: three timed-out attempts fail the run with mysqldump\'s own words, leaving nothing', async () => {
    const dir = await prepare();
    const holder = await lockTable();
    try {
      const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_LONG_QUERY_GUARD: '1s' }));
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(/Lock wait timeout exceeded/);
      const events = await readLogEvents(path.join(dir, 'backup.log'));
      expect(events.filter((e) => e.event === 'backup.started')).toHaveLength(3);
      expect(events.filter((e) => String(e.warning ?? '').includes('discarded, attempt'))).toHaveLength(2);
      expect((await dumpLikeEntries(dir)).filter((name) => name.includes('.sql'))).toEqual([]);
    } finally {
      await holder.query('UNLOCK TABLES');
      await holder.end();
    }
  });

  it.skipIf(flavour !== 'mariadb')(
    "MariaDB takes no read lock on this path: the dump neither waits for a long statement nor stalls writes",
    async () => {
      const { result, worstWriteMs, events } = await backupBesideLongQuery({ BACKUP_LONG_QUERY_GUARD: '2s' });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(events.map((e) => e.event)).not.toContain('backup.waiting');
      console.log(`MariaDB: worst write ${worstWriteMs} ms`);
      expect(worstWriteMs).toBeLessThan(1_000);
    },
  );
});
