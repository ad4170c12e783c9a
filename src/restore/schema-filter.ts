import { Transform, type TransformCallback } from 'node:stream';

/** mysqldump --all-databases opens every database's part with this line (MariaDB's too). */
const MARKER = Buffer.from('-- Current Database: `');
/** The prefix, a name of at most 64 characters of up to 4 bytes with each backtick doubled, a backtick, a newline. */
const MARKER_LINE_MAX = MARKER.length + 64 * 4 * 2 + 2;
const MARKER_LINE = /^-- Current Database: `((?:[^`]|``)+)`\n?$/;
/** The dump's footer (session settings put back, `-- Dump completed`) belongs to no database's part. */
const FOOTER = Buffer.from('/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;');
/** What #scan looks for at line starts, and the same after a newline, for indexOf. */
const LINE_STARTS = [MARKER, FOOTER].map((prefix) => ({ prefix, afterNewline: Buffer.concat([Buffer.from('\n'), prefix]) }));

/** The server's own databases: never dropped, and left out where only the user's data counts. */
export const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set(['mysql', 'sys', 'performance_schema', 'information_schema']);

export interface SchemaChoice {
  /** Whether a database's part of the dump goes through; all do when not given. */
  readonly include?: (database: string) => boolean;
  /**
   * Drop each database that goes through (the system ones aside) just before its part: what it
   * holds afterwards is the dump's alone, without the tables created since.
   */
  readonly replace?: boolean;
}

/**
 * Leaves the parts of chosen databases out of a dump as it streams: everything from a database's
 * `-- Current Database:` line to the next one; and, asked to, drops a database before its part
 * fills it. mysqldump escapes newlines inside values, so a line that starts like that is always
 * mysqldump's own. Everything else passes untouched and uncopied, chunk by chunk; only a chunk
 * that ends in what may be such a line waits for the next.
 */
export class SchemaFilter extends Transform {
  readonly #choice: SchemaChoice;
  #skipping = false;
  /** A database's name comes twice: the views are in a second pass, which must not drop the first's tables. */
  readonly #dropped = new Set<string>();
  #atLineStart = true;
  /** The start of a line, cut by a chunk's end, that may still turn out to be a marker. */
  #carry: Buffer | null = null;

  constructor(choice: SchemaChoice) {
    super();
    this.#choice = choice;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let data = chunk;
    let lineStart = this.#atLineStart;
    if (this.#carry) {
      data = Buffer.concat([this.#carry, chunk]);
      this.#carry = null;
      lineStart = true;
    }
    const lastNewline = data.lastIndexOf(0x0a);
    const tail = lastNewline + 1;
    let end = data.length;
    if ((lastNewline !== -1 || lineStart) && tail < data.length && data.length - tail < MARKER_LINE_MAX && mayBecomeMarker(data.subarray(tail))) {
      this.#carry = Buffer.from(data.subarray(tail));
      end = tail;
    }
    this.#scan(data, end, lineStart);
    if (end > 0) this.#atLineStart = data[end - 1] === 0x0a;
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.#carry) this.#scan(this.#carry, this.#carry.length, true);
    this.#carry = null;
    done();
  }

  /** Passes or drops data[0, end) by the database each part belongs to. */
  #scan(data: Buffer, end: number, lineStart: boolean): void {
    let from = 0;
    let search = 0;
    for (;;) {
      const marker = nextLineStart(data, search, lineStart);
      if (marker === -1 || marker >= end) break;
      if (data.subarray(marker, marker + FOOTER.length).equals(FOOTER)) {
        this.#pass(data, from, marker);
        this.#skipping = false;
        from = marker;
        search = marker + 1;
        continue;
      }
      const newline = data.indexOf(0x0a, marker);
      const lineEnd = newline === -1 || newline >= end ? end : newline + 1;
      const name = MARKER_LINE.exec(data.subarray(marker, lineEnd).toString('utf8'))?.[1];
      if (name !== undefined) {
        // The marker line goes with the part it opens.
        this.#pass(data, from, marker);
        const database = name.replace(/``/g, '`');
        this.#skipping = this.#choice.include ? !this.#choice.include(database) : false;
        from = marker;
        if (!this.#skipping && this.#choice.replace && !SYSTEM_SCHEMAS.has(database) && !this.#dropped.has(database)) {
          this.#dropped.add(database);
          this.#pass(data, from, lineEnd);
          this.push(Buffer.from(`DROP DATABASE IF EXISTS \`${name}\`;\n`));
          from = lineEnd;
        }
      }
      search = marker + 1;
    }
    this.#pass(data, from, end);
  }

  #pass(data: Buffer, from: number, to: number): void {
    if (!this.#skipping && to > from) this.push(data.subarray(from, to));
  }
}

/** Where the first line at or after `from` that starts like a marker or the footer starts, or -1. */
function nextLineStart(data: Buffer, from: number, lineStart: boolean): number {
  let first = -1;
  for (const { prefix, afterNewline } of LINE_STARTS) {
    let at: number;
    if (from === 0 && lineStart && data.subarray(0, prefix.length).equals(prefix)) at = 0;
    else {
      const newline = data.indexOf(afterNewline, Math.max(0, from - 1));
      at = newline === -1 ? -1 : newline + 1;
    }
    if (at !== -1 && at >= from && (first === -1 || at < first)) first = at;
  }
  return first;
}

/** Whether a line's beginning is a marker's or the footer's beginning, or one without its end yet. */
function mayBecomeMarker(start: Buffer): boolean {
  return LINE_STARTS.some(({ prefix }) => {
    const length = Math.min(start.length, prefix.length);
    return start.subarray(0, length).equals(prefix.subarray(0, length));
  });
}
