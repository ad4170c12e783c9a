import { Transform, type TransformCallback } from 'node:stream';

/** Bytes kept from each end of the dump: headers and trailer are a few KiB on every version. */
const WINDOW_BYTES = 64 * 1024;

export interface BinlogCoordinates {
  readonly file: string | null;
  readonly position: number | null;
  readonly gtid: string | null;
}

export interface DumpInspection {
  readonly rawBytes: number;
  /** mysqldump's last line is "-- Dump completed on ...": it got to the end. */
  readonly completed: boolean;
  readonly binlog: BinlogCoordinates | null;
}

/**
 * Watches mysqldump's output as it passes, without copying it: counts bytes and keeps references
 * to the first and last chunks, which hold the binlog coordinates and the completion trailer.
 */
export class DumpInspector extends Transform {
  #bytes = 0;
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail: Buffer[] = [];
  #tailBytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#headBytes < WINDOW_BYTES) {
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
    }
    this.#tail.push(chunk);
    this.#tailBytes += chunk.length;
    while (this.#tail.length > 1 && this.#tailBytes - this.#tail[0]!.length >= WINDOW_BYTES) {
      this.#tailBytes -= this.#tail.shift()!.length;
    }
    done(null, chunk);
  }

  result(): DumpInspection {
    // Chunks may be large (the pipeline batches them): only the windows are searched, so that
    // rows of data are no more likely to be read as coordinates than with small chunks.
    const head = Buffer.concat(this.#head).subarray(0, WINDOW_BYTES).toString('utf8');
    const tail = Buffer.concat(this.#tail).subarray(-WINDOW_BYTES).toString('utf8');
    return { rawBytes: this.#bytes, completed: endsWithCompletionTrailer(tail), binlog: parseBinlogCoordinates(head, tail) };
  }
}

export function endsWithCompletionTrailer(tail: string): boolean {
  const lastLine = tail.trimEnd().split('\n').pop() ?? '';
  return /^-- Dump completed( on .*)?$/.test(lastLine);
}

/**
 * From the commented statements --master-data=2 / --source-data=2 write near the top
 * ("-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000003', MASTER_LOG_POS=1130;" or the
 * SOURCE_ spelling), MySQL's "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*\/ '...'" near the top (or,
 * with --set-gtid-purged=COMMENTED, "/* SET @@GLOBAL.GTID_PURGED='+...';*\/"), and MariaDB's
 * "-- SET GLOBAL gtid_slave_pos='0-1-5';" near the end.
 */
export function parseBinlogCoordinates(head: string, tail: string): BinlogCoordinates | null {
  const position = /(?:MASTER|SOURCE)_LOG_FILE='([^']+)',\s*(?:MASTER|SOURCE)_LOG_POS=(\d+)/.exec(head);
  const gtid =
    /GTID_PURGED=(?:\/\*!80000 '\+'\*\/ )?'\+?([^']*)'/.exec(head) ?? /gtid_slave_pos='([^']*)'/.exec(tail);
  if (!position && !gtid) return null;
  return {
    file: position?.[1] ?? null,
    position: position ? Number(position[2]) : null,
    gtid: gtid?.[1]?.replace(/\s+/g, '') || null,
  };
}
