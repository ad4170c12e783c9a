import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { locateBackup } from '../backup/locate.js';
import { verifyBackup } from '../backup/verify.js';
import { loadConfig } from '../config/load.js';
import { UsageError, UserError } from '../errors.js';
import { createLogger, logEvents } from '../log.js';
import { describeAddress } from '../mysql/connect.js';
import { GTID_PURGED_MODES, type GtidPurgedMode } from '../restore/gtid.js';
import { resolveTarget, TARGET_OPTIONS } from '../mysql/target.js';
import { restoreDump } from '../restore/restore.js';
import type { CommandContext } from './context.js';

export const summary =
  'restore [FILE|latest] --yes [--gtid-purged=auto|apply|skip]: verify, then stream the dump into the server (--host/--port for another)';

/**
 * `restore [FILE|latest] --yes`: verifies first, then replaces the databases in the dump on the
 * target server. Without --yes it asks on a terminal for the target's host:port to be typed, and
 * refuses (changing nothing) when there is no terminal to ask on.
 */
export async function restoreCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { yes: { type: 'boolean', default: false }, 'gtid-purged': { type: 'string' }, ...TARGET_OPTIONS },
    strict: true,
  });
  const gtidPurged = parseGtidPurged(values['gtid-purged']);
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  const file = await locateBackup(config.backup.dir, positionals[0]);
  const target = resolveTarget(config.mysql, values, context.cwd);
  const where = describeAddress(target);
  const name = path.basename(file);

  if (!values.yes) await confirm(context, `restore ${name} into ${where}`, where);

  const emit = logEvents(createLogger({ file: config.backup.logFile, level: config.logLevel, stdout: false }).logger);
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
          context.stderr.write(`\r  ${percent}% (${mib(bytes)} of ${mib(total)})`);
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
  return 0;
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
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
