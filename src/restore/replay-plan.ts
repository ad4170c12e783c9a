import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readInventory } from '../backup/inventory.js';
import { readManifest } from '../backup/manifest.js';
import { manifestFileName } from '../backup/naming.js';
import { type ArchivedFile, sequenceOf } from '../binlog/archive-dir.js';
import { type BinlogIndex, readIndex } from '../binlog/seal.js';
import { type BinlogTransaction, walkTransactions } from '../binlog/transactions.js';
import { type ArchiveEpoch, readRecoverableWindow } from '../binlog/window.js';
import { UserError } from '../errors.js';
import { type ReplayTarget, reaches } from './replay-target.js';
import { formatUtc } from './target-time.js';

export type LocatedTransaction = BinlogTransaction & { readonly file: string };

export interface LocatedDdl {
  readonly transaction: LocatedTransaction;
  /** Its default database (the USE it ran after), or null. */
  readonly database: string | null;
  readonly statement: string;
}

export interface ReplayFile {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** Null for the file still being written (or one the archiver had not sealed): it is read through instead. */
  readonly index: BinlogIndex | null;
}

/** What `restore --to` does, worked out from BACKUP_DIR and BINLOG_DIR alone, before anything is touched. */
export interface ReplayPlan {
  readonly dump: { readonly name: string; readonly path: string; readonly finishedAt: string; readonly binlogFile: string; readonly binlogPosition: number };
  readonly epochDir: string;
  /** From the dump's file to the one the replay stops in, contiguous. */
  readonly files: readonly ReplayFile[];
  /** The replay reads files[0] from the dump's position and the last file up to here. */
  readonly stopPosition: number;
  /** The first transaction not applied; null: the archive ends before the target, and everything archived is applied. */
  readonly excluded: LocatedTransaction | null;
  readonly firstApplied: LocatedTransaction | null;
  readonly lastApplied: LocatedTransaction | null;
  /** The first applied transaction's GTID that could be read: the one a same-server check looks for. */
  readonly firstGtid: string | null;
  readonly transactions: number;
  /** Applied transactions without a GTID read: anonymous (gtid_mode OFF) or MySQL 8.3+ tagged ones. */
  readonly withoutGtid: number;
  /** The first applied transaction with changes logged as statements: a replay of one database cannot place those. */
  readonly firstStatementLogged: LocatedTransaction | null;
  /** Every applied DDL statement (and the like), in order: what a replay of one database, or under a new name, must check. */
  readonly ddl: readonly LocatedDdl[];
  /** Each database the applied transactions change (by table map or USE), with the first that does. */
  readonly databases: ReadonlyMap<string, LocatedTransaction>;
  /** The first applied compressed transaction, whose databases and DDL are not read. */
  readonly firstCompressed: LocatedTransaction | null;
  /** Binlog bytes the replay reads. */
  readonly bytes: number;
}

/**
 * Picks the newest good dump the target can be reached from, and the archived binary logs from
 * its coordinates to the target, refusing (naming it) a gap in the way. Reads the files through
 * to find the transaction at the target; checksums wait for verifyReplayFiles.
 */
