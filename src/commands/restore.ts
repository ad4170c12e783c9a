import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { Connection } from 'mysql2/promise';
import { lockEvents, withDirectoryLock } from '../backup/directory-lock.js';
import { readInventory } from '../backup/inventory.js';
import { locateBackup } from '../backup/locate.js';
import { assessSizes, describeSize, sizePolicy, type SizeVerdict } from '../backup/size-check.js';
import { verifyBackup } from '../backup/verify.js';
import { writeRestoreMarker } from '../binlog/archive-dir.js';
import { formatAge } from '../config/duration.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { CommandContext } from './context.js';
import { UsageError, UserError } from '../errors.js';
import type { EventSink } from '../events.js';
import { createLogger, logEvents } from '../log.js';
import type { ClientTool } from '../mysql/client-tools.js';
import { describeAddress, queryWithTimeout, type ServerAddress } from '../mysql/connect.js';
import { quoteIdentifier } from '../mysql/identifier.js';
import type { ServerInfo } from '../mysql/server-info.js';
import { resolveTarget, TARGET_OPTIONS } from '../mysql/target.js';
import { isArchivedServer } from '../restore/archived-server.js';
import { GTID_PURGED_MODES, type GtidPurgedMode } from '../restore/gtid.js';
import { progressReporter } from '../restore/progress.js';
import { type LocatedTransaction, oneDatabaseProblem, planReplay, renameProblem, type ReplayPlan, verifyReplayFiles } from '../restore/replay-plan.js';
import { parseReplayTarget, REPLAY_TARGET_OPTIONS, type ReplayTarget } from '../restore/replay-target.js';
import { decideReplayGtids, findReplayTool, notLogged, type ReplayGtids, replaySql } from '../restore/replay.js';
import { restoreDump } from '../restore/restore.js';
import { copyTableFromScratch, scratchDatabaseName } from '../restore/table-copy.js';
import { SYSTEM_SCHEMAS } from '../restore/schema-filter.js';
import { formatUtc } from '../restore/target-time.js';
import { formatMiB } from '../units.js';

export const summary =
  'restore [FILE|latest] --yes [--force] [--gtid-purged=auto|apply|skip] [--database NAME [--table NAME] [--as NEW]] [--to TIME | --to-gtid GTID | --to-position FILE:POS] [--dry-run]: ' +
  'verify, then stream the dump (or one database or table of it) into the server (--host/--port for another), and roll it forward through the binlog archive to just before the target';

/**
 * `restore [FILE|latest] --yes`: verifies first, then replaces the databases in the dump on the
 * target server. Without --yes it asks on a terminal for the target's host:port to be typed, and
 * refuses (changing nothing) when there is no terminal to ask on. With a target (--to,
 * --to-gtid, --to-position) it picks the dump itself and rolls it forward (replay-plan.ts);
 * --dry-run prints that plan and touches nothing. --database restores one database of the dump
 * and rolls only it forward, leaving every other one as it is; --as writes it under a new name,
 * beside the original; --table restores one table of it, from the dump or, with a target, by way
 * of a scratch database rolled forward beside the original (table-copy.ts).
 */
