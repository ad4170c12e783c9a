import pino, { type Logger } from 'pino';
import { formatDuration, formatElapsed } from './config/duration.js';
import type { EventSink, SidecarEvent } from './events.js';
import { HOLD_BYTES, LogFile, type LogFileState } from './log-file.js';
import { describeLongQuery } from './mysql/long-query-guard.js';
import { formatMiB } from './units.js';

export interface SidecarLogger {
  readonly logger: Logger;
  /** Whether backup.log takes lines now, for /metrics and /health. */
  readonly fileState: () => LogFileState;
  /**
   * Reopens the log file by its path. After an external tool renamed it (logrotate without
   * copytruncate), lines go to the new file instead of the rotated one.
   */
  reopen(): void;
  /**
   * Reopens only when the path no longer names the open file (renamed, deleted, or BACKUP_DIR
   * replaced) and its directory exists; cheap enough to call before every run.
   */
  reopenIfMoved(): void;
}

/**
 * One JSON object a line, appended to the log file on the backup volume (for `jq` on the host)
 * and, for the daemon and `backup`, to stdout (for `docker logs`). A log file that cannot be
 * written holds its lines and says so (log-file.ts); for the commands without stdout, on stderr.
 */
export function createLogger(options: { file: string; level: string; stdout: boolean }): SidecarLogger {
  const level = options.level as pino.Level;
  const file = new LogFile(options.file, {
    onFailing: (cause) => {
      const event = { type: 'log.failing', file: options.file, cause, holdBytes: HOLD_BYTES } as const;
      emit(event);
      if (!options.stdout) process.stderr.write(`mysql-backup-sidecar: warning: ${describe(event)[1]}\n`);
    },
    onRecovered: (summary) => emit({ type: 'log.recovered', file: options.file, ...summary }),
  });
  const streams: pino.StreamEntry[] = [{ level, stream: file }];
  if (options.stdout) {
    // A stdout nobody reads any more (EPIPE) must not end the daemon either; sonic-boom then
    // keeps at most HOLD_BYTES of it.
    const stdout = pino.destination({ dest: 1, sync: true, maxLength: HOLD_BYTES });
    stdout.on('error', () => undefined);
    streams.push({ level, stream: stdout });
  }
  const logger = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: Secret already prints as [redacted].
      redact: ['password', '*.password'],
    },
    pino.multistream(streams),
  );
  const emit = logEvents(logger);
  return { logger, fileState: () => file.state, reopen: () => file.reopen(), reopenIfMoved: () => file.reopenIfMoved() };
}

/** The log's view of the events: a level, a sentence for a person, and every field for `jq`. */
export function logEvents(logger: Logger): EventSink {
  return (event) => {
    const { type, ...fields } = event;
    const [level, message] = describe(event);
    logger[level]({ event: type, ...fields }, message);
  };
}

