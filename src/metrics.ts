import { statfs } from 'node:fs/promises';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { readInventory } from './backup/inventory.js';
import { type BinlogStatus, RESTART_REASONS } from './binlog/streamer.js';
import { assessSizes, type SizePolicy } from './backup/size-check.js';
import { assertWritableDirectory } from './backup/store.js';
import type { EventSink } from './events.js';
import type { LogFileState } from './log-file.js';
import type { NotificationKind } from './notify/notifier.js';
import { FAILURES_UNHEALTHY } from './health.js';
import type { RunHistory } from './run-history.js';

const PREFIX = 'mysql_backup_';
const seconds = (date: Date | undefined | null) => (date ? date.getTime() / 1000 : 0);

export interface SidecarMetrics {
  readonly observe: EventSink;
  readonly contentType: string;
  /** The exposition text, with the storage gauges read from BACKUP_DIR just now. */
  render(): Promise<string>;
}

/**
 * The Prometheus view of the same events the log shows. Counters count events; every "last ..."
 * gauge reads the run history (which a restart seeds from the newest manifests), and the storage
 * gauges are read from BACKUP_DIR at each scrape, so they say what is on disk now.
 * A value that has never happened is 0 (e.g. last_failure_timestamp_seconds before any failure).
 */
export function createMetrics(options: {
  history: RunHistory;
  backupDir: string;
  version: string;
  maxAgeMs: number;
  /** For the same verdict on the newest dump as restore and retention reach. */
  sizePolicy: SizePolicy;
  /** Whether backup.log takes lines (log-file.ts). */
  logState?: () => LogFileState;
  /** The receivers configured, whose counters start at 0 so that an alert sees the first failure. */
  notificationKinds?: readonly NotificationKind[];
  /** The binlog archive's state, when BINLOG_ARCHIVE is on; its metrics exist only then. */
  binlog?: () => BinlogStatus;
}): SidecarMetrics {
  const { history, backupDir } = options;
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  new Gauge({ name: `${PREFIX}build_info`, help: 'Always 1; the version of the sidecar is a label.', labelNames: ['version'], registers }).set(
    { version: options.version },
    1,
  );
  new Gauge({
    name: `${PREFIX}max_age_seconds`,
    help: 'BACKUP_MAX_AGE: /health turns 503 when the newest good backup is older.',
    registers,
  }).set(options.maxAgeMs / 1000);
  new Gauge({
    name: `${PREFIX}failures_unhealthy`,
    help: 'Failed runs in a row that turn /health to 503 (failing); the failing alert uses the same number.',
    registers,
  }).set(FAILURES_UNHEALTHY);

  const readAtScrape = (name: string, help: string, read: () => number) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  readAtScrape('last_success_timestamp_seconds', 'When the newest good backup finished (Unix time); 0 if there is none.', () =>
    seconds(history.lastSuccess?.finishedAt),
  );
  readAtScrape('last_failure_timestamp_seconds', 'When the last failed run ended (Unix time), kept across restarts; 0 if none.', () =>
    seconds(history.lastFailure?.at),
  );
  readAtScrape('last_duration_seconds', 'How long the newest good backup took to dump and store.', () =>
    (history.lastSuccess?.durationMs ?? 0) / 1000,
  );
  readAtScrape('last_size_bytes', 'Stored (compressed) size of the newest good backup.', () => history.lastSuccess?.storedBytes ?? 0);
  readAtScrape('previous_size_bytes', 'Stored size of the good backup before the newest; compare to catch a shrinking dump.', () =>
    history.previousSuccess?.storedBytes ?? 0,
  );
  readAtScrape('in_progress', '1 while a backup run is in flight.', () => (history.runInFlight ? 1 : 0));
  readAtScrape('consecutive_failures', 'Failed runs since the last good one.', () => history.consecutiveFailures);

  const logState = options.logState ?? (() => ({ problem: null, heldBytes: 0, droppedLines: 0 }));
  readAtScrape('log_write_failing', '1 while BACKUP_LOG_FILE cannot be written (full or read-only disk); its lines are held in memory meanwhile.', () =>
    logState().problem ? 1 : 0,
  );
  readAtScrape('log_held_bytes', 'Bytes of log lines waiting in memory for BACKUP_LOG_FILE to take them.', () => logState().heldBytes);
  let droppedSeen = 0;
  new Counter({
    name: `${PREFIX}log_dropped_lines_total`,
    help: 'Log lines lost because BACKUP_LOG_FILE could not be written for so long that the memory held for them was full.',
    registers,
    collect() {
      const dropped = logState().droppedLines;
      this.inc(dropped - droppedSeen);
      droppedSeen = dropped;
    },
  });

  const runs = new Counter({ name: `${PREFIX}runs_total`, help: 'Finished backup runs by result.', labelNames: ['result'], registers });
  runs.inc({ result: 'success' }, 0);
  runs.inc({ result: 'failure' }, 0);
  const skipped = new Counter({ name: `${PREFIX}skipped_runs_total`, help: 'Scheduled backup runs skipped because one was still in flight.', registers });
  const deleted = new Counter({ name: `${PREFIX}retention_deleted_total`, help: 'Backups deleted by retention.', registers });
  const drillsSkipped = new Counter({ name: `${PREFIX}drills_skipped_total`, help: 'Scheduled drills skipped because one was still in flight.', registers });
  const drills = new Counter({ name: `${PREFIX}drills_total`, help: 'Finished restore drills by result.', labelNames: ['result'], registers });
  const lastDrill = new Gauge({ name: `${PREFIX}last_drill_timestamp_seconds`, help: 'When the last restore drill ended (Unix time), since start; 0 if none.', registers });
  const lastDrillSuccess = new Gauge({ name: `${PREFIX}last_drill_success`, help: '1 if the last restore drill passed, 0 if it failed or none ran since start.', registers });
  const notifications = new Counter({
    name: `${PREFIX}notifications_total`,
    help: 'Pings and webhook posts by receiver (kind) and outcome: delivered, or failed after its retries (or dropped).',
    labelNames: ['kind', 'result'],
    registers,
  });
  for (const kind of options.notificationKinds ?? []) {
    notifications.inc({ kind, result: 'delivered' }, 0);
    notifications.inc({ kind, result: 'failed' }, 0);
  }
  // Registered only with BINLOG_ARCHIVE on: a series that can never move would only mislead.
  const binlogRegisters = options.binlog ? registers : [];
  const binlogRestarts = new Counter({
    name: `${PREFIX}binlog_restarts_total`,
    help: 'Times the binlog stream ended and was started again, by reason (connection-lost, stalled, failed, exited).',
    labelNames: ['reason'],
    registers: binlogRegisters,
  });
  for (const reason of RESTART_REASONS) binlogRestarts.inc({ reason }, 0);
  const binlogGaps = new Counter({
    name: `${PREFIX}binlog_gaps_total`,
    help: 'Gaps in the binlog archive: binary log the server no longer had when the archive needed it. Each starts a new epoch and a dump.',
    registers: binlogRegisters,
  });
  if (options.binlog) registerBinlogGauges(registry, options.binlog);
  const duration = new Histogram({
    name: `${PREFIX}duration_seconds`,
    help: 'Duration of successful backup runs (dump and store).',
    buckets: [0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400],
    registers,
  });

  const storage = (name: string, help: string) => new Gauge({ name: `${PREFIX}${name}`, help, registers });
  const backups = storage('backups', 'Good (checksummed) backups in BACKUP_DIR now.');
  const storedBytes = storage('stored_bytes', 'Bytes of the dumps in BACKUP_DIR now.');
  const oldest = storage('oldest_backup_timestamp_seconds', 'Modification time of the oldest good backup (Unix time); 0 if none.');
  const volumeFree = storage('volume_free_bytes', 'Bytes free for the sidecar on the file system of BACKUP_DIR.');
  const volumeSize = storage('volume_size_bytes', 'Size of the file system of BACKUP_DIR.');
  const directoryUsable = storage(
    'dir_available',
    '1 while BACKUP_DIR exists and is writable, as /health checks it; 0 otherwise (the storage gauges then keep the last values read).',
  );
  const newestSuspect = storage(
    'last_size_suspect',
    '1 when the newest good backup is under BACKUP_SIZE_DROP_RATIO of the median size of the good dumps before it (restore latest then asks for --force).',
  );

  /**
   * One read of BACKUP_DIR per scrape serves all the storage gauges. A directory that is gone
   * (an unmounted volume) is a gauge, not a failed scrape: the rest is still worth knowing.
   */
  const readStorage = async () => {
    const usable = await assertWritableDirectory(backupDir).then(
      () => true,
      () => false,
    );
    directoryUsable.set(usable ? 1 : 0);
    // A read-only directory can still be read; one that is gone cannot, and that is not a scrape error.
    await readStorageOnce().catch((error: unknown) => {
      if (usable) throw error;
    });
  };
  const readStorageOnce = async () => {
    const inventory = await readInventory(backupDir);
    const good = inventory.backups.filter((b) => b.checksummed);
    const fs = await statfs(backupDir);
    backups.set(good.length);
    storedBytes.set(inventory.backups.reduce((sum, b) => sum + b.size, 0));
    oldest.set(good.length ? good[good.length - 1]!.mtimeMs / 1000 : 0);
    volumeFree.set(fs.bavail * fs.bsize);
    volumeSize.set(fs.blocks * fs.bsize);
    const verdicts = await assessSizes(good, options.sizePolicy);
    newestSuspect.set(good[0] && verdicts.get(good[0].name)?.suspect ? 1 : 0);
  };

  const observe: EventSink = (event) => {
    switch (event.type) {
      case 'backup.succeeded':
        runs.inc({ result: 'success' });
        duration.observe(event.durationMs / 1000);
        break;
      case 'backup.failed':
        runs.inc({ result: 'failure' });
        break;
      case 'schedule.skipped':
        (event.duty === 'drill' ? drillsSkipped : skipped).inc();
        break;
      case 'retention.deleted':
        deleted.inc();
        break;
      case 'notify.delivered':
      case 'notify.failed':
        notifications.inc({ kind: event.kind, result: event.type === 'notify.delivered' ? 'delivered' : 'failed' });
        break;
      case 'binlog.interrupted':
        binlogRestarts.inc({ reason: event.reason });
        break;
      case 'binlog.gap':
        binlogGaps.inc();
        break;
      case 'drill.succeeded':
      case 'drill.failed':
        drills.inc({ result: event.type === 'drill.succeeded' ? 'success' : 'failure' });
        lastDrill.set(Date.now() / 1000);
        lastDrillSuccess.set(event.type === 'drill.succeeded' ? 1 : 0);
        break;
      default:
        break;
    }
  };
  return {
    contentType: registry.contentType,
    observe,
    async render() {
      await readStorage();
      return registry.metrics();
    },
  };
}

