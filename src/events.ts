import type { BinlogCoordinates } from './backup/dump-inspector.js';
import type { RestartReason } from './binlog/streamer.js';
import type { Compression } from './config/schema.js';
import type { LongQuery } from './mysql/long-query-guard.js';
import type { NotificationKind, NotificationSignal } from './notify/notifier.js';
import type { GtidDecision } from './restore/gtid.js';

/**
 * Everything the sidecar learns is an event. The log (and, later, the metrics) are views of these;
 * the modules that act never format a log line themselves.
 */
export type SidecarEvent =
  // One backup run.
  | { type: 'run.started'; runId: string }
  | { type: 'mysql.waiting'; runId: string; target: string; attempt: number; retryInMs: number; cause: string }
  | { type: 'mysql.ready'; runId: string; target: string; serverVersion: string; flavour: string }
  | { type: 'backup.warning'; runId: string; warning: string }
  | { type: 'backup.waiting'; runId: string; queries: readonly LongQuery[]; waitedMs: number; waitLimitMs: number }
  | { type: 'backup.started'; runId: string; file: string; compression: Compression; flags: readonly string[] }
  | {
      type: 'backup.succeeded';
      runId: string;
      file: string;
      rawBytes: number;
      storedBytes: number;
      durationMs: number;
      finishedAt: string;
      sha256: string;
      binlog: BinlogCoordinates | null;
      nextRun?: string | null;
    }
  | {
      type: 'backup.failed';
      runId: string;
      cause: string;
      stderr?: string;
      hint?: string;
      /** A partial file the run could not remove. */
      leftover?: string;
      durationMs: number;
      nextRun?: string | null;
    }
  // Restores and drills.
  | { type: 'restore.started'; file: string; target: string; storedBytes: number }
  | { type: 'restore.progress'; file: string; phase: 'dump' | 'binlog'; percent: number; bytes: number; totalBytes: number; bytesPerSecond: number }
  /** A restore to a point: what it replays after the dump (replay-plan.ts). */
  | {
      type: 'restore.replay';
      file: string;
      target: string;
      to: string;
      binlogs: readonly string[];
      from: string;
      until: string;
      transactions: number;
      gtids: string;
    }
  | { type: 'restore.replayed'; file: string; target: string; transactions: number; lastApplied: string | null; durationMs: number }
  | ({ type: 'restore.gtid'; file: string; target: string } & GtidDecision)
  | { type: 'restore.succeeded'; file: string; target: string; durationMs: number }
  | { type: 'restore.failed'; file: string; target: string; cause: string }
  | { type: 'drill.started'; runId?: string; file: string; target: string }
  | { type: 'drill.succeeded'; runId?: string; file: string; target: string; tables: number; durationMs: number }
  | { type: 'drill.failed'; runId?: string; file: string; target: string; problems: readonly string[]; durationMs: number }
  // Keeping the directory in order.
  | { type: 'cleanup.removed'; path: string }
  /** reason 'space': deleted ahead of the next retention pass so that a run refused for space fits. */
  | { type: 'retention.deleted'; runId?: string; file: string; mtime: string; ageMs: number; reason?: 'space' }
  | { type: 'retention.applied'; runId?: string; deleted: number; kept: number; suspect?: readonly string[] }
  | { type: 'retention.failed'; runId?: string; cause: string }
  // The daemon.
  | {
      type: 'daemon.started';
      schedule: string;
      timeZone: string;
      nextRun: string | null;
      onStart: boolean;
      backupDir: string;
      retention: string;
      keepMin: number;
      maxAge: string;
      http: string;
    }
  /** BACKUP_ON_START with a good backup younger than the schedule's interval: a redeploy, not a gap. */
  | { type: 'schedule.startSkipped'; newest: string; ageMs: number; intervalMs: number; nextRun: string | null }
  /** The timer came `lateMs` after the tick due at `dueAt`; `mergedTicks` ticks were due by then, and one run starts. */
  | { type: 'schedule.late'; duty: Duty; dueAt: string; lateMs: number; mergedTicks: number; nextRun: string }
  | { type: 'schedule.skipped'; duty: Duty; runningRunId: string; runningForMs: number; skippedTotal: number; nextRun: string | null }
  | { type: 'daemon.refusing'; cause: string; hint?: string }
  // backup.log itself (log-file.ts): it cannot be written, and later it can again.
  | { type: 'log.failing'; file: string; cause: string; holdBytes: number }
  | { type: 'log.recovered'; file: string; failedForMs: number; heldLines: number; droppedLines: number }
  // Pings and webhook posts (notify/): each delivered, or failed after its retries.
  | { type: 'notify.delivered'; kind: NotificationKind; signal: NotificationSignal; url: string; status: number; attempts: number; durationMs: number }
  | { type: 'notify.failed'; kind: NotificationKind; signal: NotificationSignal; url: string; attempts: number; durationMs: number; cause: string }
  // The binlog archive (binlog/): streaming, interrupted and restarted, refused, a gap, a file complete.
  | { type: 'binlog.streaming'; server: string; from: string; dir: string; serverId: number; client: string }
  | { type: 'binlog.interrupted'; reason: RestartReason; cause: string; retryInMs: number }
  | { type: 'binlog.refused'; cause: string; hint?: string; retryInMs: number }
  | { type: 'binlog.gap'; cause: string; resumeAt: string; previousEpoch: string | null }
  | { type: 'binlog.rotated'; file: string; bytes: number }
  | { type: 'binlog.stopped'; dir: string; archivedBytes: number }
  /** Archive retention: files (and epoch directories, with a trailing /) no kept dump needs. */
  | { type: 'binlog.pruned'; runId?: string; deleted: readonly string[]; bytes: number; keptFrom: string }
  // One writer per BACKUP_DIR (directory-lock.ts).
  | { type: 'lock.waiting'; dir: string; purpose: string; holder: string; heartbeatAgeMs: number }
  | { type: 'lock.staleRemoved'; dir: string; file: string; holder: string; heartbeatAgeMs: number }
  | { type: 'daemon.stopping'; signal: string; runInFlight: string | null; graceMs: number }
  | { type: 'daemon.aborting'; signal: string; runInFlight: string | null }
  | { type: 'daemon.stopped'; outcome: 'idle' | 'finished' | 'abandoned'; waitedMs: number };

export type EventSink = (event: SidecarEvent) => void;

/** What a schedule runs: BACKUP_SCHEDULE's backups, or DRILL_SCHEDULE's restore drills. */
export type Duty = 'backup' | 'drill';
