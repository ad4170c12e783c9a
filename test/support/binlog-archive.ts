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
