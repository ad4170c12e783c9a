import type { Logger as CronLogger } from 'node-cron';
import { removeLeftovers, removeStrandedPartials } from './backup/hygiene.js';
import { readInventory } from './backup/inventory.js';
import { runBackup } from './backup/run.js';
import { assertWritableDirectory } from './backup/store.js';
import { formatDuration } from './config/duration.js';
import type { Config } from './config/schema.js';
import type { EventSink, SidecarEvent } from './events.js';
import { defaultMaxAgeMs, evaluateHealth } from './health.js';
import { startHttpServer } from './http.js';
import { createMetrics } from './metrics.js';
import { UserError } from './errors.js';
import { describeAddress } from './mysql/connect.js';
import { resolveTarget } from './mysql/target.js';
import { drillWithEvents } from './restore/drill.js';
import { applyRetention } from './retention.js';
import { RunHistory } from './run-history.js';
import { BackupScheduler, shortestGapMs, type StopOutcome, upcomingRuns } from './scheduler.js';

/** Room left before the next scheduled run when the long-query guard gives up: a recheck and a failing run. */
const GUARD_MARGIN_MS = 5_000;

export interface Daemon {
  readonly scheduler: BackupScheduler;
  /** Stops scheduling, lets the run in flight finish within `graceMs` (or abandons it), closes HTTP. */
  stop(graceMs: number): Promise<StopOutcome>;
}

/**
 * The long-running sidecar: clean up after any predecessor killed with -9, serve metrics and
 * health, then back up on the schedule (and once at start), applying retention after every
 * successful run. Every event goes to the log, the run history and the metrics, in that order.
 */