export async function restoreCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      yes: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      'gtid-purged': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      database: { type: 'string' },
      as: { type: 'string' },
      table: { type: 'string' },
      ...REPLAY_TARGET_OPTIONS,
      ...TARGET_OPTIONS,
    },
    strict: true,
  });
  const gtidPurged = parseGtidPurged(values['gtid-purged']);
  const replayTarget = parseReplayTarget(values, context.env.TZ);
  if (replayTarget && positionals[0] !== undefined && positionals[0] !== 'latest') {
    throw new UsageError(`restore ${positionals[0]} with a target: a restore to a point picks its dump itself (the newest one the target rolls forward from); leave the file out`);
  }
  if (values['dry-run'] && !replayTarget) throw new UsageError('--dry-run prints the plan of a restore to a point: give --to, --to-gtid or --to-position');
  const one = parseOneDatabase(values.database, values.as, values.table, gtidPurged, replayTarget !== null);
  const renamedTo = one?.as ?? one?.scratch;
  if (one && renamedTo !== undefined && replayTarget) assertRewritable(one.name, renamedTo);
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  const plan = async (to: ReplayTarget) => {
    const made = await planReplay(config.backup.dir, config.binlog.dir, to, { pastArchiveOk: values.force });
    const problem = one && (oneDatabaseProblem(made, one.name) ?? (renamedTo !== undefined ? renameProblem(made, one.name, renamedTo) : null));
    if (problem) throw new UserError(problem, { hint: 'Restore the whole server to the point instead, or restore the database into a scratch server and copy it across.', exitCode: 2 });
    return made;
  };
  if (replayTarget && values['dry-run']) {
    context.stdout.write(`${describePlan(await plan(replayTarget), replayTarget, one).join('\n')}\n`);
    return 0;
  }
  const target = resolveTarget(config.mysql, values, context.cwd);
  const where = describeAddress(target);
  const say = (line: string) => context.stderr.write(`${line}\n`);
  const emit = logEvents(createLogger({ file: config.backup.logFile, level: config.logLevel, stdout: false }).logger);
  const purpose = `restore into ${where}`;
  // Held from the choice of the dump on: no backup run dumps the server while it is half
  // restored, and no retention takes the dump or a binary log the plan names. A confirmation
  // typed on a terminal is waited for inside it too.
  await withDirectoryLock(config.backup.dir, { scope: 'writer', purpose, readOnlyOk: true, ...lockEvents(emit, config.backup.dir, purpose, say) }, async () => {
    const replayPlan = replayTarget ? await plan(replayTarget) : null;
    if (replayPlan && replayTarget) say(describePlan(replayPlan, replayTarget, one).join('\n'));
    const latest = !replayPlan && (positionals[0] === undefined || positionals[0] === 'latest');
    const file = replayPlan ? replayPlan.dump.path : await locateBackup(config.backup.dir, positionals[0]);
    const name = path.basename(file);
    const chosen = await describeChoice(config, file);
    if (chosen) say(`${name}: ${chosen.line}`);
    if (chosen?.verdict.suspect && !values.force) {
      throw new UserError(
        `refusing to restore ${name}${latest ? ', the latest backup' : ''}: it is far smaller than the good dumps before it ` +
          `(under BACKUP_SIZE_DROP_RATIO ${config.retention.sizeDropRatio} of their median), as a dump of an emptied or rebuilt server is`,
        {
          hint: 'Pick the dump to restore with `list` and name it, or pass --force if this small one is what you want. Stop the sidecar first, so that it does not dump the empty server meanwhile.',
          exitCode: 2,
        },
      );
    }
    if (!values.yes) await confirm(context, `restore ${describeWhat(name, one)} into ${where}`, where, one);
    await verifyAndRestore({ context, config, file, target, gtidPurged, emit, plan: replayPlan, one, to: replayTarget?.described ?? null });
  });
  return 0;
}

