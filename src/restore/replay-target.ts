import { isBinlogName, sequenceOf } from '../binlog/archive-dir.js';
import type { BinlogTransaction } from '../binlog/transactions.js';
import { UsageError } from '../errors.js';
import { formatUtc, parseTargetTime, zoneName } from './target-time.js';

/**
 * Where a point-in-time restore stops. Always exclusive: the transaction at the target, and
 * everything after it, is not applied.
 */
export type ReplayTarget =
  | { readonly kind: 'time'; readonly atMs: number; readonly described: string }
  | { readonly kind: 'gtid'; readonly contains: (gtid: string) => boolean; readonly described: string }
  | { readonly kind: 'position'; readonly file: string; readonly position: number; readonly described: string };

export interface ReplayTargetFlags {
  readonly to?: string | undefined;
  readonly 'to-gtid'?: string | undefined;
  readonly 'to-position'?: string | undefined;
}

export const REPLAY_TARGET_OPTIONS = {
  to: { type: 'string' },
  'to-gtid': { type: 'string' },
  'to-position': { type: 'string' },
} as const;

/** The target the flags name, or null when none does (a plain dump restore). */
export function parseReplayTarget(flags: ReplayTargetFlags, timeZone: string | undefined): ReplayTarget | null {
  const given = (['to', 'to-gtid', 'to-position'] as const).filter((flag) => flags[flag] !== undefined);
  if (given.length > 1) throw new UsageError(`${given.map((f) => `--${f}`).join(' and ')}: give one target`);
  if (flags.to !== undefined) {
    const atMs = parseTargetTime(flags.to, timeZone);
    const local = /[zZ]|[+-]\d{2}:?\d{2}\s*$/.test(flags.to.trim()) ? flags.to.trim() : `${flags.to.trim()} ${zoneName(timeZone)}`;
    return { kind: 'time', atMs, described: `${local} (${formatUtc(atMs)}), the first transaction committed at or after it excluded` };
  }
  if (flags['to-gtid'] !== undefined) return { kind: 'gtid', contains: parseGtidSet(flags['to-gtid']), described: `just before GTID ${flags['to-gtid']}` };
  if (flags['to-position'] !== undefined) {
    const match = /^(.+):(\d+)$/.exec(flags['to-position']);
    if (!match || !isBinlogName(match[1]!)) {
      throw new UsageError(`--to-position ${JSON.stringify(flags['to-position'])}: expected FILE:POSITION, as SHOW BINLOG EVENTS names them (binlog.000042:1337)`);
    }
    return { kind: 'position', file: match[1]!, position: Number(match[2]), described: `just before ${match[1]}:${match[2]}` };
  }
  return null;
}

/** Whether the walk has reached the target: `transaction` is the first one not to apply. */
export function reaches(target: ReplayTarget, file: string, transaction: BinlogTransaction): boolean {
  switch (target.kind) {
    case 'time':
      return transaction.committedAtMs >= target.atMs;
    case 'gtid':
      return transaction.gtid !== null && target.contains(transaction.gtid);
    case 'position':
      // The transaction the position falls in is not applied either: a replay never stops halfway
      // through one. A position past its file's last transaction stops at the next file's first.
      return sequenceOf(file) > sequenceOf(target.file) || (file === target.file && transaction.end > target.position);
  }
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const MYSQL_ITEM = new RegExp(`^(${UUID})((?::\\d+(?:-\\d+)?)+)$`, 'i');
const MARIADB_ITEM = /^(\d+)-(\d+)-(\d+)$/;

/**
 * A GTID set as the server writes it: MySQL "uuid:1-5:7,uuid2:3", MariaDB "0-1-57,1-2-3"
 * (each a single GTID, since MariaDB has no ranges).
 */
export function parseGtidSet(text: string): (gtid: string) => boolean {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  const mysql = new Map<string, Array<[number, number]>>();
  const mariadb = new Set<string>();
  for (const item of items) {
    const m = MYSQL_ITEM.exec(item);
    if (m) {
      const ranges = mysql.get(m[1]!.toLowerCase()) ?? [];
      for (const interval of m[2]!.slice(1).split(':')) {
        const [first, last = first] = interval.split('-').map(Number) as [number, number?];
        ranges.push([first, last]);
      }
      mysql.set(m[1]!.toLowerCase(), ranges);
    } else if (MARIADB_ITEM.test(item)) {
      mariadb.add(item);
    } else {
      throw new UsageError(`--to-gtid ${JSON.stringify(text)}: ${JSON.stringify(item)} is not a GTID (MySQL uuid:N or uuid:N-M, MariaDB domain-server-N)`);
    }
  }
  if (items.length === 0) throw new UsageError('--to-gtid: give a GTID (MySQL uuid:N, MariaDB domain-server-N)');
  return (gtid) => {
    if (mariadb.has(gtid)) return true;
    const at = gtid.lastIndexOf(':');
    const sequence = Number(gtid.slice(at + 1));
    return (mysql.get(gtid.slice(0, at).toLowerCase()) ?? []).some(([first, last]) => sequence >= first && sequence <= last);
  };
}
