import { hasPrivilege } from './privileges.js';
import type { ServerInfo } from './server-info.js';

/** Whether the dump records its binlog position; when it would but cannot, why. */
export type BinlogAccess =
  | { readonly state: 'off' }
  | { readonly state: 'declined' }
  | { readonly state: 'readable' }
  | { readonly state: 'unreadable'; readonly reason: string };

/** Where a dump stands in the binary log, and what recording it costs: decided once per run. */
export interface CoordinatesPlan {
  readonly binlog: BinlogAccess;
  /**
   * MySQL with GTIDs on: `recorded` (as a comment, for restore to decide) or `omitted`
   * (--set-gtid-purged=OFF, BACKUP_BINLOG_COORDINATES=off); `none` elsewhere.
   */
  readonly gtidSet: 'recorded' | 'omitted' | 'none';
  /** mysqldump begins with FLUSH TABLES WITH READ LOCK (the long-query guard's business). */
  readonly globalReadLock: boolean;
}

type Facts = Pick<ServerInfo, 'flavour' | 'logBin' | 'gtidMode' | 'snapshotPosition' | 'privileges'>;

/**
 * What the dump records of the binary log. MySQL's mysqldump takes FLUSH TABLES WITH READ LOCK for
 * a moment whenever it records a position or a GTID set, so that they match its snapshot; MariaDB's
 * reads the position from the snapshot itself and locks only when the snapshot has none.
 * `wanted` is BACKUP_BINLOG_COORDINATES: off records neither, and so takes no lock.
 */
export function planCoordinates(facts: Facts, wanted: boolean): CoordinatesPlan {
  const binlog: BinlogAccess = !facts.logBin ? { state: 'off' } : wanted ? binlogAccess(facts) : { state: 'declined' };
  const gtidSet = facts.flavour !== 'mysql' || !facts.gtidMode ? 'none' : wanted ? 'recorded' : 'omitted';
  const globalReadLock =
    facts.flavour === 'mysql' ? gtidSet === 'recorded' || binlog.state === 'readable' : binlog.state === 'readable' && !facts.snapshotPosition;
  return { binlog, gtidSet, globalReadLock };
}

/**
 * Binlog coordinates need, on MySQL, a brief FLUSH TABLES WITH READ LOCK (RELOAD or FLUSH_TABLES)
 * and SHOW BINARY LOG STATUS (REPLICATION CLIENT); MariaDB reads them from its consistent snapshot
 * without either, and needs them only when that snapshot has none.
 */
function binlogAccess(facts: Facts): BinlogAccess {
  if (facts.flavour === 'mariadb' && facts.snapshotPosition) return { state: 'readable' };
  const has = (privilege: string) => hasPrivilege(facts.privileges, privilege);
  const missing: string[] = [];
  if (!has('RELOAD') && !has('FLUSH_TABLES')) missing.push(facts.flavour === 'mysql' ? 'RELOAD (or FLUSH_TABLES)' : 'RELOAD');
  if (!['REPLICATION CLIENT', 'BINLOG MONITOR', 'SUPER'].some(has)) {
    missing.push(facts.flavour === 'mariadb' ? 'BINLOG MONITOR' : 'REPLICATION CLIENT');
  }
  if (missing.length === 0) return { state: 'readable' };
  return { state: 'unreadable', reason: `the account lacks ${missing.join(' and ')} to read binlog coordinates` };
}
