import { removeLeftovers, removeStrandedPartials } from './backup/hygiene.js';
import { readInventory } from './backup/inventory.js';
import { runBackup } from './backup/run.js';
import { newestDumpBinlogFile } from './backup/manifest.js';
import { pruneBinlogArchive } from './binlog/retention.js';
import { BinlogStreamer, describeStreamProblem } from './binlog/streamer.js';
import { acquireDirectoryLock, DirectoryBusy, type DirectoryLock, lockEvents, withDirectoryLock } from './backup/directory-lock.js';
import { sizePolicy } from './backup/size-check.js';
import { assertWritableDirectory } from './backup/store.js';
import { formatDuration } from './config/duration.js';
import type { Config } from './config/schema.js';
import type { EventSink, SidecarEvent } from './events.js';
import { defaultMaxAgeMs, evaluateHealth } from './health.js';
import { startHttpServer } from './http.js';
import type { LogFileState } from './log-file.js';
import { createMetrics } from './metrics.js';
import { UserError } from './errors.js';
import { describeAddress } from './mysql/connect.js';
import { resolveDrillTarget } from './mysql/target.js';
import { Notifier } from './notify/notifier.js';
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
export interface DaemonOptions {
  log: EventSink;
  version: string;
  beforeEachRun?: () => void;
  /** Whether backup.log takes lines (log-file.ts), for /metrics and /health. */
  logState?: () => LogFileState;
  /** A run failed in a way no later run can fix (client tools of another family): the caller stops the daemon. */
  onFatal?: (failure: { cause: string; hint?: string }) => void;
}

/** Refuses to start while another daemon runs on the same BACKUP_DIR (directory-lock.ts). */
export async function startDaemon(config: Config, options: DaemonOptions): Promise<Daemon> {
  const { log } = options;
  const dir = config.backup.dir;
  await assertWritableDirectory(dir);
  const daemonLock = await acquireDirectoryLock(dir, { scope: 'daemon', purpose: 'the daemon (run)', ...lockEvents(log, dir, 'the daemon (run)') });
  try {
    return await startHoldingLock(config, options, daemonLock);
  } catch (error) {
    await daemonLock.release();
    throw error;
  }
}

