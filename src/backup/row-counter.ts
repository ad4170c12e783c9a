import { Writable } from 'node:stream';

/** Rows a table has in the dump's INSERT statements (0 for a table created but never filled). */
export interface TableCount {
  readonly database: string;
  readonly table: string;
  rows: number;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const SEMICOLON = 0x3b;
const QUOTE = 0x27;
const BACKSLASH = 0x5c;
const OPEN = 0x28;
const CLOSE = 0x29;
/** Longer than any statement head we look for: INSERT INTO + a 64-character name in 4-byte UTF-8. */
const HEAD_LIMIT = 1024;

const INSERT_HEAD = /^INSERT INTO `((?:[^`]|``)+)` VALUES$/;
const USE_LINE = /^USE `((?:[^`]|``)+)`;/;
const CREATE_TABLE_LINE = /^CREATE TABLE `((?:[^`]|``)+)` \(/;
const unquote = (name: string) => name.replace(/``/g, '`');

/**
 * Counts the rows of every table in a mysqldump stream as it passes, in constant memory: only the
 * first bytes of each line are kept, and the VALUES lists are scanned for top-level tuples up to
 * the `;` that ends the statement, jumping over quoted strings with indexOf. MySQL's mysqldump
 * writes an INSERT on one line, MariaDB's a row a line; both escape newlines inside strings,
 * quote values with single quotes and put `USE` before each database.
 */
export class RowCounter extends Writable {
  readonly #tables = new Map<string, TableCount>();
  #database = '';
  #mode: 'head' | 'values' | 'skip' = 'head';
  #head = Buffer.alloc(HEAD_LIMIT);
  #headLength = 0;
  /** The table whose VALUES are being read: its entry, so that a row costs an increment. */
  #filling: TableCount | undefined;
  #depth = 0;
  #inString = false;
  #escaped = false;

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    let i = 0;
    while (i < chunk.length) {
      // Most of a dump is the inside of quoted strings and lines nothing is counted on: both are
      // crossed with indexOf (memchr), not a byte at a time in JavaScript.
      if (this.#mode === 'values' && this.#inString) {
        i = this.#skipString(chunk, i);
        continue;
      }
      if (this.#mode === 'skip') {
        const newline = chunk.indexOf(NEWLINE, i);
        if (newline === -1) break;
        i = newline;
      }
      const byte = chunk[i]!;
      if (this.#mode === 'values') {
        this.#scanValue(byte);
      } else if (this.#mode === 'head' && (byte === SPACE || byte === NEWLINE) && this.#headEndsWithValues()) {
        // "` VALUES" closes the head of an INSERT; only then is the regex worth running.
        const insert = INSERT_HEAD.exec(this.#head.toString('utf8', 0, this.#headLength));
        if (insert) this.#startValues(unquote(insert[1]!));
        else if (byte === NEWLINE) this.#startLine();
        else this.#append(byte);
      } else if (byte === NEWLINE) {
        if (this.#mode === 'head') this.#endOfShortLine();
        this.#startLine();
      } else if (this.#mode === 'head') {
        this.#append(byte);
      }
      i++;
    }
    done();
  }

  /**
   * Inside a quoted string, from `from`: returns the index just past its closing quote, or the
   * chunk's length when the string goes on into the next chunk. A quote is escaped when an odd
   * number of backslashes stand right before it, counting one left unpaired by the last chunk.
   */
  #skipString(chunk: Buffer, from: number): number {
    let start = from;
    let carried = this.#escaped;
    for (;;) {
      const quote = chunk.indexOf(QUOTE, start);
      const end = quote === -1 ? chunk.length : quote;
      let backslashes = 0;
      while (end - backslashes > start && chunk[end - backslashes - 1] === BACKSLASH) backslashes++;
      if (carried && end - backslashes === start) backslashes++;
      const oddBackslashes = backslashes % 2 === 1;
      if (quote === -1) {
        this.#escaped = oddBackslashes;
        return chunk.length;
      }
      this.#escaped = false;
      if (!oddBackslashes) {
        this.#inString = false;
        return quote + 1;
      }
      start = quote + 1;
      carried = false;
    }
  }

  #append(byte: number): void {
    if (this.#headLength === HEAD_LIMIT) this.#mode = 'skip';
    else this.#head[this.#headLength++] = byte;
  }

  #headEndsWithValues(): boolean {
    return this.#headLength > 20 && this.#head.toString('latin1', this.#headLength - 8, this.#headLength) === '` VALUES';
  }

  /** A byte of a VALUES list outside any string. */
  #scanValue(byte: number): void {
    if (byte === QUOTE) this.#inString = true;
    else if (byte === OPEN) {
      if (this.#depth === 0) this.#filling!.rows++;
      this.#depth++;
    } else if (byte === CLOSE) this.#depth--;
    // The statement ends here; the rest of the line holds nothing to count.
    else if (byte === SEMICOLON && this.#depth === 0) this.#mode = 'skip';
  }

  #startValues(table: string): void {
    this.#mode = 'values';
    this.#filling = this.#entry(table);
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
  }

  #endOfShortLine(): void {
    const line = this.#head.toString('utf8', 0, this.#headLength);
    const use = USE_LINE.exec(line);
    if (use) this.#database = unquote(use[1]!);
    const create = CREATE_TABLE_LINE.exec(line);
    if (create) this.#entry(unquote(create[1]!));
  }

  #startLine(): void {
    this.#mode = 'head';
    this.#headLength = 0;
  }

  /** Every table the dump creates or fills, in dump order. */
  get tables(): TableCount[] {
    return [...this.#tables.values()];
  }

  /** The count of `table` in the current database, created at 0 the first time. */
  #entry(table: string): TableCount {
    // NUL cannot appear in identifiers, so the key is unambiguous.
    const key = `${this.#database}\0${table}`;
    let entry = this.#tables.get(key);
    if (!entry) {
      entry = { database: this.#database, table, rows: 0 };
      this.#tables.set(key, entry);
    }
    return entry;
  }
}