async function verifyAndRestore(run: {
  context: CommandContext;
  config: Config;
  file: string;
  target: ServerAddress;
  gtidPurged: GtidPurgedMode | undefined;
  emit: EventSink;
  plan: ReplayPlan | null;
  one: OneDatabase | undefined;
  to: string | null;
}): Promise<void> {
  const { context, config, file, target, gtidPurged, emit, plan, one } = run;
  const oneDatabase = one?.name;
  /** The database the dump's part (and the replay) is written into in place of the original's, if any. */
  const renamedTo = one?.as ?? one?.scratch;
  const name = path.basename(file);
  const where = describeAddress(target);
  const say = (line: string) => context.stderr.write(`${line}\n`);
  say(`verifying ${name} ...`);
  const verification = await verifyBackup(file);
  if (!verification.ok) {
    throw new UserError(`refusing to restore ${name}: it does not verify\n${verification.problems.join('\n')}`);
  }
  const databases = [...new Set(verification.tables.map((t) => t.database))];
  if (oneDatabase && !databases.includes(oneDatabase)) {
    throw new UserError(`${name} holds no database ${oneDatabase}; it holds ${databases.join(', ') || 'none'}`, { exitCode: 2 });
  }
  // Rolled forward, the table may be one created after the dump: table-copy.ts looks for it at the point.
  if (one?.table !== undefined && one.scratch === undefined && !verification.tables.some((t) => t.database === one.name && t.table === one.table)) {
    const tables = verification.tables.filter((t) => t.database === one.name).map((t) => t.table);
    throw new UserError(`${name} holds no table ${one.table} in database ${one.name}; it holds ${tables.join(', ') || 'none'}`, { exitCode: 2 });
  }
  if (plan) {
    say(`verifying ${plan.files.length} binary log file${plan.files.length === 1 ? '' : 's'} ...`);
    const problems = await verifyReplayFiles(plan);
    if (problems.length > 0) throw new UserError(`refusing to restore to a point: the binlog archive does not verify\n${problems.join('\n')}`, { exitCode: 2 });
  }

  const began = Date.now();
  const terminal = isTerminal(context.stderr);
  const write = (text: string) => context.stderr.write(text);
  let replay: { gtids: ReplayGtids; binlogTool: ClientTool } | null = null;
  let intoArchivedServer = false;
  /** The table copy has begun: from there on, table-copy.ts says what is left where. */
  let copying = false;
  const dumpProgress = progressReporter({ file: name, phase: 'dump', totalBytes: verification.storedBytes, terminal, write, emit });
  try {
    const replayBegan = { at: 0 };
    let binlogProgress: ReturnType<typeof progressReporter> | undefined;
    await restoreDump(file, target, {
      clientDir: config.mysql.clientDir,
      waitTimeoutMs: config.mysql.waitTimeoutMs,
      gtidPurged,
      dumpGtidSet: verification.binlog?.gtid ?? null,
      // Back to the point means without the tables created since, too: each database the dump
      // holds is dropped just before its part fills it again (the server's own ones are not).
      ...((plan || one) && {
        schemas: {
          replace: plan !== null,
          ...(one && { include: (database: string) => database === one.name }),
          ...(one && renamedTo !== undefined && { rename: { from: one.name, to: renamedTo } }),
          ...(one?.table !== undefined && one.scratch === undefined && { table: one.table }),
        },
      }),
      ...(one && { part: describePart(one) }),
      // Decided before the first byte is written: a replay that cannot apply must not leave the dump half-way.
      prepare: async (connection: Connection, server: ServerInfo) => {
        if (renamedTo !== undefined) await refuseExistingDatabase(connection, renamedTo, where);
        if (plan) {
          const gtids = await decideReplayGtids(connection, server, plan, oneDatabase);
          replay = { binlogTool: await findReplayTool(server, config.mysql.clientDir), gtids: one?.scratch ? notLogged(gtids, `the scratch database ${one.scratch}`) : gtids };
        }
        if (config.binlog.archive) {
          intoArchivedServer = await isArchivedServer(connection, server, config.binlog.dir, where === describeAddress(config.mysql));
        }
      },
      onReady: (decision) => {
        emit({ type: 'restore.started', file: name, target: where, storedBytes: verification.storedBytes });
        emit({ type: 'restore.gtid', file: name, target: where, ...decision });
        say(`GTIDs: ${decision.reason}`);
        if (plan && replay) {
          emit({
            type: 'restore.replay',
            file: name,
            target: where,
            to: run.to ?? '',
            binlogs: plan.files.map((f) => f.name),
            from: `${plan.dump.binlogFile}:${plan.dump.binlogPosition}`,
            until: `${plan.files.at(-1)!.name}:${plan.stopPosition}`,
            transactions: plan.transactions,
            gtids: replay.gtids.reason,
          });
          say(`binlog replay GTIDs: ${replay.gtids.reason}`);
        }
        say(`restoring ${name} into ${where} as ${target.user} ...`);
      },
      onBytes: (bytes) => dumpProgress.update(bytes),
      // The replay follows the dump in the same client session (replay.ts says why).
      ...(plan &&
        plan.transactions > 0 && {
          then: () => {
            dumpProgress.finish();
            const { gtids, binlogTool } = replay!;
            say(`rolling forward: ${plan.transactions} transactions from ${plan.dump.binlogFile}:${plan.dump.binlogPosition} to ${plan.files.at(-1)!.name}:${plan.stopPosition} ...`);
            replayBegan.at = Date.now();
            binlogProgress = progressReporter({ file: name, phase: 'binlog', totalBytes: plan.bytes, terminal, write, emit });
            return replaySql(plan, { binlogTool, gtids, oneDatabase, as: renamedTo, onBytes: (bytes: number) => binlogProgress?.update(bytes) });
          },
        }),
    });
    dumpProgress.finish();
    binlogProgress?.finish();
    if (plan && replayBegan.at > 0) {
      emit({ type: 'restore.replayed', file: name, target: where, transactions: plan.transactions, lastApplied: plan.lastApplied?.gtid ?? null, durationMs: Date.now() - replayBegan.at });
    }
    if (one?.scratch !== undefined && one.table !== undefined) {
      copying = true;
      say(`copying table ${one.table} as it was at the point from ${one.scratch} over ${one.name}.${one.table}, then dropping ${one.scratch} ...`);
      await copyTableFromScratch(target, { scratch: one.scratch, database: one.name, table: one.table, clientDir: config.mysql.clientDir, waitTimeoutMs: config.mysql.waitTimeoutMs });
    }
  } catch (error) {
    dumpProgress.finish();
    emit({ type: 'restore.failed', file: name, target: where, cause: (error as Error).message });
    // Failed before the copy: the scratch database may be there, half-filled, and nothing else was touched.
    if (one?.scratch !== undefined && !copying) {
      say(`the scratch database ${one.scratch} may be left on ${where}, unfinished; ${one.name}.${one.table} was not touched: DROP DATABASE IF EXISTS ${quoteIdentifier(one.scratch)};`);
    }
    throw error;
  }
  const durationMs = Date.now() - began;
  emit({ type: 'restore.succeeded', file: name, target: where, durationMs });
  if (intoArchivedServer) {
    const what = `the restore of ${describeWhat(name, one)}${run.to ? ` to ${run.to.replace(/, the first .*$/, '')}` : ''}`;
    // The restore itself succeeded: a marker that cannot be written is said loudly, not made its failure.
    const marked = await writeRestoreMarker(config.binlog.dir, { atMs: Date.now(), what }).then(
      () => true,
      (error: unknown) => {
        say(`WARNING: could not mark BINLOG_DIR ${config.binlog.dir} as restored into (${(error as Error).message}): take a dump at once (\`backup\`), as the archive cannot roll older dumps forward past this restore`);
        return false;
      },
    );
    if (marked) say(
      `${where} is the server BINLOG_DIR archives, and its data changed outside its binary log: when the sidecar starts again, ` +
        'the archive begins a new epoch and a dump is taken at once (restores to a point before it use the epoch before)',
    );
  }
  const rolled = plan ? `, rolled forward ${plan.transactions} transactions to ${run.to}` : '';
  context.stdout.write(`restored ${describeWhat(name, one)} into ${where}${rolled} in ${(durationMs / 1000).toFixed(1)} s\n`);
}