async function startHoldingLock(config: Config, options: DaemonOptions, daemonLock: DirectoryLock): Promise<Daemon> {
  const { log } = options;
  const dir = config.backup.dir;
  // A writer at work now (a manual backup) owns its partial file: its own run cleans up after it.
  const cleanup = 'start-up cleanup of the daemon';
  await withDirectoryLock(dir, { scope: 'writer', purpose: cleanup, ...lockEvents(log, dir, cleanup) }, async () => {
    for (const path of await removeLeftovers(dir)) log({ type: 'cleanup.removed', path });
  }).catch((error: unknown) => {
    if (!(error instanceof DirectoryBusy)) throw error;
  });

  const startedAtMs = Date.now();
  const upcoming = upcomingRuns(config.schedule.expression, config.schedule.timeZone, 24);
  const maxAgeMs = config.schedule.maxAgeMs ?? defaultMaxAgeMs(upcoming);
  const history = await RunHistory.fromDisk(dir);
  const notificationKinds = Notifier.configuredKinds(config.notify);
  const metrics = createMetrics({
    history,
    notificationKinds,
    backupDir: dir,
    version: options.version,
    maxAgeMs,
    sizePolicy: sizePolicy(config.retention),
    ...(options.logState ? { logState: options.logState } : {}),
    ...(config.binlog.archive ? { binlog: () => streamer!.status } : {}),
  });
  const observers: EventSink[] = [log, history.observe, metrics.observe];
  const emit: EventSink = (event: SidecarEvent) => observers.forEach((observe) => observe(event));
  // Last, so that a ping never goes out for a run the log and the metrics have not seen yet.
  const notifier = Notifier.ifConfigured(config.notify, emit, { target: describeAddress(config.mysql), consecutiveFailures: history.consecutiveFailures });
  if (notifier) observers.push(notifier.observe);

  const strandedPartials = new Set<string>();
  const scheduler: BackupScheduler = new BackupScheduler({
    expression: config.schedule.expression,
    timeZone: config.schedule.timeZone,
    emit,
    run: async (runId, signal) => {
      options.beforeEachRun?.();
      // Run results say when the next one is due: what a person reading the log wants next.
      const withNextRun: EventSink = (event) =>
        emit(
          event.type === 'backup.succeeded' || event.type === 'backup.failed'
            ? { ...event, nextRun: scheduler.nextRun?.toISOString() ?? null }
            : event,
        );
      const purpose = `scheduled backup run ${runId}`;
      const began = Date.now();
      try {
        // Named first: a directory that is gone is "does not exist", not a lock file that cannot be made.
        await assertWritableDirectory(dir);
        await withDirectoryLock(
          dir,
          { scope: 'writer', purpose, waitForHolderMs: msBeforeNextRun(), signal, ...lockEvents(emit, dir, purpose) },
          (lost) => backUpAndPrune(runId, AbortSignal.any([signal, lost]), withNextRun),
        );
      } catch (error) {
        // Every failure is a failed run in the log, the metrics and /health, never a crash.
        withNextRun({ type: 'run.started', runId });
        withNextRun({ type: 'backup.failed', runId, ...describeFailure(error), durationMs: Date.now() - began });
      }
    },
  });

  /**
   * A wait for another writer (a restore, a drill), and then the long-query guard, may hold a
   * dump back until shortly before the next scheduled run, so that giving up leaves that run to
   * start afresh rather than be skipped.
   */
  const msBeforeNextRun = () => {
    const nextRunMs = scheduler.nextRun?.getTime();
    return nextRunMs === undefined ? config.mysql.waitTimeoutMs : Math.max(0, nextRunMs - Date.now() - GUARD_MARGIN_MS);
  };

  /** One scheduled run, holding the directory: the dump, then retention after a good one. */
  async function backUpAndPrune(runId: string, signal: AbortSignal, emitRun: EventSink): Promise<void> {
    for (const path of await removeStrandedPartials(strandedPartials)) emit({ type: 'cleanup.removed', path });
    const longQueryWaitMs = msBeforeNextRun();
    const outcome = await runBackup(config, { emit: emitRun, signal, runId, longQueryWaitMs });
    // Never after a failure: a week of failing dumps must not delete the last good backups.
    if (!outcome.ok) {
      if (outcome.leftover) strandedPartials.add(outcome.leftover);
      if (outcome.fatal) options.onFatal?.({ cause: outcome.cause, ...(outcome.hint ? { hint: outcome.hint } : {}) });
      return;
    }
    try {
      await applyRetention(dir, config.retention, emit, { runId });
      // After the dumps: which binary log is still needed follows from which dumps are kept.
      if (config.binlog.archive) await pruneBinlogArchive(config.binlog.dir, dir, emit, runId);
    } catch (error) {
      emit({ type: 'retention.failed', runId, cause: (error as Error).message });
    }
  }

  // A gap means the archive cannot roll forward from the dumps there are: a new one, at once.
  const streamer: BinlogStreamer | undefined = config.binlog.archive
    ? new BinlogStreamer({
        source: config.mysql,
        clientDir: config.mysql.clientDir,
        dir: config.binlog.dir,
        serverId: config.binlog.serverId,
        emit,
        newestDumpFile: () => newestDumpBinlogFile(dir),
        onGap: () => scheduler.trigger(),
      })
    : undefined;

  // Everything that can refuse the configuration does so before the HTTP server listens.
  const drills = config.drill.schedule ? scheduleDrills(config, config.drill.schedule, emit) : undefined;

  const http = await startHttpServer(config.http.host, config.http.port, {
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
    health: async () => {
      const nowMs = Date.now();
      const directoryProblem = await assertWritableDirectory(dir).then(
        () => null,
        (error: Error) => error.message,
      );
      const verdict = evaluateHealth({
        nowMs,
        startedAtMs,
        maxAgeMs,
        lastSuccessAtMs: history.lastSuccess?.finishedAt.getTime() ?? null,
        consecutiveFailures: history.consecutiveFailures,
        runsFinished: history.runsFinished,
        directoryProblem,
        secondaryProblem:
          describeLogProblem(config.backup.logFile, options.logState?.()) ?? (streamer ? describeStreamProblem(streamer.status, nowMs) : null),
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
          backupsOnDisk: directoryProblem ? null : (await readInventory(dir)).backups.filter((b) => b.checksummed).length,
          maxAgeSeconds: maxAgeMs / 1000,
        },
      };
    },
  });

  // Another daemon took our directory, judging us gone (we were paused past the stale time): two
  // daemons must never share it, so this one stops as it would for a configuration no run can use.
  const onDaemonLockLost = () => {
    const reason = daemonLock.lost.reason as Error;
    options.onFatal?.({ cause: reason.message, hint: 'Find the other daemon on this BACKUP_DIR (`ls -a` shows its lock file, which names it).' });
  };
  if (daemonLock.lost.aborted) onDaemonLockLost();
  else daemonLock.lost.addEventListener('abort', onDaemonLockLost);
  scheduler.start();
  drills?.start();
  streamer?.start();
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
    backupDir: dir,
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
      const outcomes = await Promise.all([scheduler.stop(graceMs), drills?.stop(graceMs) ?? 'idle']);
      // A drill abandoned is an abandoned run too: what a person reading daemon.stopped needs to know.
      const outcome: StopOutcome = outcomes.includes('abandoned') ? 'abandoned' : outcomes.includes('finished') ? 'finished' : 'idle';
      await streamer?.stop();
      // The last run's ping or webhook, if still on its way, gets one attempt's time, no more.
      await notifier?.drain(config.notify.timeoutMs);
      await http.close();
      // The state of the last run is on disk before another daemon may take the directory.
      await history.flush();
      await daemonLock.release();
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
  const target = resolveDrillTarget(config.mysql, config.drill.defaultsFile, {}, process.cwd());
  if (describeAddress(target) === describeAddress(config.mysql)) {
    throw new UserError(`DRILL_DEFAULTS_FILE names ${describeAddress(target)}, the server being backed up; drills need a scratch server`, {
      exitCode: 2,
    });
  }
  return new BackupScheduler({
    duty: 'drill',
    expression: schedule,
    timeZone: config.schedule.timeZone,
    emit,
    run: async (runId, signal) => {
      const dir = config.backup.dir;
      const purpose = `scheduled drill ${runId}`;
      const began = Date.now();
      try {
        // A drill waits for a backup run in flight: it wants the newest dump, and is in no hurry.
        await withDirectoryLock(
          dir,
          { scope: 'writer', purpose, waitForHolderMs: config.backup.timeoutMs, signal, ...lockEvents(emit, dir, purpose) },
          async (lost) => {
            const newest = (await readInventory(dir)).backups.find((b) => b.checksummed);
            if (!newest) {
              emit({ type: 'drill.failed', runId, file: '-', target: describeAddress(target), problems: ['there is no backup to drill yet'], durationMs: 0 });
              return;
            }
            await drillWithEvents(newest.path, target, emit, {
              runId,
              signal: AbortSignal.any([signal, lost]),
              waitTimeoutMs: config.mysql.waitTimeoutMs,
              clientDir: config.mysql.clientDir,
            });
          },
        );
      } catch (error) {
        emit({ type: 'drill.failed', runId, file: '-', target: describeAddress(target), problems: [describeFailure(error).cause], durationMs: Date.now() - began });
      }
    },
  });
}

/** "/backup/mysql/backup.log cannot be written: ENOSPC: ... (since ...; 2.1 KiB held)", or null. */
function describeLogProblem(file: string, state: LogFileState | undefined): string | null {
  if (!state?.problem) return null;
  const dropped = state.droppedLines > 0 ? `, ${state.droppedLines} lines dropped` : '';
  return `${file} cannot be written: ${state.problem.cause} (since ${state.problem.since.toISOString()}; ${state.heldBytes} bytes of lines held${dropped})`;
}

/** A failure outside a run's own reporting, as a run reports one. */
function describeFailure(error: unknown): { cause: string; hint?: string } {
  if (error instanceof UserError) return { cause: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { cause: `unexpected error: ${(error as Error).message ?? String(error)}` };
}
