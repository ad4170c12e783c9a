import { Transform, type TransformCallback } from 'node:stream';
import { quoteIdentifier } from '../mysql/identifier.js';

/** mysqldump --all-databases opens every database's part with this line (MariaDB's too). */
const MARKER = Buffer.from('-- Current Database: `');
/** The prefix, a name of at most 64 characters of up to 4 bytes with each backtick doubled, a backtick, a newline. */
const MARKER_LINE_MAX = MARKER.length + 64 * 4 * 2 + 2;
const MARKER_LINE = /^-- Current Database: `((?:[^`]|``)+)`\n?$/;
/** The dump's footer (session settings put back, `-- Dump completed`) belongs to no database's part. */
const FOOTER = Buffer.from('/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;');

/** How mysqldump heads each section of a database's part; the name is a table's (or view's) or, for the last two, none. */
const SECTION_HEADS = [
  '-- Table structure for table `',
  '-- Dumping data for table `',
  '-- Temporary view structure for view `',
  '-- Temporary table structure for view `',
  '-- Final view structure for view `',
  "-- Dumping events for database '",
  "-- Dumping routines for database '",
];
const SECTION_LINE = /^-- (?:Table structure for table|Dumping data for table|Temporary view structure for view|Temporary table structure for view|Final view structure for view) `((?:[^`]|``)+)`\n?$/;


/** What #scan looks for at line starts: a part's marker, the footer, a line of a renamed part that names its database, a section's head. */
interface LineStart {
  readonly kind: 'marker' | 'footer' | 'naming' | 'section';
  readonly prefix: Buffer;
  /** The same after a newline, for indexOf. */
  readonly afterNewline: Buffer;
  /** For a line that names the renamed database: the prefix it is written with instead. */
  readonly renamed?: Buffer;
}

const lineStart = (kind: LineStart['kind'], prefix: string, renamed?: string): LineStart => ({
  kind,
  prefix: Buffer.from(prefix),
  afterNewline: Buffer.from(`\n${prefix}`),
  ...(renamed !== undefined && { renamed: Buffer.from(renamed) }),
});

/**
 * The lines of a database's part that name the database itself, as mysqldump writes them: its
 * CREATE DATABASE (with IF NOT EXISTS, or without), the USE of each pass, and the ALTER DATABASE
 * around a routine or event of another collation. Each is followed by a space, `;` or `*`, never
 * a backtick (one inside a name is doubled), so a prefix matches one name only.
 */
const NAMING_LINES = [
  (q: string) => `CREATE DATABASE /*!32312 IF NOT EXISTS*/ ${q}`,
  (q: string) => `CREATE DATABASE ${q}`,
  (q: string) => `/*!40000 DROP DATABASE IF EXISTS ${q}`,
  (q: string) => `USE ${q};`,
  (q: string) => `ALTER DATABASE ${q} `,
];

/** The server's own databases: never dropped, and left out where only the user's data counts. */
export const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set(['mysql', 'sys', 'performance_schema', 'information_schema']);

export interface SchemaChoice {
  /** Whether a database's part of the dump goes through; all do when not given. */
  readonly include?: (database: string) => boolean;
  /**
   * Drop each database that goes through (the system ones aside) just before its part: what it
   * holds afterwards is the dump's alone, without the tables created since. Not with a table
   * chosen: the other tables of its database stay.
   */
  readonly replace?: boolean;
  /**
   * Writes one database's part into a database of another name: the lines that name it (its
   * CREATE DATABASE and USE) name `to` instead. Names inside definitions (a view that spells out
   * its database) are the dump's.
   */
  readonly rename?: { readonly from: string; readonly to: string };
  /**
   * Of each database that goes through, only this table: its structure, data and triggers (the
   * dump's DROP TABLE replaces it), after the lines that create and use its database. No
   * other table, view, routine or event.
   */
  readonly table?: string;
}

/**
 * Leaves the parts of chosen databases out of a dump as it streams: everything from a database's
 * `-- Current Database:` line to the next one; and, asked to, drops a database before its part
 * fills it, writes one under another name, or passes one table of it alone. mysqldump escapes newlines inside values, so a line that starts like that is always
 * mysqldump's own. Everything else passes untouched and uncopied, chunk by chunk; only a chunk
 * that ends in what may be such a line waits for the next.
 */
export class SchemaFilter extends Transform {
  readonly #choice: SchemaChoice;
  readonly #lineStarts: readonly LineStart[];
  /** How far a line is carried into the next chunk while it may still turn out to be one of #lineStarts. */
  readonly #carryMax: number;
  /** The database whose part is passing through, or null before the first and after the footer. */
  #database: string | null = null;
  #skipping = false;
  /** With a table chosen: whether the section passing through is that table's (or the part's opening lines). */
  #inTable = true;
  /** A database's name comes twice: the views are in a second pass, which must not drop the first's tables. */
  readonly #dropped = new Set<string>();
  #atLineStart = true;
  /** The start of a line, cut by a chunk's end, that may still turn out to be one of #lineStarts. */
  #carry: Buffer | null = null;