/** What a restore to a point will do, for the dry run and for the person about to confirm it. */
function describePlan(plan: ReplayPlan, target: ReplayTarget, one: OneDatabase | undefined): string[] {
  const last = plan.files.at(-1)!;
  const at = (t: LocatedTransaction) => `${t.gtid ? `${t.gtid}, ` : ''}committed ${formatUtc(t.committedAtMs)}, at ${t.file}:${t.start}`;
  return [
    `restore ${one ? `${describePart(one)} ${one.as !== undefined ? `as ${one.as} ` : ''}` : ''}to ${target.described}:`,
    `  dump:     ${plan.dump.name} (finished ${plan.dump.finishedAt}), at ${plan.dump.binlogFile}:${plan.dump.binlogPosition}`,
    `  binlogs:  ${plan.files.map((f) => `${f.name}${f.index ? '' : ' (not sealed yet: read through, no checksum)'}`).join(', ')} in ${plan.epochDir} (${formatMiB(plan.bytes)} to replay)`,
    `  replay:   ${plan.dump.binlogFile}:${plan.dump.binlogPosition} to ${last.name}:${plan.stopPosition}, ${plan.transactions} transaction${plan.transactions === 1 ? '' : 's'}` +
      (plan.lastApplied ? `; the last: ${at(plan.lastApplied)}` : ''),
    plan.excluded
      ? `  excluded: ${at(plan.excluded)}, and everything after it`
      : '  excluded: nothing archived: the archive ends before the target, and every transaction in it applies',
    ...(one?.scratch !== undefined
      ? [`  table:    database ${one.name} is restored and rolled forward as ${one.scratch}, beside it; then table ${one.table} is copied over ${one.name}.${one.table}, and ${one.scratch} dropped`]
      : []),
  ];
}

