import { Transform, type TransformCallback } from 'node:stream';

/** The header (comments and SET statements before the first database) is a few KiB on every version. */
const HEADER_LIMIT = 64 * 1024;
const STATEMENT = Buffer.from('SET @@GLOBAL.GTID_PURGED=');
const HEADER_ENDS = ['\n-- Current Database: ', '\nCREATE DATABASE ', '\nUSE '].map((marker) => Buffer.from(marker));
const END_OF_STATEMENT = Buffer.from("';");

/**
 * Dumps taken before --set-gtid-purged=COMMENTED (by earlier releases of the sidecar, or by hand)
 * carry an active `SET @@GLOBAL.GTID_PURGED=...;` that fails a restore into the server it came
 * from (ERROR 3546) and would bypass restore's own GTID decision. This turns that one statement
 * into comment lines; it looks only in the header, before the first database, so no byte of data
 * is ever touched, and passes everything after it through untouched.
 */
export class GtidPurgedFilter extends Transform {
  #head: Buffer[] = [];
  #headBytes = 0;
  #passing = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#passing) return done(null, chunk);
    this.#head.push(chunk);
    this.#headBytes += chunk.length;
    const head = Buffer.concat(this.#head);
    const end = headerEnd(head);
    if (end === -1 && this.#headBytes < HEADER_LIMIT) {
      this.#head = [head];
      return done();
    }
    this.#passing = true;
    this.#head = [];
    done(null, disarmGtidPurged(head, end === -1 ? Math.min(head.length, HEADER_LIMIT) : end));
  }

  override _flush(done: TransformCallback): void {
    const head = Buffer.concat(this.#head);
    done(null, head.length > 0 ? disarmGtidPurged(head, head.length) : undefined);
  }
}

function headerEnd(head: Buffer): number {
  const found = HEADER_ENDS.map((marker) => head.indexOf(marker)).filter((at) => at !== -1);
  return found.length === 0 ? -1 : Math.min(...found);
}

/** Comments out, line by line, a SET @@GLOBAL.GTID_PURGED statement that starts a line before `limit`. */
export function disarmGtidPurged(sql: Buffer, limit: number): Buffer {
  const start = sql.indexOf(STATEMENT);
  if (start === -1 || start >= limit || (start > 0 && sql[start - 1] !== 0x0a)) return sql;
  const close = sql.indexOf(END_OF_STATEMENT, start);
  if (close === -1 || close >= limit) return sql;
  const end = close + END_OF_STATEMENT.length;
  const commented = sql
    .subarray(start, end)
    .toString('latin1')
    .split('\n')
    .map((line) => `-- ${line}`)
    .join('\n');
  return Buffer.concat([sql.subarray(0, start), Buffer.from(commented, 'latin1'), sql.subarray(end)]);
}
