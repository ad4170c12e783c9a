import type { Connection, RowDataPacket } from 'mysql2/promise';
import { queryWithTimeout } from './connect.js';
import { parseGlobalGrants } from './privileges.js';

export type Flavour = 'mysql' | 'mariadb';

/** What a run learns from the server before it dumps; the decisions taken from it are in privileges.ts. */
export interface ServerInfo {
  /** As the server reports it, e.g. "9.7.4-2" or "10.11.19-MariaDB-0+deb12u1-log". */
  readonly version: string;
  readonly flavour: Flavour;
  /** The account, as CURRENT_USER() names it, e.g. "backup@%". */
  readonly account: string;
  readonly logBin: boolean;
  /** MySQL's gtid_mode is not OFF. MariaDB always has GTIDs, but its mysqldump only comments its position. */
  readonly gtidMode: boolean;
  /** MariaDB: the binlog position of a consistent snapshot can be read without any privilege. */
  readonly snapshotPosition: boolean;
  /** Global privileges of the session, the account's own and its enabled roles' (SHOW GRANTS). */
  readonly privileges: ReadonlySet<string>;
}

export async function readServerInfo(connection: Connection): Promise<ServerInfo> {
  const [rows] = await queryWithTimeout(connection, 'SELECT VERSION() AS version, @@log_bin AS logBin, CURRENT_USER() AS account');
  const row: RowDataPacket = rows[0] ?? ({} as RowDataPacket);
  const version = String(row.version ?? '');
  const flavour: Flavour = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  const logBin = Number(row.logBin ?? 0) === 1;
  let gtidMode = false;
  let snapshotPosition = false;
  if (flavour === 'mysql') {
    const [mode] = await queryWithTimeout(connection, 'SELECT @@GLOBAL.gtid_mode AS gtidMode');
    gtidMode = String(mode[0]?.gtidMode ?? 'OFF').toUpperCase() !== 'OFF';
  } else if (logBin) {
    // With --single-transaction, MariaDB's mysqldump reads the position from these status
    // variables of its consistent snapshot and needs neither RELOAD nor BINLOG MONITOR.
    const [status] = await queryWithTimeout(connection, "SHOW STATUS LIKE 'binlog_snapshot_file'");
    snapshotPosition = String(status[0]?.Value ?? '') !== '';
  }
  // Each line's one column; MariaDB's may carry the password hash, which goes nowhere but the parser.
  const [grants] = await queryWithTimeout(connection, 'SHOW GRANTS');
  const privileges = parseGlobalGrants(grants.map((g) => String(Object.values(g)[0] ?? '')));
  return { version, flavour, account: String(row.account ?? ''), logBin, gtidMode, snapshotPosition, privileges };
}

/** "backup@%" -> "'backup'@'%'", as GRANT takes an account. */
export function quoteAccount(account: string): string {
  const at = account.lastIndexOf('@');
  return at === -1 ? `'${account}'` : `'${account.slice(0, at)}'@'${account.slice(at + 1)}'`;
}
