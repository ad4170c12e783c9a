import { readFile } from 'node:fs/promises';
import path from 'node:path';
import mysql, { type Connection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { dumpLikeEntries, followOutput, isDumpName, makeTempDir, startCli, waitUntil } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { startTestServer, type TestServer } from '../support/mysql-server.js';
import { restoreWithMysqlClient } from '../support/restore.js';
import { dumpsCanBeHeld, holdDumpMidway } from '../support/stalled-dump.js';

const PASSWORD = 'consistency-pw';
const ACCOUNTS = 2000;
const OPENING_BALANCE = 1000;
const WORKERS = 4;
/**
 * On MySQL each worker pauses this long between transfers, as an application does: about 150
 * transfers a second in all. Flat out, MySQL's FLUSH TABLES WITH READ LOCK (taken for a
 * GTID-consistent dump) can wait on a cycle with in-flight transactions that outlives the dump
 * (README, the global read lock); MariaDB takes no such lock, and its workers run flat out.
 */
const MYSQL_PAUSE_MS = 20;

/**
 * The bank: money moves between accounts in transactions, each transfer also appends to a
 * ledger, some delete the oldest ledger entry, and a counter row tracks the ledger's size in the
 * same transactions. Any moment's committed state has the same total and a counter equal to the
 * ledger's row count; a dump that read its tables at different moments would not.
 */
async function openBank(server: TestServer): Promise<void> {
  await server.query(`
    CREATE DATABASE bank;
    CREATE TABLE bank.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB;
    CREATE TABLE bank.ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, src INT NOT NULL, dst INT NOT NULL, amount INT NOT NULL) ENGINE=InnoDB;
    CREATE TABLE bank.counter (id INT PRIMARY KEY, ledger_rows BIGINT NOT NULL) ENGINE=InnoDB;
    INSERT INTO bank.counter VALUES (1, 0);`);
  const values = Array.from({ length: ACCOUNTS }, (_, i) => `(${i + 1}, ${OPENING_BALANCE})`).join(',');
  await server.query(`INSERT INTO bank.accounts VALUES ${values}`);
}

async function transfer(connection: Connection, n: number): Promise<void> {
  const a = 1 + Math.floor(Math.random() * ACCOUNTS);
  const b = 1 + ((a + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS);
  const amount = 1 + Math.floor(Math.random() * 50);
  const [low, high] = a < b ? [a, b] : [b, a];
  await connection.query('BEGIN');
  try {
    // Rows locked in id order, so workers never deadlock on each other.
    await connection.query('SELECT id FROM bank.accounts WHERE id IN (?, ?) ORDER BY id FOR UPDATE', [low, high]);
    await connection.query('UPDATE bank.accounts SET balance = balance - ? WHERE id = ?', [amount, a]);
    await connection.query('UPDATE bank.accounts SET balance = balance + ? WHERE id = ?', [amount, b]);
    await connection.query('INSERT INTO bank.ledger (src, dst, amount) VALUES (?, ?, ?)', [a, b, amount]);
    await connection.query('UPDATE bank.counter SET ledger_rows = ledger_rows + 1 WHERE id = 1');
    if (n % 4 === 0) {
      const [deleted] = await connection.query<mysql.ResultSetHeader>('DELETE FROM bank.ledger ORDER BY id LIMIT 1');
      await connection.query('UPDATE bank.counter SET ledger_rows = ledger_rows - ? WHERE id = 1', [deleted.affectedRows]);
    }
    await connection.query('COMMIT');
  } catch (error) {
    await connection.query('ROLLBACK');
    // Two workers deleting the same oldest ledger row: one waits or deadlocks and retries later.
    if ((error as { errno?: number }).errno !== 1213) throw error;
  }
}

describe('consistency under write load', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });

  it('a dump taken during continuous transfers restores with the exact total and every account', async () => {
    const { server } = fixture;
    await openBank(server);
    let stop = false;
    let committed = 0;
    const pauseMs = server.flavour === 'mysql' ? MYSQL_PAUSE_MS : 0;
    const workers = await Promise.all(Array.from({ length: WORKERS }, () => mysql.createConnection(server.adminConnection())));
    const load = Promise.all(
      workers.map(async (connection) => {
        for (let n = 1; !stop; n++) {
          await transfer(connection, n);
          committed++;
          if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
      }),
    );

    const dir = await makeTempDir();
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Hold the dump mid-way for two seconds of transfers: it must still see one moment. MySQL
      // with GTIDs begins with a global read lock, which a held table would block at the start
      // (stalled-dump.ts): there the dump runs amid the transfers unheld, lock and all.
      const stall = (await dumpsCanBeHeld(server)) ? await holdDumpMidway(server) : undefined;
      const backup = startCli(['backup'], sidecarEnv(server, PASSWORD, dir));
      const output = followOutput(backup);
      await waitUntil(() => output.text.includes('"event":"backup.started"'), 'the dump started');
      const atStart = committed;
      if (stall) {
        await stall.waitUntilDumpWaits('backup');
        await new Promise((resolve) => setTimeout(resolve, 2000));
        await stall.release();
      }
      const result = await backup;
      expect(result.stderr, `the backup's stderr: ${result.stderr}`).toBe('');
      expect(result.exitCode, result.stderr).toBe(0);
      // Transfers really went on while the dump ran.
      expect(committed - atStart).toBeGreaterThan(stall ? 50 : 10);
    } finally {
      stop = true;
      await load;
      await Promise.all(workers.map((w) => w.end()));
    }

    const dump = (await dumpLikeEntries(dir)).find(isDumpName)!;
    const manifest = JSON.parse(await readFile(path.join(dir, `${dump}.manifest.json`), 'utf8'));
    // With binary logging on, the dump also records its position.
    expect(manifest.binlog.file).toMatch(/binlog\.\d+$/);

    const restored = await startTestServer();
    try {
      await restoreWithMysqlClient(restored, path.join(dir, dump));
      const [totals] = await restored.query('SELECT COUNT(*) AS accounts, SUM(balance) AS total FROM bank.accounts');
      expect({ accounts: Number(totals!.accounts), total: Number(totals!.total) }).toEqual({
        accounts: ACCOUNTS,
        total: ACCOUNTS * OPENING_BALANCE,
      });
      const [ledger] = await restored.query('SELECT (SELECT COUNT(*) FROM bank.ledger) AS counted, ledger_rows FROM bank.counter');
      expect(Number(ledger!.counted)).toBe(Number(ledger!.ledger_rows));
      expect(Number(ledger!.counted)).toBeGreaterThan(0);
    } finally {
      await restored.stop();
    }
    console.log(`consistency: ${committed} transfers committed during the test`);
  });
});