function describe(event: SidecarEvent): ['debug' | 'info' | 'warn' | 'error', string] {
  switch (event.type) {
    case 'run.started':
      return ['info', `run ${event.runId} started`];
    case 'mysql.waiting':
      return ['warn', `waiting for MySQL at ${event.target}: ${event.cause}; next try in ${event.retryInMs} ms`];
    case 'mysql.ready':
      return ['info', `MySQL at ${event.target} answers: ${event.serverVersion}`];
    case 'backup.warning':
      return ['warn', event.warning];
    case 'backup.waiting':
      return [
        'warn',
        `the dump waits: ${event.queries.map(describeLongQuery).join('; ')} ran longer than BACKUP_LONG_QUERY_GUARD, ` +
          `and mysqldump's global read lock would stall writes behind it; it waits up to ${formatElapsed(event.waitLimitMs)}` +
          (event.waitedMs >= 1000 ? ` (${formatElapsed(event.waitedMs)} so far)` : ''),
      ];
    case 'backup.started':
      return ['info', `backup started: ${event.file}`];
    case 'backup.succeeded':
      return ['info', `backup verified and stored: ${event.file} (${event.storedBytes} bytes in ${event.durationMs} ms)`];
    case 'backup.failed':
      return ['error', `backup failed: ${event.cause}`];
    case 'restore.started':
      return ['info', `restore of ${event.file} into ${event.target} started`];
    case 'restore.progress':
      return ['info', `restore of ${event.file}, ${event.phase === 'dump' ? 'the dump' : 'the binlog replay'}: ${event.percent}%`];
    case 'restore.replay':
      return ['info', `restore of ${event.file} into ${event.target} rolls forward to ${event.to}: ${event.transactions} transactions from ${event.from} to ${event.until}`];
    case 'restore.replayed':
      return ['info', `rolled ${event.target} forward from ${event.file}: ${event.transactions} transactions in ${event.durationMs} ms`];
    case 'restore.gtid':
      return ['info', `GTIDs: ${event.reason}`];
    case 'restore.succeeded':
      return ['info', `restored ${event.file} into ${event.target} in ${event.durationMs} ms`];
    case 'restore.failed':
      return ['error', `restore of ${event.file} into ${event.target} failed: ${event.cause}`];
    case 'drill.started':
      return ['info', `drill started: ${event.file} into ${event.target}`];
    case 'drill.succeeded':
      return ['info', `drill passed: ${event.file} restored into ${event.target}, ${event.tables} tables checked`];
    case 'drill.failed':
      return ['error', `drill failed for ${event.file} on ${event.target}: ${event.problems.join('; ')}`];
    case 'cleanup.removed':
      return ['warn', `removed a leftover of an interrupted run: ${event.path}`];
    case 'retention.deleted':
      return [
        event.reason === 'space' ? 'warn' : 'info',
        `retention deleted ${event.file} (modified ${event.mtime})${event.reason === 'space' ? ' to make room for this run' : ''}`,
      ];
    case 'retention.applied':
      return [
        'info',
        `retention: ${event.deleted} deleted, ${event.kept} kept` +
          (event.suspect ? `; ${event.suspect.length} far smaller than the dumps before (not counted towards BACKUP_KEEP_MIN): ${event.suspect.join(', ')}` : ''),
      ];
    case 'retention.failed':
      return ['error', `retention failed: ${event.cause}`];
    case 'daemon.started':
      return [
        'info',
        `scheduler started: "${event.schedule}" in ${event.timeZone}, next run ${event.nextRun ?? 'never'}` +
          `${event.onStart ? ', first backup now' : ''}; healthy while the newest backup is younger than ${event.maxAge}; ` +
          `metrics and health on ${event.http}`,
      ];
    case 'schedule.startSkipped':
      return [
        'info',
        `start-up backup skipped: the newest good backup, ${event.newest}, is ${formatDuration(roundToSecond(event.ageMs))} old, ` +
          `younger than the schedule's interval of ${formatDuration(roundToSecond(event.intervalMs))}; next run ${event.nextRun ?? 'never'}`,
      ];
    case 'schedule.late':
      return [
        'warn',
        `the ${event.duty === 'drill' ? 'drill' : 'run'} due at ${event.dueAt} starts ${formatElapsed(event.lateMs)} late (the event loop was blocked or the machine suspended)` +
          (event.mergedTicks > 1 ? `; the ${event.mergedTicks} ticks due meanwhile are this one run` : '') +
          `; next run ${event.nextRun}`,
      ];
    case 'schedule.skipped':
      return [
        'warn',
        `scheduled ${event.duty === 'drill' ? 'drill' : 'run'} skipped: ${event.duty === 'drill' ? 'drill' : 'run'} ${event.runningRunId} still running after ${formatDuration(roundToSecond(event.runningForMs))}`,
      ];
    case 'daemon.refusing':
      return ['error', `stopping, since no run can succeed without a change of configuration: ${event.cause}`];
    case 'daemon.stopping':
      return [
        'info',
        event.runInFlight
          ? `${event.signal}: stopping; run ${event.runInFlight} gets ${formatDuration(event.graceMs)} to finish`
          : `${event.signal}: stopping`,
      ];
    case 'daemon.aborting':
      return ['warn', `${event.signal} again: abandoning run ${event.runInFlight ?? '(none)'} now`];
    case 'daemon.stopped':
      return ['info', `stopped (${event.outcome}) after ${event.waitedMs} ms`];
    case 'binlog.streaming':
      return ['info', `archiving the binary log of ${event.server} from ${event.from} into ${event.dir} (replication server id ${event.serverId})`];
    case 'binlog.interrupted':
      return ['warn', `the binlog stream stopped (${event.reason}): ${event.cause}; restarting in ${event.retryInMs} ms`];
    case 'binlog.refused':
      return ['error', `the binlog archive cannot start: ${event.cause}; checking again in ${formatDuration(event.retryInMs)}`];
    case 'binlog.gap':
      return [
        'error',
        `gap in the binlog archive: ${event.cause}; a new epoch starts at ${event.resumeAt}${event.previousEpoch ? ` (the files before it moved to ${event.previousEpoch})` : ''}, and a dump runs now`,
      ];
    case 'binlog.rotated':
      return ['info', `binlog ${event.file} archived complete (${event.bytes} bytes)`];
    case 'binlog.pruned':
      return ['info', `binlog archive retention deleted ${event.deleted.join(', ')} (${event.bytes} bytes): the oldest kept dump rolls forward from ${event.keptFrom}`];
    case 'binlog.stopped':
      return ['info', `the binlog archive stopped; ${event.archivedBytes} bytes in ${event.dir}`];
    case 'log.failing':
      return [
        'error',
        `${event.file} cannot be written (${event.cause}): backups go on; its lines are held in memory ` +
          `(up to ${formatMiB(event.holdBytes)}) and written once it takes them again`,
      ];
    case 'log.recovered':
      return [
        'info',
        `${event.file} takes lines again after ${formatElapsed(event.failedForMs)}: ${event.heldLines} held lines written` +
          (event.droppedLines > 0 ? `, ${event.droppedLines} dropped for want of room in memory` : ''),
      ];
    case 'notify.delivered':
      // Every run makes two or three: worth a line only when asked for (LOG_LEVEL=debug).
      return ['debug', `${describeNotification(event)} delivered: HTTP ${event.status}${event.attempts > 1 ? ` at attempt ${event.attempts}` : ''}`];
    case 'notify.failed':
      return [
        'warn',
        `${describeNotification(event)} not delivered${event.attempts > 0 ? ` after ${event.attempts} ${event.attempts === 1 ? 'attempt' : 'attempts'}` : ''}: ${event.cause}; the run is not affected`,
      ];
    case 'lock.waiting':
      return ['warn', `waiting for BACKUP_DIR ${event.dir} before ${event.purpose}: held by ${event.holder} (last heartbeat ${Math.round(event.heartbeatAgeMs / 1000)} s ago)`];
    case 'lock.staleRemoved':
      return ['warn', `removed the lock of a holder gone without releasing it: ${event.holder} (last heartbeat ${Math.round(event.heartbeatAgeMs / 1000)} s ago)`];
  }
}

/** "the fail ping to https://hc-ping.com/…", "the webhook (recovery) to https://hooks.slack.com/…" */
function describeNotification(event: Extract<SidecarEvent, { type: 'notify.delivered' | 'notify.failed' }>): string {
  const what = event.kind === 'webhook' ? `the webhook (${event.signal})` : `the ${event.signal} ping${event.kind === 'drill_ping' ? ' of the drills' : ''}`;
  return `${what} to ${event.url}`;
}

/** Whole seconds, at least one: what a duration in a log line needs. */
const roundToSecond = (ms: number) => Math.round(ms / 1000) * 1000 || 1000;