/** The chosen dump's age and size against the dumps before it, when it is one of BACKUP_DIR's. */
async function describeChoice(config: Config, file: string): Promise<{ line: string; verdict: SizeVerdict } | undefined> {
  const { backups } = await readInventory(config.backup.dir);
  const chosen = backups.find((b) => b.path === file);
  const verdict = chosen && (await assessSizes(backups, sizePolicy(config.retention))).get(chosen.name);
  if (!chosen || !verdict) return undefined;
  const age = formatAge(Date.now() - chosen.mtimeMs);
  return { line: `stored ${age} ago; ${describeSize(verdict)}${verdict.suspect ? ' (far smaller: suspect)' : ''}`, verdict };
}

function parseGtidPurged(value: string | undefined): GtidPurgedMode | undefined {
  if (value === undefined) return undefined;
  if (!(GTID_PURGED_MODES as readonly string[]).includes(value)) {
    throw new UsageError(`--gtid-purged=${value}: expected ${GTID_PURGED_MODES.join(', ')}`);
  }
  return value as GtidPurgedMode;
}

/**
 * `--database NAME [--table T] [--as NEW]`: one database the user's, not the server's own (or one
 * table of it); a GTID set for the whole server does not go with it.
 */
function parseOneDatabase(
  name: string | undefined,
  as: string | undefined,
  table: string | undefined,
  gtidPurged: GtidPurgedMode | undefined,
  withTarget: boolean,
): OneDatabase | undefined {
  if (name === undefined) {
    if (as !== undefined) throw new UsageError('--as NEW names the database --database NAME is restored under: give --database too');
    if (table !== undefined) throw new UsageError(`--table ${table}: name its database with --database too`);
    return undefined;
  }
  if (table !== undefined && table.trim() === '') throw new UsageError('--table: give the name of a table in the database');
  if (name.trim() === '') throw new UsageError('--database: give the name of a database in the dump');
  if (SYSTEM_SCHEMAS.has(name)) throw new UsageError(`--database ${name}: the server's own databases are restored with the whole dump, not alone`);
  if (gtidPurged === 'apply') throw new UsageError(`--database ${name} with --gtid-purged=apply: the dump's GTID set stands for the whole server, not one database`);
  if (table !== undefined && as !== undefined && withTarget) {
    throw new UsageError(`--table ${table} --as ${as} with a target: restore --database ${name} --as ${as} to the point instead; the table is in ${as} then, beside the rest of its database`);
  }
  return {
    name,
    ...(as !== undefined && { as: parseAsName(as, name) }),
    ...(table !== undefined && { table }),
    ...(table !== undefined && withTarget && { scratch: scratchDatabaseName(name) }),
  };
}