export async function startDaemon(
  config: Config,
  options: {
    log: EventSink;
    version: string;
    cronLogger?: CronLogger;
    beforeEachRun?: () => void;
    /** A run failed in a way no later run can fix (client tools of another family): the caller stops the daemon. */
    onFatal?: (failure: { cause: string; hint?: string }) => void;
  },
): Promise<Daemon> {
  const { log } = options;
  await assertWritableDirectory(config.backup.dir);
  for (const path of await removeLeftovers(config.backup.dir)) log({ type: 'cleanup.removed', path });

  const startedAtMs = Date.now();
  const upcoming = upcomingRuns(config.schedule.expression, config.schedule.timeZone, 24);
  const maxAgeMs = config.schedule.maxAgeMs ?? defaultMaxAgeMs(upcoming);
  const history = await RunHistory.fromDisk(config.backup.dir);
  const metrics = createMetrics({ history, backupDir: config.backup.dir, version: options.version, maxAgeMs });
  const observers: EventSink[] = [log, history.observe, metrics.observe];
  const emit: EventSink = (event: SidecarEvent) => observers.forEach((observe) => observe(event));

  const strandedPartials = new Set<string>();
  const scheduler: BackupScheduler = new BackupScheduler({
    expression: config.schedule.expression,
    timeZone: config.schedule.timeZone,
    ...(options.cronLogger ? { cronLogger: options.cronLogger } : {}),
    emit,
    run: async (runId, signal) => {
      options.beforeEachRun?.();
      for (const path of await removeStrandedPartials(strandedPartials)) emit({ type: 'cleanup.removed', path });
      // Run results say when the next one is due: what a person reading the log wants next.
      const withNextRun: EventSink = (event) =>
        emit(
          event.type === 'backup.succeeded' || event.type === 'backup.failed'
            ? { ...event, nextRun: scheduler.nextRun?.toISOString() ?? null }
            : event,
        );
      // The long-query guard may hold a dump back until shortly before the next scheduled run, so
      // that a guard that gives up leaves that run to start afresh rather than be skipped.
      const nextRunMs = scheduler.nextRun?.getTime();
      const longQueryWaitMs = nextRunMs === undefined ? config.mysql.waitTimeoutMs : Math.max(0, nextRunMs - Date.now() - GUARD_MARGIN_MS);
      const outcome = await runBackup(config, { emit: withNextRun, signal, runId, longQueryWaitMs });
      // Never after a failure: a week of failing dumps must not delete the last good backups.
      if (!outcome.ok) {
        if (outcome.leftover) strandedPartials.add(outcome.leftover);
        if (outcome.fatal) options.onFatal?.({ cause: outcome.cause, ...(outcome.hint ? { hint: outcome.hint } : {}) });
        return;
      }
      try {
        await applyRetention(config.backup.dir, config.retention, emit, { runId });
      } catch (error) {
        emit({ type: 'retention.failed', runId, cause: (error as Error).message });
      }
    },
  });

  // Everything that can refuse the configuration does so before the HTTP server listens.
  const drills = config.drill.schedule ? scheduleDrills(config, config.drill.schedule, emit) : undefined;

  const http = await startHttpServer(config.http.host, config.http.port, {
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
    health: async () => {
      const nowMs = Date.now();
      const verdict = evaluateHealth({
        nowMs,
        startedAtMs,
        maxAgeMs,
        lastSuccessAtMs: history.lastSuccess?.finishedAt.getTime() ?? null,
        consecutiveFailures: history.consecutiveFailures,
        runsFinished: history.runsFinished,
      });
      const { lastSuccess, lastFailure } = history;
      return {
        healthy: verdict.healthy,
        body: {
          status: verdict.status,
          reason: verdict.reason,
          lastSuccess: lastSuccess && {
            time: lastSuccess.finishedAt.toISOString(),
            file: lastSuccess.file,
            storedBytes: lastSuccess.storedBytes,
            ageSeconds: Math.round((nowMs - lastSuccess.finishedAt.getTime()) / 1000),
          },
          lastFailure: lastFailure && { time: lastFailure.at.toISOString(), cause: lastFailure.cause },
          consecutiveFailures: history.consecutiveFailures,
          runInFlight: history.runInFlight,
          nextRun: scheduler.nextRun?.toISOString() ?? null,
          backupsOnDisk: (await readInventory(config.backup.dir)).backups.filter((b) => b.checksummed).length,
          maxAgeSeconds: maxAgeMs / 1000,
        },
      };
    },
  });

  scheduler.start();
  drills?.start();
  // A redeploy or restart right after a good backup does not dump again: the schedule owes none yet.
  const intervalMs = shortestGapMs(upcoming);
  const newest = history.lastSuccess;
  const newestAgeMs = newest ? Date.now() - newest.finishedAt.getTime() : -1;
  const recent = newest !== null && newestAgeMs >= 0 && newestAgeMs < intervalMs;
  const backupOnStart = config.schedule.onStart && !recent;
  emit({
    type: 'daemon.started',
    schedule: config.schedule.expression,
    timeZone: config.schedule.timeZone,
    nextRun: scheduler.nextRun?.toISOString() ?? null,
    onStart: backupOnStart,
    backupDir: config.backup.dir,
    retention: formatDuration(config.retention.maxAgeMs),
    keepMin: config.retention.keepMin,
    maxAge: formatDuration(maxAgeMs) + (config.schedule.maxAgeMs === undefined ? ' (from the schedule)' : ''),
    http: http.address,
  });
  if (backupOnStart) scheduler.trigger();
  else if (config.schedule.onStart && recent) {
    emit({ type: 'schedule.startSkipped', newest: newest.file, ageMs: newestAgeMs, intervalMs, nextRun: scheduler.nextRun?.toISOString() ?? null });
  }

  return {
    scheduler,
    async stop(graceMs) {
      const [outcome] = await Promise.all([scheduler.stop(graceMs), drills?.stop(graceMs)]);
      await http.close();
      return outcome;
    },
  };
}

/**
 * Restore drills on their own schedule into the scratch server of DRILL_DEFAULTS_FILE, checked at
 * start-up: a drill must never restore into the server being backed up.
 */
function scheduleDrills(config: Config, schedule: string, emit: EventSink): BackupScheduler {
  // The path is absolute already (resolved with the configuration).
  const target = resolveTarget(config.mysql, { 'defaults-file': config.drill.defaultsFile }, process.cwd());
  if (describeAddress(target) === describeAddress(config.mysql)) {
    throw new UserError(`DRILL_DEFAULTS_FILE names ${describeAddress(target)}, the server being backed up; drills need a scratch server`, {
      exitCode: 2,
    });
  }
  return new BackupScheduler({
    expression: schedule,
    timeZone: config.schedule.timeZone,
    emit,
    run: async (runId, signal) => {
      const newest = (await readInventory(config.backup.dir)).backups.find((b) => b.checksummed);
      if (!newest) {
        emit({ type: 'drill.failed', runId, file: '-', target: describeAddress(target), problems: ['there is no backup to drill yet'], durationMs: 0 });
        return;
      }
      await drillWithEvents(newest.path, target, emit, {
        runId,
        signal,
        waitTimeoutMs: config.mysql.waitTimeoutMs,
        clientDir: config.mysql.clientDir,
      });
    },
  });
}
