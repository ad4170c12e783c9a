import { parseArgs } from 'node:util';
import { readInventory } from '../backup/inventory.js';
import { assertWritableDirectory } from '../backup/store.js';
import { formatDuration } from '../config/duration.js';
import { loadConfig } from '../config/load.js';
import { createLogger, logEvents } from '../log.js';
import { applyRetention, selectExpired } from '../retention.js';
import type { CommandContext } from './context.js';

export const summary = 'apply the retention rule once; --dry-run only prints what it would delete and keep';

/** `prune [--dry-run]`: the daemon's retention rule, run once, with a line per file for a person. */
export async function pruneCommand(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseArgs({ args, options: { 'dry-run': { type: 'boolean', default: false } }, strict: true });
  const dryRun = values['dry-run'];
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  await assertWritableDirectory(config.backup.dir);
  const now = Date.now();

  const plan = dryRun
    ? selectExpired((await readInventory(config.backup.dir)).backups, config.retention, now)
    : await applyRetention(
        config.backup.dir,
        config.retention,
        logEvents(createLogger({ file: config.backup.logFile, level: config.logLevel, stdout: false }).logger),
        { nowMs: now },
      );

  const age = (mtimeMs: number) => formatDuration(Math.max(1, Math.floor((now - mtimeMs) / 60_000)) * 60_000);
  for (const b of plan.expired) context.stdout.write(`${dryRun ? 'would delete' : 'deleted'} ${b.name}  (age ${age(b.mtimeMs)})\n`);
  for (const b of plan.kept) context.stdout.write(`kept ${b.name}  (age ${age(b.mtimeMs)})\n`);
  context.stdout.write(
    `retention ${formatDuration(config.retention.maxAgeMs)}, keeping at least ${config.retention.keepMin}: ` +
      `${plan.expired.length} ${dryRun ? 'to delete (dry run: nothing deleted)' : 'deleted'}, ${plan.kept.length} kept\n`,
  );
  return 0;
}
