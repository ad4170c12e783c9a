import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { renderDefaultsFile } from '../../src/mysql/defaults-file.js';
import { Secret } from '../../src/secret.js';
import { startTestServer, type TestServer } from '../../test/support/mysql-server.js';
import { createBackupAccount } from '../../test/support/sample-data.js';

/** The least-privilege account the product and bare mysqldump dump as, like a real deployment. */
export const BACKUP_ACCOUNT = { user: 'backup', password: 'bench-backup-pw' } as const;
/**
 * Restores and mydumper need more than SELECT. The same account exists on both servers: a restore
 * of a full dump replaces the target's accounts with the source's.
 */
export const ADMIN_ACCOUNT = { user: 'bench_admin', password: 'bench-admin-pw' } as const;

export interface ScratchServers {
  /** Holds the data every dump reads; the OLTP workload runs against it. */
  readonly source: TestServer;
  /** Where restores go, so they never change what the dumps read. */
  readonly target: TestServer;
  stop(): Promise<void>;
}

export async function startScratchServers(bufferPoolMiB: number): Promise<ScratchServers> {
  const source = await startTestServer({ bufferPoolMiB });
  const target = await startTestServer({ bufferPoolMiB }).catch(async (error) => {
    await source.stop();
    throw error;
  });
  for (const server of [source, target]) {
    await createBackupAccount(server, BACKUP_ACCOUNT.user, BACKUP_ACCOUNT.password);
    await server.query('CREATE USER ?@? IDENTIFIED BY ?', [ADMIN_ACCOUNT.user, '%', ADMIN_ACCOUNT.password]);
    await server.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [ADMIN_ACCOUNT.user, '%']);
  }
  return { source, target, stop: async () => void (await Promise.all([source.stop(), target.stop()])) };
}

/** A `[client]` option file for the stock tools (mysqldump, mysql, mydumper): no password on argv. */
export async function writeClientOptions(
  dir: string,
  name: string,
  server: TestServer,
  account: { user: string; password: string },
): Promise<string> {
  const file = path.join(dir, name);
  const address = { host: server.host, port: server.port, user: account.user, password: new Secret(account.password) };
  await writeFile(file, renderDefaultsFile(address, server.flavour), { mode: 0o600 });
  return file;
}

/** sysbench's sbtest rows (an int, two char(120)/char(60) strings of digits) take this much SQL each. */
export const SQL_BYTES_PER_ROW = 195;
export const SYSBENCH_TABLES = 8;

export function sysbenchConnection(server: TestServer, database: string): string[] {
  return [
    '--db-driver=mysql',
    `--mysql-host=${server.host}`,
    `--mysql-port=${server.port}`,
    `--mysql-user=${ADMIN_ACCOUNT.user}`,
    `--mysql-password=${ADMIN_ACCOUNT.password}`,
    `--mysql-db=${database}`,
    `--tables=${SYSBENCH_TABLES}`,
  ];
}

/**
 * Fills `database` with about `sqlBytes` of dump through Debian's sysbench (`oltp_read_write
 * prepare`), the same tables the OLTP workload then reads and writes.
 */
export async function loadSysbenchData(server: TestServer, database: string, sqlBytes: number): Promise<{ rows: number }> {
  const tableSize = Math.max(1, Math.round(sqlBytes / SQL_BYTES_PER_ROW / SYSBENCH_TABLES));
  await server.query(`CREATE DATABASE \`${database}\``);
  await execa('sysbench', ['oltp_read_write', ...sysbenchConnection(server, database), `--table-size=${tableSize}`, '--threads=2', 'prepare']);
  return { rows: tableSize * SYSBENCH_TABLES };
}