/**
 * `--as NEW`: the name one database is restored under from a dump, beside the original.
 */
function parseAsName(name: string, oneDatabase: string): string {
  if (name.trim() === '') throw new UsageError('--as: give the new name of the database');
  if (name === oneDatabase) throw new UsageError(`--as ${name} is the database's own name: leave --as out to restore it in place`);
  if (SYSTEM_SCHEMAS.has(name.toLowerCase())) throw new UsageError(`--as ${name}: that is one of the server's own databases`);
  if ([...name].length > 64 || name.endsWith(' ') || name.includes('\0')) throw new UsageError(`--as ${name}: not a database name MySQL takes (at most 64 characters, no trailing space)`);
  return name;
}

/**
 * mysqlbinlog reads --rewrite-db=OLD->NEW as two names around the arrow, and MariaDB's cuts the
 * new one at a space: names it would misread are refused before anything is written.
 */
function assertRewritable(name: string, as: string): void {
  for (const [option, value] of [['--database', name], ['--as', as]] as const) {
    if (/\s/.test(value) || value.includes('->')) {
      throw new UsageError(`${option} ${value} with a target: the roll-forward renames the database with mysqlbinlog --rewrite-db, which cannot take a name with a space or "->" in it; restore without --as to a scratch server instead`);
    }
  }
}

/** --as writes a new database: one that exists is somebody's, and is not overwritten. */
async function refuseExistingDatabase(connection: Connection, name: string, where: string): Promise<void> {
  const [rows] = await queryWithTimeout(connection, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
  if (rows.length > 0) {
    throw new UserError(`--as ${name}: ${where} already has a database ${name}, and --as does not overwrite one`, {
      hint: `Pick a name that is free, or drop ${name} first if it is a copy you no longer need.`,
      exitCode: 2,
    });
  }
}

/** One database of the dump, restored alone (--database), maybe under a new name (--as), maybe one table of it (--table). */
interface OneDatabase {
  readonly name: string;
  readonly as?: string;
  readonly table?: string;
  /** With --table and a target: the database it is rolled forward in first, beside the original (table-copy.ts). */
  readonly scratch?: string;
}

/** "database shop", "table shop.orders". */
const describePart = (one: OneDatabase) => (one.table !== undefined ? `table ${one.name}.${one.table}` : `database ${one.name}`);

/** "full_dump_....sql.gz", or "database shop of full_dump_....sql.gz as shop_copy". */
function describeWhat(file: string, one: OneDatabase | undefined): string {
  return one ? `${describePart(one)} of ${file}${one.as ? ` as ${one.as}` : ''}` : file;
}

/** Asks for `expected` to be typed on a terminal; without one, refuses. */
async function confirm(context: CommandContext, action: string, expected: string, one?: OneDatabase): Promise<void> {
  const overwritten = one ? (one.as ? `nothing (it creates database ${one.as})` : describePart(one)) : 'the databases in the dump';
  if (!context.stdin.isTTY) {
    throw new UserError(`${action} would overwrite ${overwritten}; refusing without --yes`, {
      hint: 'Run again with --yes to confirm, or from a terminal to be asked.',
      exitCode: 2,
    });
  }
  const prompt = createInterface({ input: context.stdin, output: context.stderr });
  try {
    const answer = await prompt.question(`${action} overwrites ${overwritten}. Type ${expected} to continue: `);
    if (answer.trim() !== expected) throw new UserError('not confirmed; nothing was changed', { exitCode: 2 });
  } finally {
    prompt.close();
  }
}

const isTerminal = (stream: NodeJS.WritableStream) => (stream as { isTTY?: boolean }).isTTY === true;
