import type { Connection, RowDataPacket } from 'mysql2/promise';

export type Flavour = 'mysql' | 'mariadb';

export interface ServerInfo {
  /** As the server reports it, e.g. "8.0.40" or "10.11.19-MariaDB-0+deb12u1-log". */
  readonly version: string;
  readonly flavour: Flavour;
  readonly binlog: BinlogAccess;
}

/** Whether the dump can record binlog coordinates; when binary logging is on but they cannot be read, why. */
export type BinlogAccess =
  | { readonly state: 'off' }
  | { readonly state: 'readable' }
  | { readonly state: 'unreadable'; readonly reason: string };

/** The probe's queries are tiny; a server that takes longer is frozen, and the run must not hang on it. */
const PROBE_QUERY_TIMEOUT_MS = 30_000;

const probe = (connection: Connection, sql: string) =>
  connection.query<RowDataPacket[]>({ sql, timeout: PROBE_QUERY_TIMEOUT_MS });

export async function readServerInfo(connection: Connection): Promise<ServerInfo> {
  const [rows] = await probe(connection, 'SELECT VERSION() AS version, @@log_bin AS logBin');
  const version = String(rows[0]?.version ?? '');
  const flavour: Flavour = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  const logBin = Number(rows[0]?.logBin ?? 0) === 1;
  return { version, flavour, binlog: logBin ? await readBinlogAccess(connection, flavour) : { state: 'off' } };
}

async function readBinlogAccess(connection: Connection, flavour: Flavour): Promise<BinlogAccess> {
  if (flavour === 'mariadb') {
    // With --single-transaction, MariaDB's mysqldump reads the position from these status
    // variables of its consistent snapshot and needs neither RELOAD nor BINLOG MONITOR.
    const [rows] = await probe(connection, "SHOW STATUS LIKE 'binlog_snapshot_file'");
    if (String(rows[0]?.Value ?? '') !== '') return { state: 'readable' };
  }
  // Otherwise mysqldump takes FLUSH TABLES WITH READ LOCK (RELOAD) for a moment and then reads
  // SHOW MASTER STATUS (REPLICATION CLIENT, called BINLOG MONITOR on MariaDB 10.5+).
  const [rows] = await probe(
    connection,
    `SELECT PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES
      WHERE GRANTEE = CONCAT("'", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "'@'",
                             SUBSTRING_INDEX(CURRENT_USER(), '@', -1), "'")`,
  );
  const granted = new Set(rows.map((row) => String(row.privilege).toUpperCase()));
  const missing: string[] = [];
  if (!granted.has('RELOAD')) missing.push('RELOAD');
  if (!['REPLICATION CLIENT', 'BINLOG MONITOR', 'SUPER'].some((p) => granted.has(p))) {
    missing.push(flavour === 'mariadb' ? 'BINLOG MONITOR' : 'REPLICATION CLIENT');
  }
  if (missing.length === 0) return { state: 'readable' };
  return { state: 'unreadable', reason: `the account lacks ${missing.join(' and ')} to read binlog coordinates` };
}