export async function planReplay(backupDir: string, binlogDir: string, target: ReplayTarget, options: { pastArchiveOk?: boolean } = {}): Promise<ReplayPlan> {
  const { epochs } = await readRecoverableWindow(binlogDir, backupDir);
  if (epochs.every((epoch) => epoch.files.length === 0)) {
    throw new UserError(`BINLOG_DIR ${binlogDir} holds no archived binary logs: a restore to a point needs the archive (BINLOG_ARCHIVE=true)`, { exitCode: 2 });
  }
  const passedOver: string[] = [];
  for (const backup of (await readInventory(backupDir)).backups.filter((b) => b.checksummed)) {
    const manifest = await readManifest(path.join(backupDir, manifestFileName(backup.name)));
    const coordinates = manifest?.binlog;
    if (!manifest || !coordinates?.file || coordinates.position === null) {
      passedOver.push(`${backup.name}: no binlog coordinates in its manifest`);
      continue;
    }
    const finishedMs = Date.parse(manifest.finishedAt);
    if (target.kind === 'time' && finishedMs > target.atMs) continue;
    const epoch = epochOf(epochs, finishedMs, coordinates.file);
    if (!epoch) {
      passedOver.push(`${backup.name}: its binlog file ${coordinates.file} is not in the archive`);
      continue;
    }
    if (target.kind === 'position' && before({ file: target.file, position: target.position }, { file: coordinates.file, position: coordinates.position })) continue;
    const dump = { name: backup.name, path: backup.path, finishedAt: manifest.finishedAt, binlogFile: coordinates.file, binlogPosition: coordinates.position };
    const plan = await walkToTarget(epoch, dump, target, options.pastArchiveOk === true);
    if (plan) return plan;
    // A GTID or a position not after this dump may be before it: an older dump may reach it.
    if (target.kind !== 'time') passedOver.push(`${backup.name}: ${target.described.replace(/^just before /, '')} is not in the archive after it`);
  }
  const why = passedOver.length ? `\n${passedOver.join('\n')}` : '';
  if (target.kind === 'time') {
    throw new UserError(`no good dump finished before ${formatUtc(target.atMs)} rolls forward through the archive${why}`, {
      hint: '`list` shows the dumps and the recoverable window.',
      exitCode: 2,
    });
  }
  throw new UserError(`no good dump rolls forward to ${target.described.replace(/^just before /, '')}${why}`, { hint: '`list` shows the dumps and the recoverable window.', exitCode: 2 });
}

/** Checks every file of the plan: a sealed one against the sha256 of its index; one not sealed has been read through. */
export async function verifyReplayFiles(plan: ReplayPlan): Promise<string[]> {
  const problems: string[] = [];
  for (const file of plan.files) {
    if (!file.index) continue;
    const hash = createHash('sha256');
    await pipeline(createReadStream(file.path, { start: 0, end: file.index.bytes - 1 }), hash);
    const sha256 = hash.digest('hex');
    if (sha256 !== file.index.sha256) problems.push(`${file.name}: sha256 ${sha256} is not the ${file.index.sha256} it was sealed with`);
  }
  return problems;
}

/**
 * The epoch a dump's coordinates lie in: the one that has its file and was current when the
 * dump finished (a file name comes back after RESET MASTER, in another epoch).
 */
function epochOf(epochs: readonly ArchiveEpoch[], finishedMs: number, file: string): ArchiveEpoch | undefined {
  let previousEnd = -Infinity;
  for (const epoch of epochs) {
    const end = epoch.endedAtMs ?? Infinity;
    if (finishedMs > previousEnd && finishedMs <= end && epoch.files.some((f) => f.name === file)) return epoch;
    previousEnd = end;
  }
  return undefined;
}

const before = (a: { file: string; position: number }, b: { file: string; position: number }) =>
  sequenceOf(a.file) < sequenceOf(b.file) || (a.file === b.file && a.position < b.position);

/**
 * Walks the epoch's transactions from the dump's coordinates; returns the plan up to the first
 * that reaches the target, or null when none does (and the target is not a time, which the end
 * of the archive stands in for). A missing file on the way is a gap and refuses.
 */