  constructor(choice: SchemaChoice) {
    super();
    this.#choice = choice;
    const { rename } = choice;
    this.#lineStarts = [
      lineStart('marker', MARKER.toString()),
      lineStart('footer', FOOTER.toString()),
      ...(rename ? NAMING_LINES.map((line) => lineStart('naming', line(quoteIdentifier(rename.from)), line(quoteIdentifier(rename.to)))) : []),
      ...(choice.table !== undefined ? SECTION_HEADS.map((head) => lineStart('section', head)) : []),
    ];
    // A marker or section line whole (its name may be 512 bytes), a naming prefix with the byte after it.
    this.#carryMax = Math.max(MARKER_LINE_MAX, ...this.#lineStarts.map((start) => start.prefix.length + MARKER_LINE_MAX - MARKER.length));
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
    if ((lastNewline !== -1 || lineStart) && tail < data.length && data.length - tail < this.#carryMax && this.#mayBecomeLineStart(data.subarray(tail))) {
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

  /** Passes or drops data[0, end) by the database each part belongs to, renaming where asked. */
  #scan(data: Buffer, end: number, lineStart: boolean): void {
    let from = 0;
    let search = 0;
    for (;;) {
      const found = this.#nextLineStart(data, search, lineStart);
      if (!found || found.at >= end) break;
      const { at, start } = found;
      search = at + 1;
      if (start.kind === 'naming') {
        const next = data[at + start.prefix.length];
        if (this.#skipping || !this.#inTable || this.#database !== this.#choice.rename?.from || next === 0x60) continue;
        this.#pass(data, from, at);
        this.push(start.renamed!);
        from = at + start.prefix.length;
        continue;
      }
      if (start.kind === 'footer') {
        this.#pass(data, from, at);
        this.#skipping = false;
        this.#inTable = true;
        this.#database = null;
        from = at;
        continue;
      }
      const newline = data.indexOf(0x0a, at);
      const lineEnd = newline === -1 || newline >= end ? end : newline + 1;
      const line = data.subarray(at, lineEnd).toString('utf8');
      if (start.kind === 'section') {
        // A section line goes with the section it opens; the routines' and events' name no table.
        this.#pass(data, from, at);
        this.#inTable = SECTION_LINE.exec(line)?.[1]?.replace(/``/g, '`') === this.#choice.table;
        from = at;
        continue;
      }
      const name = MARKER_LINE.exec(line)?.[1];
      if (name === undefined) continue;
      // The marker line goes with the part it opens.
      this.#pass(data, from, at);
      const database = name.replace(/``/g, '`');
      this.#database = database;
      this.#skipping = this.#choice.include ? !this.#choice.include(database) : false;
      this.#inTable = true;
      from = at;
      if (!this.#skipping && this.#choice.replace && this.#choice.table === undefined && !SYSTEM_SCHEMAS.has(database) && !this.#dropped.has(database)) {
        this.#dropped.add(database);
        this.#pass(data, from, lineEnd);
        const written = this.#choice.rename?.from === database ? this.#choice.rename.to : database;
        this.push(Buffer.from(`DROP DATABASE IF EXISTS ${quoteIdentifier(written)};\n`));
        from = lineEnd;
      }
    }
    this.#pass(data, from, end);
  }

  /** The first line at or after `from` that starts like one of #lineStarts, and which. */
  #nextLineStart(data: Buffer, from: number, lineStart: boolean): { at: number; start: LineStart } | null {
    let first: { at: number; start: LineStart } | null = null;
    for (const start of this.#lineStarts) {
      let at: number;
      if (from === 0 && lineStart && data.subarray(0, start.prefix.length).equals(start.prefix)) at = 0;
      else {
        const newline = data.indexOf(start.afterNewline, Math.max(0, from - 1));
        at = newline === -1 ? -1 : newline + 1;
      }
      if (at !== -1 && at >= from && (!first || at < first.at)) first = { at, start };
    }
    return first;
  }

  /** Whether a line's beginning is that of one of #lineStarts, or one without its end yet. */
  #mayBecomeLineStart(start: Buffer): boolean {
    return this.#lineStarts.some(({ prefix }) => {
      const length = Math.min(start.length, prefix.length);
      return start.subarray(0, length).equals(prefix.subarray(0, length));
    });
  }

  #pass(data: Buffer, from: number, to: number): void {
    if (!this.#skipping && this.#inTable && to > from) this.push(data.subarray(from, to));
  }
}
