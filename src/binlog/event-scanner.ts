/**
 * Reads a raw binary log file (as `mysqlbinlog --raw` copies it) event by event, headers only
 * but for the few bytes that tell a transaction's end, to learn how far it can be replayed: the
 * offset just past the last complete transaction and that transaction's timestamp. Both
 * families write the same v4 event header:
 *
 *   timestamp u32 | type u8 | server_id u32 | event_size u32 | next_position u32 | flags u16
 *
 * Fed the file's bytes in order, in chunks of any size; an event cut off at the end waits for
 * the next chunk.
 */
export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);

const HEADER_BYTES = 19;
const QUERY_EVENT = 2;
const STOP_EVENT = 3;
const ROTATE_EVENT = 4;
const FORMAT_DESCRIPTION_EVENT = 15;
const XID_EVENT = 16;
/** Names the table (and its database) the row events after it change: table id u48, flags u16, then the database's length u8 and name. */
const TABLE_MAP_EVENT = 19;
/**
 * MySQL's GTID event: flags u8, source uuid (16 bytes), transaction number u64, then (8.0.2 on)
 * the logical clock, the commit timestamps and the transaction's length. Its anonymous twin
 * (gtid_mode OFF) has the same layout.
 */
const GTID_LOG_EVENT = 33;
const ANONYMOUS_GTID_LOG_EVENT = 34;
/** MySQL 8.3+ writes a GTID with a tag ("uuid:tag:n") in another encoding, which is not read here. */
export const TAGGED_GTID_LOG_EVENT = 42;
/** MySQL's compressed transaction (binlog_transaction_compression): its events, BEGIN to XID, in one. */
const TRANSACTION_PAYLOAD_EVENT = 40;
/** MariaDB's compressed query and rows events (log_bin_compress): their statements and databases are not read here. */
const MARIADB_COMPRESSED_FIRST = 165;
const MARIADB_COMPRESSED_LAST = 171;
/** MariaDB's: sequence number u64, domain id u32; the server id is the header's. */
const MARIADB_GTID_EVENT = 162;
const XA_PREPARE_LOG_EVENT = 38;
/** A QUERY_EVENT's fixed part after the header: thread id, exec time, db length, error code, status length. */
const QUERY_POST_HEADER_BYTES = 13;
/**
 * Statements inside a transaction that change no rows by themselves: savepoints, and the DDL of
 * an atomic CREATE ... SELECT (MySQL 8.0.21+ logs it after a BEGIN, its rows as row events).
 */
