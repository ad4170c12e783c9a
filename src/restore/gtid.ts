import type { Connection } from 'mysql2/promise';
import { UsageError, UserError } from '../errors.js';
import { queryWithTimeout } from '../mysql/connect.js';
import type { Flavour } from '../mysql/server-info.js';

export const GTID_PURGED_MODES = ['auto', 'apply', 'skip'] as const;
export type GtidPurgedMode = (typeof GTID_PURGED_MODES)[number];

/** What restore learns from its target before it writes anything. */
export interface TargetGtidState {
  readonly flavour: Flavour;
  /** MySQL's gtid_mode is not OFF. */
  readonly gtidMode: boolean;
  /** The part of the dump's GTID set the target has already executed; empty when disjoint. */
  readonly overlap: string;
}

export type GtidDecision =
  | { readonly action: 'none'; readonly gtidSet: string | null; readonly reason: string }
  | { readonly action: 'apply'; readonly gtidSet: string; readonly reason: string }
  | { readonly action: 'skip'; readonly gtidSet: string; readonly overlap: string; readonly reason: string };

/**
 * A MySQL dump taken with GTIDs carries the server's executed set and `SET SQL_LOG_BIN=0`:
 * nothing of the restore is written to the target's binary log, so its replicas never see it.
 */
const NOT_REPLICATED =
  'the restore is not written to the binary log (the dump sets SQL_LOG_BIN=0), so replicas of this server do not receive it: ' +
  'rebuild them from it afterwards (a fresh dump, or CLONE)';

/**
 * Whether the restore adds the dump's GTID set to the target's gtid_purged. Dumps are taken with
 * --set-gtid-purged=COMMENTED, so restore decides instead of the dump: with `auto`, a target
 * that has executed none of the set takes it (as a server built from this dump should, for
 * replication and point-in-time recovery); one that has executed any of it (the same server,
 * after a mistake) keeps its own state, since MySQL refuses to add GTIDs it already has (3546).
 * `apply` and `skip` insist; `apply` refuses, before anything is written, what MySQL would refuse.
 */
export function decideGtidPurged(mode: GtidPurgedMode | undefined, dumpSet: string | null, target: TargetGtidState): GtidDecision {
  if (target.flavour === 'mariadb') {
    if (mode === 'apply' || mode === 'skip') {
      throw new UsageError(
        "--gtid-purged is for MySQL targets: MariaDB's dump records its GTID position only as a comment (gtid_slave_pos), and restore sets nothing",
      );
    }
    return { action: 'none', gtidSet: dumpSet, reason: 'MariaDB: the dump records its GTID position only as a comment; nothing to set' };
  }
  if (dumpSet && !isMysqlGtidSet(dumpSet)) {
    if (mode === 'apply') throw new UserError(`--gtid-purged=apply, but the dump records a MariaDB GTID position (${dumpSet}), not a MySQL GTID set`, { exitCode: 2 });
    return { action: 'none', gtidSet: dumpSet, reason: `the dump records a MariaDB GTID position (${dumpSet}), which MySQL has no use for; nothing to set` };
  }
  if (!dumpSet) {
    if (mode === 'apply') throw new UserError('--gtid-purged=apply, but the dump holds no GTID set (gtid_mode was OFF when it was taken)', { exitCode: 2 });
    return { action: 'none', gtidSet: null, reason: 'the dump holds no GTID set (gtid_mode was OFF when it was taken); nothing to set' };
  }
  if (mode === 'skip') {
    return { action: 'skip', gtidSet: dumpSet, overlap: target.overlap, reason: `--gtid-purged=skip: the target's GTID state stays as it is; ${NOT_REPLICATED}` };
  }
  if (!target.gtidMode) {
    if (mode === 'apply') throw new UserError("--gtid-purged=apply, but the target's gtid_mode is OFF", { exitCode: 2 });
    return { action: 'none', gtidSet: dumpSet, reason: `the target's gtid_mode is OFF, so it keeps no GTID state; nothing to set; ${NOT_REPLICATED}` };
  }
  if (target.overlap !== '') {
    if (mode === 'apply') {
      throw new UserError(
        `--gtid-purged=apply, but the target has already executed ${target.overlap} of the dump's GTID set, and MySQL cannot add GTIDs it has`,
        { hint: 'Use --gtid-purged=skip (or auto), or restore into a server that has not run them.', exitCode: 2 },
      );
    }
    return {
      action: 'skip',
      gtidSet: dumpSet,
      overlap: target.overlap,
      reason:
        `the target has already executed ${target.overlap} of the dump's set (it is the server the dump came from, or a replica of it), ` +
        `so its GTID state stays as it is; ${NOT_REPLICATED}`,
    };
  }
  return {
    action: 'apply',
    gtidSet: dumpSet,
    reason: `the target has executed none of the dump's set ${dumpSet}: it is added to gtid_purged once the data is in; ${NOT_REPLICATED}`,
  };
}

/** "uuid:1-5,uuid:tag:1-3", as MySQL writes a GTID set; MariaDB's positions read "0-1-5". */
const isMysqlGtidSet = (set: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:/i.test(set);

/** gtid_mode, and what the target has already executed of `dumpSet`, computed by the server itself. */
export async function readTargetGtidState(connection: Connection, flavour: Flavour, dumpSet: string | null): Promise<TargetGtidState> {
  if (flavour === 'mariadb') return { flavour, gtidMode: false, overlap: '' };
  if (dumpSet !== null && !isMysqlGtidSet(dumpSet)) dumpSet = null;
  const [rows] = await queryWithTimeout(
    connection,
    'SELECT @@GLOBAL.gtid_mode AS mode, GTID_SUBTRACT(?, GTID_SUBTRACT(?, @@GLOBAL.gtid_executed)) AS overlap',
    [dumpSet ?? '', dumpSet ?? ''],
  );
  return {
    flavour,
    gtidMode: String(rows[0]?.mode ?? 'OFF').toUpperCase() !== 'OFF',
    overlap: String(rows[0]?.overlap ?? '').replace(/\s+/g, ''),
  };
}

/** What a server restored from the dump must say it has executed; `+` adds to what it has. */
export async function addToGtidPurged(connection: Connection, gtidSet: string): Promise<void> {
  await connection.query('SET @@GLOBAL.gtid_purged = ?', [`+${gtidSet}`]);
}
