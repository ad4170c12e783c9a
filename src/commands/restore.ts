import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { lockEvents, withDirectoryLock } from '../backup/directory-lock.js';
import { readInventory } from '../backup/inventory.js';
import { locateBackup } from '../backup/locate.js';
import { assessSizes, describeSize, sizePolicy, type SizeVerdict } from '../backup/size-check.js';
import { verifyBackup } from '../backup/verify.js';
import { formatAge } from '../config/duration.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { EventSink } from '../events.js';
import { UsageError, UserError } from '../errors.js';
import { createLogger, logEvents } from '../log.js';
import { describeAddress, type ServerAddress } from '../mysql/connect.js';
import { GTID_PURGED_MODES, type GtidPurgedMode } from '../restore/gtid.js';
import { resolveTarget, TARGET_OPTIONS } from '../mysql/target.js';
import { restoreDump } from '../restore/restore.js';
import type { CommandContext } from './context.js';
import { formatMiB } from '../units.js';

export const summary =
  'restore [FILE|latest] --yes [--force] [--gtid-purged=auto|apply|skip]: verify, then stream the dump into the server (--host/--port for another)';

/**
 * `restore [FILE|latest] --yes`: verifies first, then replaces the databases in the dump on the
 * target server. Without --yes it asks on a terminal for the target's host:port to be typed, and
 * refuses (changing nothing) when there is no terminal to ask on.
 */
export async function restoreCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      yes: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      'gtid-purged': { type: 'string' },
      ...TARGET_OPTIONS,
    },
    strict: true,
  });
  const gtidPurged = parseGtidPurged(values['gtid-purged']);
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  const latest = positionals[0] === undefined || positionals[0] === 'latest';
  const file = await locateBackup(config.backup.dir, positionals[0]);
  const target = resolveTarget(config.mysql, values, context.cwd);
  const where = describeAddress(target);
  const name = path.basename(file);
  const say = (line: string) => context.stderr.write(`${line}\n`);

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

  if (!values.yes) await confirm(context, `restore ${name} into ${where}`, where);

  const emit = logEvents(createLogger({ file: config.backup.logFile, level: config.logLevel, stdout: false }).logger);
  const purpose = `restore of ${name} into ${where}`;
  // The directory is held so that no backup run dumps the server while it is half restored.
  await withDirectoryLock(config.backup.dir, { scope: 'writer', purpose, readOnlyOk: true, ...lockEvents(emit, config.backup.dir, purpose, say) }, () =>
    verifyAndRestore({ context, config, file, target, gtidPurged, emit }),
  );
  return 0;
}

async function verifyAndRestore(run: {
  context: CommandContext;
  config: Config;
  file: string;
  target: ServerAddress;
  gtidPurged: GtidPurgedMode | undefined;
  emit: EventSink;
}): Promise<void> {
  const { context, config, file, target, gtidPurged, emit } = run;
  const name = path.basename(file);
  const where = describeAddress(target);
  const say = (line: string) => context.stderr.write(`${line}\n`);
  say(`verifying ${name} ...`);
  const verification = await verifyBackup(file);
  if (!verification.ok) {
    throw new UserError(`refusing to restore ${name}: it does not verify\n${verification.problems.join('\n')}`);
  }

  const began = Date.now();
  let loggedTenth = 0;
  let drawnAt = 0;
  try {
    await restoreDump(file, target, {
      clientDir: config.mysql.clientDir,
      waitTimeoutMs: config.mysql.waitTimeoutMs,
      gtidPurged,
      dumpGtidSet: verification.binlog?.gtid ?? null,
      onReady: (decision) => {
        emit({ type: 'restore.started', file: name, target: where, storedBytes: verification.storedBytes });
        emit({ type: 'restore.gtid', file: name, target: where, ...decision });
        say(`GTIDs: ${decision.reason}`);
        say(`restoring ${name} into ${where} as ${target.user} ...`);
      },
      onBytes: (bytes, total) => {
        const percent = Math.floor((bytes / total) * 100);
        if (Math.floor(percent / 10) > loggedTenth) {
          loggedTenth = Math.floor(percent / 10);
          emit({ type: 'restore.progress', file: name, percent, bytes });
        }
        if (isTerminal(context.stderr) && Date.now() - drawnAt > 250) {
          drawnAt = Date.now();
          context.stderr.write(`\r  ${percent}% (${formatMiB(bytes)} of ${formatMiB(total)})`);
        }
      },
    });
  } catch (error) {
    if (isTerminal(context.stderr)) context.stderr.write('\n');
    emit({ type: 'restore.failed', file: name, target: where, cause: (error as Error).message });
    throw error;
  }
  if (isTerminal(context.stderr)) context.stderr.write('\n');
  const durationMs = Date.now() - began;
  emit({ type: 'restore.succeeded', file: name, target: where, durationMs });
  context.stdout.write(`restored ${name} into ${where} in ${(durationMs / 1000).toFixed(1)} s\n`);
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

/** Asks for `expected` to be typed on a terminal; without one, refuses. */
async function confirm(context: CommandContext, action: string, expected: string): Promise<void> {
  if (!context.stdin.isTTY) {
    throw new UserError(`${action} would overwrite the databases in the dump; refusing without --yes`, {
      hint: 'Run again with --yes to confirm, or from a terminal to be asked.',
      exitCode: 2,
    });
  }
  const prompt = createInterface({ input: context.stdin, output: context.stderr });
  try {
    const answer = await prompt.question(`${action} overwrites the databases in the dump. Type ${expected} to continue: `);
    if (answer.trim() !== expected) throw new UserError('not confirmed; nothing was changed', { exitCode: 2 });
  } finally {
    prompt.close();
  }
}

const isTerminal = (stream: NodeJS.WritableStream) => (stream as { isTTY?: boolean }).isTTY === true;