const NOT_A_CHANGE = /^(SAVEPOINT|ROLLBACK TO|RELEASE SAVEPOINT|CREATE|ALTER|DROP|RENAME|TRUNCATE)\b/;
/** Statements that only open, close or mark a transaction. */
const TRANSACTION_CONTROL = /^(BEGIN|XA |COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b/;
/** Only the start of a statement is read: enough to tell BEGIN, and a bare COMMIT from ROLLBACK TO a savepoint. */
const QUERY_PEEK_BYTES = 32;

export interface ScanPosition {
  /** Bytes of the file read and parsed: complete events only. */
  readonly scannedBytes: number;
  /** Offset just past the last event that ends a transaction (XID, XA PREPARE, a statement not BEGIN); 0: none yet. */
  readonly committedBytes: number;
  /** That event's timestamp (the statement's start, in whole seconds), Unix ms; null: none yet. */
  readonly committedAtMs: number | null;
  /** Timestamp of the last complete event of any kind, Unix ms; null: none yet. */
  readonly lastEventAtMs: number | null;
  /** The file ends with the server's ROTATE or STOP event: nothing more will be written to it. */
  readonly finished: boolean;
}

/** What a sealed file's index records: who wrote it, when, and which transactions it holds. */
export interface FileFacts {
  readonly firstEventAtMs: number | null;
  /** From the format description event, which opens every file: the writing server's id and version. */
  readonly serverId: number | null;
  readonly serverVersion: string | null;
  /**
   * Transaction numbers seen, first and last, per source: MySQL "uuid", MariaDB "domain-server".
   * Ranges, not sets: a hole inside one is not seen here.
   */
  readonly gtids: Readonly<Record<string, { first: number; last: number }>>;
  /** The file the closing rotate names; null: not closed by a rotate. */
  readonly nextFile: string | null;
}

/** One complete event as the scanner passes it, for a reader that wants more than the totals (transactions.ts). */
export interface ScannedEvent {
  /** Where the event starts and ends in the file. */
  readonly offset: number;
  readonly end: number;
  readonly type: number;
  /** 0 for an artificial event. */
  readonly timestamp: number;
  /** The transaction number of a GTID event, with its source as FileFacts keys it. */
  readonly gtid: { readonly source: string; readonly sequence: number } | null;
  readonly endsTransaction: boolean;
  /** A data change written as its SQL statement (statement-based logging) inside a transaction, not as rows. */
  readonly statementChange: boolean;
  /** The database a table map names, or a statement's default database (its USE); null for other events, or none. */
  readonly database: string | null;
  /**
   * The whole text of a statement that is neither a data change (above) nor one that opens,
   * closes or marks a transaction: DDL, GRANT and the like. Null for every other event.
   */
  readonly ddl: string | null;
  /** A compressed transaction (binlog_transaction_compression): what it changes is not read here. */
  readonly compressed: boolean;
}

/** Events that describe the file, not data: a transaction never starts with one. */
export const FILE_HEADER_EVENTS: ReadonlySet<number> = new Set([
  STOP_EVENT,
  ROTATE_EVENT,
  FORMAT_DESCRIPTION_EVENT,
  35, // PREVIOUS_GTIDS_LOG_EVENT (MySQL)
  161, // BINLOG_CHECKPOINT_EVENT (MariaDB)
  163, // GTID_LIST_EVENT (MariaDB)
  164, // START_ENCRYPTION_EVENT (MariaDB)
]);

export class BinlogEventScanner {
  readonly #onEvent: ((event: ScannedEvent) => void) | undefined;
  #pending: Buffer = Buffer.alloc(0);
  #scanned = 0;
  #committed = 0;
  #committedAtMs: number | null = null;
  #lastEventAtMs: number | null = null;
  #magicSeen = false;
  #fed = 0;
  #finished = false;
  #checksumBytes = 0;
  /** Inside a transaction opened by BEGIN (or MariaDB's GTID event for one), which only its COMMIT, XID or XA PREPARE ends. */
  #inTransaction = false;
  /**
   * Where the current transaction ends, from the length MySQL's GTID event gives it: exact where
   * the statements are not (an atomic CREATE ... SELECT has no BEGIN). Null: not known.
   */
  #transactionEnd: number | null = null;
  #facts: {
    firstEventAtMs: number | null;
    serverId: number | null;
    serverVersion: string | null;
    gtids: Record<string, { first: number; last: number }>;
    nextFile: string | null;
  } = { firstEventAtMs: null, serverId: null, serverVersion: null, gtids: {}, nextFile: null };

  constructor(options: { onEvent?: (event: ScannedEvent) => void } = {}) {
    this.#onEvent = options.onEvent;
  }

  /** Bytes fed so far, parsed or waiting for the rest of their event: where the next chunk starts. */
  get fedBytes(): number {
    return this.#fed;
  }

  get position(): ScanPosition {
    return { scannedBytes: this.#scanned, committedBytes: this.#committed, committedAtMs: this.#committedAtMs, lastEventAtMs: this.#lastEventAtMs, finished: this.#finished };
  }

  get facts(): FileFacts {
    return { ...this.#facts, gtids: { ...this.#facts.gtids } };
  }

  /** Throws when the bytes are not a binary log: a copy that cannot be replayed is never counted as one. */
  feed(chunk: Buffer): void {
    this.#fed += chunk.length;
    const data = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    let offset = 0;
    if (!this.#magicSeen) {
      if (data.length < BINLOG_MAGIC.length) {
        this.#pending = Buffer.from(data);
        return;
      }
      if (!data.subarray(0, BINLOG_MAGIC.length).equals(BINLOG_MAGIC)) throw new Error('not a binary log: the file does not start with the binlog magic bytes');
      this.#magicSeen = true;
      offset = BINLOG_MAGIC.length;
      this.#scanned = offset;
    }
    while (data.length - offset >= HEADER_BYTES) {
      const size = data.readUInt32LE(offset + 9);
      if (size < HEADER_BYTES) throw new Error(`not a binary log: an event at offset ${this.#scanned} claims ${size} bytes`);
      if (data.length - offset < size) break;
      const timestamp = data.readUInt32LE(offset);
      const type = data[offset + 4]!;
      this.#scanned += size;
      // A real rotate (timestamp set) closes the file; the artificial one a dump starts with does not.
      this.#finished = (type === ROTATE_EVENT && timestamp !== 0) || type === STOP_EVENT;
      const event = data.subarray(offset, offset + size);
      // Artificial events (a rotate the server sends first) carry timestamp 0.
      const gtid = this.#learn(type, timestamp, event);
      const insideBefore = this.#inTransaction;
      const ends = timestamp !== 0 && this.#endsTransaction(type, event, this.#scanned - size);
      const peek = type === QUERY_EVENT ? queryStart(event, this.#checksumBytes) : '';
      const statementChange = type === QUERY_EVENT && insideBefore && this.#inTransaction && !NOT_A_CHANGE.test(peek);
      const control = type === QUERY_EVENT && TRANSACTION_CONTROL.test(peek);
      const ddl = type === QUERY_EVENT && !statementChange && !control ? queryText(event, this.#checksumBytes) : null;
      // A BEGIN carries its session's USE too, but it changes nothing there.
      const database = type === QUERY_EVENT ? (control ? null : queryDatabase(event)) : type === TABLE_MAP_EVENT ? tableMapDatabase(event) : null;
      if (timestamp !== 0) {
        this.#lastEventAtMs = timestamp * 1000;
        if (ends) {
          this.#committed = this.#scanned;
          this.#committedAtMs = timestamp * 1000;
        }
      }
      this.#onEvent?.({
        offset: this.#scanned - size,
        end: this.#scanned,
        type,
        timestamp,
        gtid,
        endsTransaction: ends,
        statementChange,
        database,
        ddl,
        compressed: type === TRANSACTION_PAYLOAD_EVENT || (type >= MARIADB_COMPRESSED_FIRST && type <= MARIADB_COMPRESSED_LAST),
      });
      offset += size;
    }
    this.#pending = Buffer.from(data.subarray(offset));
  }

  /** Records what the event tells of the file; returns its GTID when it is a GTID event. */
  #learn(type: number, timestamp: number, event: Buffer): ScannedEvent['gtid'] {
    const facts = this.#facts;
    if (timestamp !== 0) facts.firstEventAtMs ??= timestamp * 1000;
    const body = event.subarray(HEADER_BYTES, event.length - this.#checksumBytes);
    switch (type) {
      case FORMAT_DESCRIPTION_EVENT:
        // Its own last five bytes: the checksum algorithm (1: CRC32) and the checksum itself.
        this.#checksumBytes = event[event.length - 5] === 1 ? 4 : 0;
        facts.serverId ??= event.readUInt32LE(5);
        facts.serverVersion ??= event.subarray(HEADER_BYTES + 2, HEADER_BYTES + 52).toString('latin1').replace(/\0.*$/s, '');
        break;
      case GTID_LOG_EVENT:
        if (body.length >= 25) return this.#sawGtid(formatUuid(body.subarray(1, 17)), Number(body.readBigUInt64LE(17)));
        break;
      case MARIADB_GTID_EVENT:
        if (body.length >= 12) return this.#sawGtid(`${body.readUInt32LE(8)}-${event.readUInt32LE(5)}`, Number(body.readBigUInt64LE(0)));
        break;
      case ROTATE_EVENT:
        if (timestamp !== 0 && body.length > 8) facts.nextFile = body.subarray(8).toString('latin1');
        break;
      default:
        break;
    }
    return null;
  }

  #sawGtid(source: string, sequence: number): ScannedEvent['gtid'] {
    const range = this.#facts.gtids[source];
    if (!range) this.#facts.gtids[source] = { first: sequence, last: sequence };
    else range.last = Math.max(range.last, sequence);
    return { source, sequence };
  }

  /**
   * Whether the event ends a transaction. A statement inside one (statement-based logging writes
   * each INSERT as a QUERY event) does not; outside one, a statement (DDL) stands on its own.
   */
  #endsTransaction(type: number, event: Buffer, offset: number): boolean {
    const byStatements = this.#endsByStatements(type, event);
    if (type === GTID_LOG_EVENT || type === ANONYMOUS_GTID_LOG_EVENT) {
      const length = mysqlTransactionLength(event.subarray(HEADER_BYTES, event.length - this.#checksumBytes));
      this.#transactionEnd = length ? offset + length : null;
      return false;
    }
    const end = offset + event.length;
    if (this.#transactionEnd === null) return byStatements;
    if (end < this.#transactionEnd) return false;
    // Past the length the GTID event gave: it was wrong, and the statements tell from here on.
    if (end > this.#transactionEnd) {
      this.#transactionEnd = null;
      return byStatements;
    }
    this.#transactionEnd = null;
    this.#inTransaction = false;
    return true;
  }

  /** The same from the statements alone: BEGIN opens, COMMIT / XID / XA PREPARE closes, a statement outside stands alone. */
  #endsByStatements(type: number, event: Buffer): boolean {
    if (type === TRANSACTION_PAYLOAD_EVENT) {
      this.#inTransaction = false;
      return true;
    }
    if (type === GTID_LOG_EVENT || type === ANONYMOUS_GTID_LOG_EVENT || type === TAGGED_GTID_LOG_EVENT) return false;
    if (type === MARIADB_GTID_EVENT) {
      // Its flags: FL_STANDALONE (1) marks a statement on its own; without it, a transaction follows.
      const flags = event.length >= HEADER_BYTES + 13 ? event[HEADER_BYTES + 12]! : 1;
      this.#inTransaction = (flags & 1) === 0;
      return false;
    }
    if (type === XID_EVENT || type === XA_PREPARE_LOG_EVENT) {
      this.#inTransaction = false;
      return true;
    }
    if (type !== QUERY_EVENT) return false;
    const text = queryStart(event, this.#checksumBytes);
    if (/^(BEGIN|XA (START|BEGIN))\b/.test(text)) {
      this.#inTransaction = true;
      return false;
    }
    if (!this.#inTransaction) return true;
    // The whole statement: "ROLLBACK TO sp" goes back to a savepoint, and the transaction goes on.
    if (/^(COMMIT|ROLLBACK)\s*$/.test(text)) {
      this.#inTransaction = false;
      return true;
    }
    return false;
  }

}

const formatUuid = (bytes: Buffer) => {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

/**
 * Where a QUERY_EVENT's parts lie: after the fixed part and the status variables, its default
 * database (NUL-terminated), then the statement up to the checksum.
 */
function queryLayout(event: Buffer): { dbStart: number; dbLength: number; textStart: number } | null {
  const body = HEADER_BYTES;
  if (event.length < body + QUERY_POST_HEADER_BYTES) return null;
  const dbLength = event[body + 8]!;
  const dbStart = body + QUERY_POST_HEADER_BYTES + event.readUInt16LE(body + 11);
  return { dbStart, dbLength, textStart: dbStart + dbLength + 1 };
}

/** The first bytes of a QUERY_EVENT's statement, upper-cased: all of it when it is short. */
function queryStart(event: Buffer, checksumBytes: number): string {
  const layout = queryLayout(event);
  if (!layout) return '';
  const textEnd = Math.min(event.length - checksumBytes, layout.textStart + QUERY_PEEK_BYTES);
  return event.subarray(layout.textStart, Math.max(layout.textStart, textEnd)).toString('latin1').toUpperCase();
}

function queryText(event: Buffer, checksumBytes: number): string {
  const layout = queryLayout(event);
  if (!layout) return '';
  return event.subarray(layout.textStart, Math.max(layout.textStart, event.length - checksumBytes)).toString('utf8');
}

function queryDatabase(event: Buffer): string | null {
  const layout = queryLayout(event);
  if (!layout || layout.dbLength === 0 || layout.dbStart + layout.dbLength > event.length) return null;
  return event.subarray(layout.dbStart, layout.dbStart + layout.dbLength).toString('utf8');
}

function tableMapDatabase(event: Buffer): string | null {
  const at = HEADER_BYTES + 8;
  if (event.length <= at) return null;
  const length = event[at]!;
  if (event.length < at + 1 + length) return null;
  return event.subarray(at + 1, at + 1 + length).toString('utf8');
}

/**
 * The transaction length in a MySQL GTID event's body (the whole transaction, the GTID event
 * included), or 0 when it has none (before 8.0.2). After flags, uuid and number: the logical
 * clock (a type code 2 and two u64), the immediate commit timestamp (7 bytes; its top bit says
 * the original one follows, 7 more), then the length as a packed integer.
 */
function mysqlTransactionLength(body: Buffer): number {
  let at = 1 + 16 + 8;
  if (body[at] !== 2 || body.length < at + 17) return 0;
  at += 17;
  if (body.length < at + 7) return 0;
  const originalFollows = (body[at + 6]! & 0x80) !== 0;
  at += originalFollows ? 14 : 7;
  if (body.length <= at) return 0;
  const first = body[at]!;
  if (first < 251) return first;
  const width = first === 252 ? 2 : first === 253 ? 3 : first === 254 ? 8 : 0;
  if (width === 0 || body.length < at + 1 + width) return 0;
  return width === 8 ? Number(body.readBigUInt64LE(at + 1)) : body.readUIntLE(at + 1, width);
}
