import { stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import type { TestServer } from './mysql-server.js';

/** The table the archive tests write to: `writeBatch` fills it. */
export const LEDGER_SQL = [
  'CREATE DATABASE pitr',
  'CREATE TABLE pitr.ledger (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64) NOT NULL, amount INT NOT NULL) ENGINE=InnoDB',
];

/** Waits until every binary log file the server lists is in `dir` with the server's size. */
export async function waitUntilLevel(server: TestServer, dir: string, timeoutMs = 30_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let behind: string[] = [];
  while (Date.now() < deadline) {
    const logs = await server.query('SHOW BINARY LOGS');
    behind = [];
    for (const log of logs) {
      const local = await stat(path.join(dir, String(log.Log_name))).catch(() => null);
      if (local?.size !== Number(log.File_size)) behind.push(`${log.Log_name}: ${local?.size ?? 'missing'} of ${log.File_size}`);
    }
    if (behind.length === 0) return logs.map((log) => String(log.Log_name));
    await sleep(200);
  }
  throw new Error(`the archive did not catch up within ${timeoutMs} ms: ${behind.join(', ')}`);
}

/** Committed writes of every kind a replay must reproduce: inserts in transactions, an update, a delete. */
export async function writeBatch(server: TestServer, label: string): Promise<void> {
  const connection = await mysql.createConnection(server.adminConnection());
  try {
    for (let i = 0; i < 5; i++) {
      await connection.query('START TRANSACTION');
      await connection.query('INSERT INTO pitr.ledger (note, amount) VALUES (?, ?), (?, ?)', [`${label}-${i}a`, i, `${label}-${i}b`, i * 10]);
      await connection.query('COMMIT');
    }
    await connection.query('UPDATE pitr.ledger SET amount = amount + 1 WHERE note LIKE ?', [`${label}-%a`]);
    await connection.query('DELETE FROM pitr.ledger WHERE note = ?', [`${label}-0b`]);
  } finally {
    await connection.end();
  }
}

/**
 * Rows that reach pitr.ledger through a temporary table filled before a rotation and read after
 * it: a replay must run the files in one session for them to arrive (note 'from-temp').
 */
export async function writeThroughTemporaryTableAcrossRotation(server: TestServer): Promise<void> {
  const session = await mysql.createConnection(server.adminConnection());
  try {
    await session.query('CREATE TEMPORARY TABLE pitr.scratch (note VARCHAR(64), amount INT)');
    await session.query("INSERT INTO pitr.scratch VALUES ('from-temp', 7)");
    await server.query('FLUSH BINARY LOGS');
    await session.query('INSERT INTO pitr.ledger (note, amount) SELECT note, amount FROM pitr.scratch');
  } finally {
    await session.end();
  }
}