async function walkToTarget(epoch: ArchiveEpoch, dump: ReplayPlan['dump'], target: ReplayTarget, pastArchiveOk: boolean): Promise<ReplayPlan | null> {
  const all = epoch.files;
  // A later file's first transaction stands for a position past its file's end, not for a file that is not there.
  if (target.kind === 'position' && !all.some((f) => f.name === target.file)) return null;
  const files: ReplayFile[] = [];
  // Filled in by the walk's callback.
  const seen: WalkedTransactions = {
    excluded: null,
    firstApplied: null,
    lastApplied: null,
    firstGtid: null,
    transactions: 0,
    withoutGtid: 0,
    firstStatementLogged: null,
    ddl: [],
    databases: new Map(),
    firstCompressed: null,
  };
  for (let i = all.findIndex((f) => f.name === dump.binlogFile); i < all.length && !seen.excluded; i++) {
    const file = all[i]!;
    const previous = files.at(-1);
    if (previous) assertFollows(epoch, previous, file);
    const from = previous ? 0 : dump.binlogPosition;
    await walkTransactions(path.join(epoch.dir, file.name), file.size, (transaction) => {
      if (transaction.start < from) return false;
      const located = { ...transaction, file: file.name };
      if (reaches(target, file.name, transaction)) {
        seen.excluded = located;
        return true;
      }
      seen.firstApplied ??= located;
      seen.lastApplied = located;
      seen.firstGtid ??= transaction.gtid;
      seen.transactions++;
      if (transaction.gtid === null) seen.withoutGtid++;
      if (transaction.statementLogged) seen.firstStatementLogged ??= located;
      if (transaction.compressed) seen.firstCompressed ??= located;
      for (const database of transaction.databases) if (!seen.databases.has(database)) seen.databases.set(database, located);
      for (const { database, statement } of transaction.ddl) seen.ddl.push({ transaction: located, database, statement });
      return false;
    });
    files.push({ name: file.name, path: path.join(epoch.dir, file.name), bytes: file.size, index: await readIndex(epoch.dir, file.name, file.size) });
  }
  const { excluded, lastApplied } = seen;
  let stopPosition: number;
  if (excluded) {
    stopPosition = excluded.start;
  } else {
    if (target.kind !== 'time') return null;
    if (epoch.endedAtMs !== null && epoch.endedAtMs < target.atMs) {
      throw new UserError(
        `the archive has a gap between ${dump.name} and ${formatUtc(target.atMs)}: the binary logs from ${dump.binlogFile} on end at ${formatUtc(epoch.endedAtMs)} ` +
          `(${path.basename(epoch.dir)}), and no good dump after the gap finished before the target`,
        { hint: 'Restore to a time before the gap, or to one after the first dump that followed it (`list` shows both).', exitCode: 2 },
      );
    }
    // Nothing archived is at or after T. Transactions the archive has not got (it lagged, or
    // stopped) would be missing without a word; a quiet server since is the caller's to vouch for.
    const lastAt = lastApplied?.committedAtMs ?? null;
    if (!pastArchiveOk) {
      throw new UserError(
        `${formatUtc(target.atMs)} is past the archive: its last transaction${lastAt === null ? ' after the dump' : ''} committed ${lastAt === null ? 'is none' : `at ${formatUtc(lastAt)}`}, ` +
          'and transactions after it that the archive did not get would be missing from the restore',
        {
          hint: '`list` shows how far the archive reaches. If nothing was written since (or losing it is what you want), run again with --force to apply everything archived.',
          exitCode: 2,
        },
      );
    }
    // Everything archived applies; files after the last transaction (just rotated) are not needed.
    const lastFile = lastApplied?.file ?? dump.binlogFile;
    files.splice(files.findIndex((f) => f.name === lastFile) + 1);
    stopPosition = lastApplied?.end ?? dump.binlogPosition;
  }
  const bytes = files.reduce((sum, f, i) => sum + (i === files.length - 1 ? stopPosition : f.bytes) - (i === 0 ? dump.binlogPosition : 0), 0);
  return { dump, epochDir: epoch.dir, files, stopPosition, ...seen, bytes };
}

/** What the walk to the target tells of the transactions, as the plan holds it. */
type WalkedTransactions = {
  -readonly [K in 'excluded' | 'firstApplied' | 'lastApplied' | 'firstGtid' | 'transactions' | 'withoutGtid' | 'firstStatementLogged' | 'firstCompressed']: ReplayPlan[K];
} & { ddl: LocatedDdl[]; databases: Map<string, LocatedTransaction> };

/** Consecutive numbers, and the file a sealed one's closing rotate names: anything else is a gap in the way. */
function assertFollows(epoch: ArchiveEpoch, previous: ReplayFile, next: ArchivedFile): void {
  const expected = previous.index?.nextFile;
  if (sequenceOf(next.name) !== sequenceOf(previous.name) + 1 || (expected && expected !== next.name)) {
    throw new UserError(
      `the archive has a gap in ${epoch.dir}: ${previous.name} is followed by ${next.name}${expected ? `, but its rotate names ${expected}` : ''}; ` +
        'the replay cannot cross it',
      { hint: 'Restore to a point before the gap, or from a dump taken after it.', exitCode: 2 },
    );
  }
}

/** "uuid:7 at binlog.000002:1234", for a message that points at one transaction. */
const where = (t: LocatedTransaction) => `${t.gtid ? `${t.gtid} ` : ''}at ${t.file}:${t.start}`;

/** The first 120 characters of a statement, on one line. */
const excerpt = (statement: string) => {
  const line = statement.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
};

/**
 * Whether a statement names a database: its name as a word of its own, bare or in backticks,
 * in any case. It errs towards yes (a column or a string of that name counts too), which only
 * refuses a replay that might have been safe.
 */
