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
 * first bytes of each line are kept, and the VALUES lists are scanned byte by byte for top-level
 * tuples, skipping quoted strings, up to the `;` that ends the statement. MySQL's mysqldump
 * writes an INSERT on one line, MariaDB's a row a line; both escape newlines inside strings,
 * quote values with single quotes and put `USE` before each database.
 */
export class RowCounter extends Writable {
  readonly #tables = new Map<string, TableCount>();
  #database = '';
  #mode: 'head' | 'values' | 'skip' = 'head';
  #head = Buffer.alloc(HEAD_LIMIT);
  #headLength = 0;
  #table = '';
  #depth = 0;
  #inString = false;
  #escaped = false;

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    for (let i = 0; i < chunk.length; i++) {
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
    }
    done();
  }

  #append(byte: number): void {
    if (this.#headLength === HEAD_LIMIT) this.#mode = 'skip';
    else this.#head[this.#headLength++] = byte;
  }

  #headEndsWithValues(): boolean {
    return this.#headLength > 20 && this.#head.toString('latin1', this.#headLength - 8, this.#headLength) === '` VALUES';
  }

  #scanValue(byte: number): void {
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (byte === BACKSLASH) this.#escaped = true;
      else if (byte === QUOTE) this.#inString = false;
      return;
    }
    if (byte === QUOTE) this.#inString = true;
    else if (byte === OPEN) {
      if (this.#depth === 0) this.#count(this.#table, 1);
      this.#depth++;
    } else if (byte === CLOSE) this.#depth--;
    // The statement ends here; the rest of the line holds nothing to count.
    else if (byte === SEMICOLON && this.#depth === 0) this.#mode = 'skip';
  }

  #startValues(table: string): void {
    this.#mode = 'values';
    this.#table = table;
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
  }

  #endOfShortLine(): void {
    const line = this.#head.toString('utf8', 0, this.#headLength);
    const use = USE_LINE.exec(line);
    if (use) this.#database = unquote(use[1]!);
    const create = CREATE_TABLE_LINE.exec(line);
    if (create) this.#count(unquote(create[1]!), 0);
  }

  #startLine(): void {
    this.#mode = 'head';
    this.#headLength = 0;
  }

  /** Every table the dump creates or fills, in dump order. */
  get tables(): TableCount[] {
    return [...this.#tables.values()];
  }

  #count(table: string, rows: number): void {
    // NUL cannot appear in identifiers, so the key is unambiguous.
    const key = `${this.#database}\0${table}`;
    const entry = this.#tables.get(key);
    if (entry) entry.rows += rows;
    else this.#tables.set(key, { database: this.#database, table, rows });
  }
}
