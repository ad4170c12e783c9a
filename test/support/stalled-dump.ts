import { setTimeout as sleep } from 'node:timers/promises';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { type TestServer, type TestServerOptions, testFlavour } from './mysql-server.js';

export const STALL_SCHEMA = 'zz_stall';

/**
 * A server whose dumps holdDumpMidway can hold. With a binary log or GTIDs, MySQL's mysqldump
 * begins with FLUSH TABLES WITH READ LOCK, and that flush waits on the held table at the very
 * start, before a byte is written; so on MySQL these servers run without a binary log, where
 * mysqldump takes no global lock. MariaDB's reads its position from the snapshot and takes none.
 * The global-lock path is tested with GTIDs on everywhere else (backup, recovery, privileges,
 * the long-query guard).
 */
export const HOLDABLE_DUMPS: TestServerOptions = testFlavour() === 'mysql' ? { binlog: false } : {};

/**
 * A deterministic "in the middle of a dump": another session holds a write lock on a table in a
 * schema that sorts after all others, so mysqldump has written everything before it and then
 * waits on that table's metadata lock until `release()`.
 */
export async function holdDumpMidway(server: TestServer): Promise<{
  waitUntilDumpWaits(user: string): Promise<void>;
  release(): Promise<void>;
}> {
  if (!(await dumpsCanBeHeld(server))) {
    throw new Error('mysqldump takes a global read lock on this server, which would meet the held table at its start: start it with HOLDABLE_DUMPS');
  }
  await server.query(`CREATE DATABASE IF NOT EXISTS ${STALL_SCHEMA}`);
  await server.query(`CREATE TABLE IF NOT EXISTS ${STALL_SCHEMA}.t (id INT PRIMARY KEY)`);
  await server.query(`INSERT IGNORE INTO ${STALL_SCHEMA}.t VALUES (1)`);
  const locker = await mysql.createConnection(server.adminConnection());
  await locker.query(`LOCK TABLES ${STALL_SCHEMA}.t WRITE`);
  return {
    async waitUntilDumpWaits(user: string) {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const rows = await server.query<RowDataPacket[]>(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND STATE LIKE '%lock%'",
          [user],
        );
        if (Number(rows[0]?.n) > 0) return;
        await sleep(50);
      }
      throw new Error(`no dump by ${user} came to wait on ${STALL_SCHEMA}.t within 30 s`);
    },
    async release() {
      // After the server was killed the connection is gone; there is nothing to release then.
      await locker.query('UNLOCK TABLES').catch(() => undefined);
      await locker.end().catch(() => undefined);
      locker.destroy();
    },
  };
}

/** False where mysqldump begins with FLUSH TABLES WITH READ LOCK: MySQL with a binary log or GTIDs. */
export async function dumpsCanBeHeld(server: TestServer): Promise<boolean> {
  if (server.flavour === 'mariadb') return true;
  const [row] = await server.query<RowDataPacket[]>('SELECT @@log_bin AS logBin, @@GLOBAL.gtid_mode AS gtidMode');
  return Number(row?.logBin) === 0 && String(row?.gtidMode) === 'OFF';
}
