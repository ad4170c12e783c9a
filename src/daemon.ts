import type { Logger as CronLogger } from 'node-cron';
import { removeLeftovers } from './backup/hygiene.js';
import { runBackup } from './backup/run.js';
import { assertWritableDirectory } from './backup/store.js';
import { formatDuration } from './config/duration.js';
import type { Config } from './config/schema.js';
import type { EventSink } from './events.js';
import { applyRetention } from './retention.js';
import { BackupScheduler } from './scheduler.js';

/**
 * The long-running sidecar: clean up after any predecessor killed with -9, then back up on the
 * schedule (and once at start), applying retention after every successful run.
 */
export async function startDaemon(
  config: Config,
  options: { emit: EventSink; cronLogger?: CronLogger },
): Promise<BackupScheduler> {
  const { emit } = options;
  await assertWritableDirectory(config.backup.dir);
  for (const path of await removeLeftovers(config.backup.dir)) emit({ type: 'cleanup.removed', path });

  const scheduler: BackupScheduler = new BackupScheduler({
    expression: config.schedule.expression,
    timeZone: config.schedule.timeZone,
    ...(options.cronLogger ? { cronLogger: options.cronLogger } : {}),
    emit,
    run: async (runId, signal) => {
      // Run results say when the next one is due: what a person reading the log wants next.
      const withNextRun: EventSink = (event) =>
        emit(
          event.type === 'backup.succeeded' || event.type === 'backup.failed'
            ? { ...event, nextRun: scheduler.nextRun?.toISOString() ?? null }
            : event,
        );
      const outcome = await runBackup(config, { emit: withNextRun, signal, runId });
      // Never after a failure: a week of failing dumps must not delete the last good backups.
      if (!outcome.ok) return;
      try {
        await applyRetention(config.backup.dir, config.retention, emit, { runId });
      } catch (error) {
        emit({ type: 'retention.failed', runId, cause: (error as Error).message });
      }
    },
  });
  scheduler.start();
  emit({
    type: 'daemon.started',
    schedule: config.schedule.expression,
    timeZone: config.schedule.timeZone,
    nextRun: scheduler.nextRun?.toISOString() ?? null,
    onStart: config.schedule.onStart,
    backupDir: config.backup.dir,
    retention: formatDuration(config.retention.maxAgeMs),
    keepMin: config.retention.keepMin,
  });
  if (config.schedule.onStart) scheduler.trigger();
  return scheduler;
}
