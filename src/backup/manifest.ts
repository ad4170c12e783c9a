import type { Compression } from '../config/schema.js';
import type { BinlogCoordinates } from './dump-inspector.js';

/** `<dump>.manifest.json`: what a person or `list`/`verify` needs to know about one backup. */
export interface Manifest {
  readonly formatVersion: 1;
  readonly file: string;
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Bytes mysqldump wrote, before compression. */
  readonly rawBytes: number;
  /** Bytes of the file on disk; `sha256` is of these, as in `<dump>.sha256`. */
  readonly storedBytes: number;
  readonly sha256: string;
  readonly compression: { readonly algorithm: Compression; readonly level: number | null };
  readonly server: { readonly host: string; readonly port: number; readonly version: string; readonly flavour: string };
  readonly dumpClient: { readonly binary: string; readonly version: string; readonly flavour: string; readonly banner: string };
  readonly flags: readonly string[];
  /** Where the dump stands in the binary log, or null when binary logging is off or unreadable. */
  readonly binlog: BinlogCoordinates | null;
}
