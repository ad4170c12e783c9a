import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import type { TestServer } from './mysql-server.js';

export const SAMPLE_DATA_SQL = new URL('../fixtures/sample-data.sql', import.meta.url);

/** Runs SQL through the plain `mysql` client of the server's family as the fixture's admin account (DELIMITER works). */
export async function runSqlScript(server: TestServer, sql: string): Promise<void> {
  const admin = server.adminClient();
  await execa(admin.command, admin.args, { input: sql, env: admin.env });
}

export async function loadSampleData(server: TestServer): Promise<void> {
  await runSqlScript(server, await readFile(SAMPLE_DATA_SQL, 'utf8'));
}

/**
 * The least-privilege backup account the README documents (test/integration/privileges.test.ts
 * runs its table). MariaDB takes its binlog position from the consistent snapshot; MySQL needs
 * FLUSH_TABLES (or the wider RELOAD) for its global read lock and REPLICATION CLIENT for the
 * position, and PROCESS for tablespace information and the long-query guard.
 */
export const BACKUP_GRANTS = {
  mariadb: 'SELECT, SHOW VIEW, TRIGGER, EVENT',
  mysql: 'SELECT, SHOW VIEW, TRIGGER, EVENT, PROCESS, FLUSH_TABLES, REPLICATION CLIENT',
} as const;

/** What the binlog archive needs on top (README, "The binlog archive"): reading the stream, and SHOW BINARY LOGS. */
export const BINLOG_GRANTS = {
  mariadb: 'REPLICATION SLAVE, BINLOG MONITOR',
  mysql: 'REPLICATION SLAVE, REPLICATION CLIENT',
} as const;

export async function createBackupAccount(server: TestServer, user: string, password: string): Promise<void> {
  await server.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', password]);
  await server.query(`GRANT ${BACKUP_GRANTS[server.flavour]} ON *.* TO ?@?`, [user, '%']);
}
