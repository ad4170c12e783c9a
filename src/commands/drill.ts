import path from 'node:path';
import { parseArgs } from 'node:util';
import { lockEvents, withDirectoryLock } from '../backup/directory-lock.js';
import { locateBackup } from '../backup/locate.js';
import { loadConfig } from '../config/load.js';
import { UsageError } from '../errors.js';
import { createLogger, logEvents } from '../log.js';
import { describeAddress } from '../mysql/connect.js';
import { resolveDrillTarget, TARGET_OPTIONS } from '../mysql/target.js';
import { drillWithEvents } from '../restore/drill.js';
import type { CommandContext } from './context.js';

export const summary = 'drill [FILE|latest] --host H --port P: restore into a scratch server (DRILL_DEFAULTS_FILE\'s account) and check every table';

/**
 * `drill`: proves a backup restores, on a scratch server the user names (never the one being
 * backed up): every table of the dump must exist there, pass CHECK TABLE and hold its rows.
 */
export async function drillCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: TARGET_OPTIONS, strict: true });
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  if (!values.host && !values.port && !values['defaults-file'] && !config.drill.defaultsFile) {
    throw new UsageError('drill needs the scratch server to restore into: --host and --port, --defaults-file, or DRILL_DEFAULTS_FILE');
  }
  const target = resolveDrillTarget(config.mysql, config.drill.defaultsFile, values, context.cwd);
  const where = describeAddress(target);
  if (where === describeAddress(config.mysql)) {
    throw new UsageError(`${where} is the server being backed up (MYSQL_HOST:MYSQL_PORT); a drill restores into a scratch server`);
  }
  const file = await locateBackup(config.backup.dir, positionals[0]);
  const name = path.basename(file);
  const emit = logEvents(createLogger({ file: config.backup.logFile, level: config.logLevel, stdout: false }).logger);

  const dir = config.backup.dir;
  const purpose = `drill of ${name} into ${where} (the drill command)`;
  const report = await withDirectoryLock(dir, { scope: 'writer', purpose, readOnlyOk: true, ...lockEvents(emit, dir, purpose, (line) => context.stderr.write(`${line}\n`)) }, (lost) =>
    drillWithEvents(file, target, emit, {
      waitTimeoutMs: config.mysql.waitTimeoutMs,
      clientDir: config.mysql.clientDir,
      signal: lost,
      onStage: (stage) => context.stderr.write(`${stage} ...\n`),
    }),
  );
  for (const t of report.tables) {
    const rows = t.actualRows === null ? 'missing' : `${t.actualRows}/${t.expectedRows} rows`;
    context.stdout.write(`${t.ok ? 'ok  ' : 'FAIL'}  ${t.database}.${t.table}  ${rows}  CHECK TABLE: ${t.checkTable ?? '-'}\n`);
  }
  if (report.ok) {
    context.stdout.write(
      `drill passed: ${name} restored into ${where} in ${(report.restoreMs / 1000).toFixed(1)} s; ${report.tables.length} tables match the dump\n`,
    );
    return 0;
  }
  context.stdout.write(`drill FAILED for ${name} on ${where}:\n${report.problems.map((p) => `  ${p}\n`).join('')}`);
  // The obvious first try, --host and --port, logs in as the backup account, which may not restore.
  if (report.problems.some((p) => /Access denied|command denied|refused user/.test(p))) {
    context.stdout.write(
      `  the drill logged in to ${where} as '${target.user}' (from ${target.userFrom}); it needs an account that may create ` +
        `every database of the dump there: name one with DRILL_DEFAULTS_FILE, --defaults-file, or --user and --password-file\n`,
    );
  }
  return 1;
}