/** The archive's gauges, read from its state at each scrape. */
function registerBinlogGauges(registry: Registry, status: () => BinlogStatus): void {
  const gauge = (name: string, help: string, read: (s: BinlogStatus) => number) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      registers: [registry],
      collect() {
        this.set(read(status()));
      },
    });
  gauge('binlog_streamer_up', '1 while the binlog stream runs (mysqlbinlog connected, its output fsynced every second).', (s) => (s.up ? 1 : 0));
  gauge('binlog_lag_bytes', 'Bytes of binary log the server has written that the archive has not fsynced yet, at the last poll (every 5 s); -1 if unknown.', (s) =>
    s.lagBytes ?? -1,
  );
  gauge('binlog_last_event_timestamp_seconds', 'Timestamp of the newest event in the archive (Unix time); 0 if none.', (s) => (s.lastEventAtMs ?? 0) / 1000);
  gauge(
    'binlog_recoverable_until_timestamp_seconds',
    'A replay of the archive reaches this time (Unix time): the last fsynced transaction, or the last poll that found the archive level with the server. 0 if nothing is archived.',
    (s) => (s.recoverableUntilMs ?? 0) / 1000,
  );
  gauge('binlog_archived_bytes', 'Bytes of binary log in BINLOG_DIR (the current epoch).', (s) => s.archivedBytes);
}
