import { parseArgs } from 'node:util';
import { lockEvents, withDirectoryLock } from '../backup/directory-lock.js';
import { assertWritableDirectory } from '../backup/store.js';
import { formatAge, formatDuration } from '../config/duration.js';
import { loadConfig } from '../config/load.js';
import { createLogger, logEvents } from '../log.js';
import { applyRetention, planRetention, type RetentionPlan } from '../retention.js';
import type { Config } from '../config/schema.js';
import type { CommandContext } from './context.js';

export const summary = 'apply the retention rule once; --dry-run only prints what it would delete and keep';

/** `prune [--dry-run]`: the daemon's retention rule, run once, with a line per file for a person. */
export async function pruneCommand(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseArgs({ args, options: { 'dry-run': { type: 'boolean', default: false } }, strict: true });
  const dryRun = values['dry-run'];
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  await assertWritableDirectory(config.backup.dir);
  const now = Date.now();

  const plan = dryRun ? await planRetention(config.backup.dir, config.retention, now) : await prune(config, now, context);

  const age = (mtimeMs: number) => formatAge(now - mtimeMs);
  for (const b of plan.expired) context.stdout.write(`${dryRun ? 'would delete' : 'deleted'} ${b.name}  (age ${age(b.mtimeMs)})\n`);
  for (const b of plan.kept) {
    const suspect = plan.suspect.has(b.name) ? '; far smaller than the dumps before it, not counted towards BACKUP_KEEP_MIN' : '';
    context.stdout.write(`kept ${b.name}  (age ${age(b.mtimeMs)}${suspect})\n`);
  }
  context.stdout.write(
    `retention ${formatDuration(config.retention.maxAgeMs)}, keeping at least ${config.retention.keepMin}: ` +
      `${plan.expired.length} ${dryRun ? 'to delete (dry run: nothing deleted)' : 'deleted'}, ${plan.kept.length} kept\n`,
  );
  return 0;
}

/** Retention, holding the directory so that no run's files change under it. */
async function prune(config: Config, nowMs: number, context: CommandContext): Promise<RetentionPlan> {
  const dir = config.backup.dir;
  const emit = logEvents(createLogger({ file: config.backup.logFile, level: config.logLevel, stdout: false }).logger);
  const purpose = 'prune (the prune command)';
  return withDirectoryLock(dir, { scope: 'writer', purpose, ...lockEvents(emit, dir, purpose, (line) => context.stderr.write(`${line}\n`)) }, () =>
    applyRetention(dir, config.retention, emit, { nowMs }),
  );
}
