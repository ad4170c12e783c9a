import type { BinlogCoordinates } from './backup/dump-inspector.js';
import type { Compression } from './config/schema.js';

/**
 * Everything a run learns is an event. The log (and, later, the metrics) are views of these;
 * the run itself never formats a log line.
 */
export type BackupEvent =
  | { type: 'mysql.waiting'; runId: string; target: string; attempt: number; retryInMs: number; cause: string }
  | { type: 'mysql.ready'; runId: string; target: string; serverVersion: string; flavour: string }
  | { type: 'backup.warning'; runId: string; warning: string }
  | { type: 'backup.started'; runId: string; file: string; compression: Compression; flags: readonly string[] }
  | {
      type: 'backup.succeeded';
      runId: string;
      file: string;
      rawBytes: number;
      storedBytes: number;
      durationMs: number;
      sha256: string;
      binlog: BinlogCoordinates | null;
    }
  | { type: 'backup.failed'; runId: string; cause: string; stderr?: string; hint?: string; durationMs: number };

export type EventSink = (event: BackupEvent) => void;