export function namesDatabase(statement: string, database: string): boolean {
  const name = database.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\p{L}\\p{N}_$])${name}(?![\\p{L}\\p{N}_$])`, 'iu').test(statement);
}

/**
 * Why the plan cannot be replayed for one database alone, or null. mysqlbinlog --database keeps
 * a row change by the table's database, but a statement by the USE before it: `USE other;
 * UPDATE db.t ...` would be lost, and `USE db; UPDATE other.t ...` would be applied. The same
 * holds for DDL, which is always a statement: one run elsewhere that names the database (`USE
 * other; ALTER TABLE db.t ...`) would be left out, and the rows after it would meet the table's
 * old shape.
 */
export function oneDatabaseProblem(plan: ReplayPlan, database: string): string | null {
  const first = plan.firstStatementLogged;
  if (first) {
    return (
      `a restore of database ${database} alone cannot roll forward through changes logged as SQL statements (binlog_format STATEMENT or MIXED), ` +
      `as the one ${where(first)} is: a statement is kept or dropped by the database it was run in, not the one it changes`
    );
  }
  const elsewhere = plan.ddl.find((d) => d.database !== database && namesDatabase(d.statement, database));
  if (elsewhere) {
    return (
      `a restore of database ${database} alone cannot roll forward through DDL run in ${elsewhere.database === null ? 'no database' : `database ${elsewhere.database}`} that names ${database}, ` +
      `as the one ${where(elsewhere.transaction)} does (${excerpt(elsewhere.statement)}): the replay keeps a statement by the database it was run in, and would leave it out`
    );
  }
  return null;
}

/** `db.t` or `` `db`.`t` ``: a name that may be another database's. Errs towards yes (`1.5` counts too). */
const QUALIFIED_NAME = /[\p{L}\p{N}_$`]\s*\.\s*[\p{L}\p{N}_$`]/u;
const ACCOUNT_STATEMENT = /^\s*(GRANT|REVOKE|(CREATE|DROP|ALTER|RENAME) (USER|ROLE)|SET (PASSWORD|DEFAULT ROLE))\b/i;

/**
 * Why the plan cannot be replayed into database `to` in place of `from`, or null. mysqlbinlog
 * --rewrite-db renames the database of each table map and each statement's USE, not names in a
 * statement's text: DDL that names `from` outright (`RENAME TABLE shop.t ...`, `DROP DATABASE
 * shop`) would change the original. And MySQL's --database picks by the name after the rewrite,
 * so changes to a database already called `to` would be applied to the copy too. A compressed
 * transaction cannot be looked into here, so it is refused rather than trusted.
 */
export function renameProblem(plan: ReplayPlan, from: string, to: string): string | null {
  const why = `a roll-forward of database ${from} as ${to}`;
  if (plan.firstCompressed) {
    return `${why} cannot check the compressed transaction ${where(plan.firstCompressed)} (binlog_transaction_compression): what it changes is not read here`;
  }
  const naming = plan.ddl.find((d) => namesDatabase(d.statement, from) || namesDatabase(d.statement, to));
  if (naming) {
    const named = namesDatabase(naming.statement, from) ? from : to;
    return (
      `${why} cannot replay DDL that names ${named} in its text, as the one ${where(naming.transaction)} does (${excerpt(naming.statement)}): ` +
      'the replay renames the database a statement runs in, not the names inside it, so it would change the original'
    );
  }
  // Kept by its USE, a statement runs whatever it names: `USE shop; TRUNCATE other.t` would empty
  // the live other.t, and a GRANT or ALTER USER would put an account back as it was.
  const reaching = plan.ddl.find((d) => d.database === from && (QUALIFIED_NAME.test(d.statement) || ACCOUNT_STATEMENT.test(d.statement)));
  if (reaching) {
    return (
      `${why} cannot replay a statement run in ${from} that may reach beyond it (a qualified name, or an account), as the one ${where(reaching.transaction)} does (${excerpt(reaching.statement)}): ` +
      'replayed, it would change the live server outside the copy'
    );
  }
  const touching = plan.databases.get(to);
  if (touching) {
    return `${why}: the archive changes a database called ${to} itself (first ${where(touching)}), and those changes would go into the copy too`;
  }
  return null;
}
