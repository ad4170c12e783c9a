import { scanFile } from './archive-dir.js';
import { BinlogEventScanner, FILE_HEADER_EVENTS, TAGGED_GTID_LOG_EVENT } from './event-scanner.js';

/** One transaction (or a statement standing alone, as DDL does) in an archived binary log file. */
export interface BinlogTransaction {
  /** Where its first event starts: a replay that stops here applies nothing of it. */
  readonly start: number;
  /** Just past the event that ends it. */
  readonly end: number;
  /** The timestamp of that last event (the COMMIT's or the statement's start, whole seconds), Unix ms. */
  readonly committedAtMs: number;
  /** MySQL "uuid:n", MariaDB "domain-server-n"; null without one, or with one not read (below). */
  readonly gtid: string | null;
  /** It has a GTID this reader does not decode: MySQL 8.3+'s tagged "uuid:tag:n". */
  readonly gtidUnread: boolean;
  /** Some of its changes are logged as SQL statements (statement-based or MIXED logging), which name their database only by the USE before them. */
  readonly statementLogged: boolean;
  /** The databases its table maps and statements name as their own (a statement's is its USE), each once. */
  readonly databases: readonly string[];
  /** Its DDL (and other statements that are no data change), whole, each with its default database (its USE). */
  readonly ddl: readonly { readonly database: string | null; readonly statement: string }[];
  /** It is one compressed event (binlog_transaction_compression): its databases and DDL are not read. */
  readonly compressed: boolean;
}

/**
 * The complete transactions of a raw binlog file, in order, up to `upTo` bytes. An event cut off
 * at the end (the file is still being written) and a transaction without its end are not among
 * them. Calls `visit` for each; when it returns true the walk stops there.
 */
export async function walkTransactions(file: string, upTo: number, visit: (transaction: BinlogTransaction) => boolean): Promise<void> {
  let start: number | null = null;
  let gtid: string | null = null;
  let gtidUnread = false;
  let statementLogged = false;
  let databases = new Set<string>();
  let ddl: { database: string | null; statement: string }[] = [];
  let compressed = false;
  let stopped = false;
  const scanner = new BinlogEventScanner({
    onEvent: (event) => {
      if (stopped || event.timestamp === 0 || FILE_HEADER_EVENTS.has(event.type)) return;
      start ??= event.offset;
      if (event.gtid) gtid = formatGtid(event.gtid.source, event.gtid.sequence);
      if (event.type === TAGGED_GTID_LOG_EVENT) gtidUnread = true;
      statementLogged ||= event.statementChange;
      if (event.database !== null) databases.add(event.database);
      if (event.ddl !== null) ddl.push({ database: event.database, statement: event.ddl });
      compressed ||= event.compressed;
      if (!event.endsTransaction) return;
      stopped = visit({ start, end: event.end, committedAtMs: event.timestamp * 1000, gtid, gtidUnread, statementLogged, databases: [...databases], ddl, compressed });
      start = null;
      gtid = null;
      gtidUnread = false;
      statementLogged = false;
      databases = new Set();
      ddl = [];
      compressed = false;
    },
  });
  await scanFile(file, scanner, upTo, () => stopped);
}

/** A source as the scanner keys it (MySQL "uuid", MariaDB "domain-server") and a number, written as each family writes a GTID. */
const formatGtid = (source: string, sequence: number) => (source.length === 36 ? `${source}:${sequence}` : `${source}-${sequence}`);
