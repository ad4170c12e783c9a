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
const XID_EVENT = 16;
const XA_PREPARE_LOG_EVENT = 38;
/** A QUERY_EVENT's fixed part after the header: thread id, exec time, db length, error code, status length. */
const QUERY_POST_HEADER_BYTES = 13;
/** Only the start of a statement is read, to tell BEGIN (a transaction opens) from the rest. */
const QUERY_PEEK_BYTES = 8;

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

export class BinlogEventScanner {
  #pending: Buffer = Buffer.alloc(0);
  #scanned = 0;
  #committed = 0;
  #committedAtMs: number | null = null;
  #lastEventAtMs: number | null = null;
  #magicSeen = false;
  #fed = 0;
  #finished = false;

  /** Bytes fed so far, parsed or waiting for the rest of their event: where the next chunk starts. */
  get fedBytes(): number {
    return this.#fed;
  }

  get position(): ScanPosition {
    return { scannedBytes: this.#scanned, committedBytes: this.#committed, committedAtMs: this.#committedAtMs, lastEventAtMs: this.#lastEventAtMs, finished: this.#finished };
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
      // Artificial events (a rotate the server sends first) carry timestamp 0.
      if (timestamp !== 0) {
        this.#lastEventAtMs = timestamp * 1000;
        if (endsTransaction(type, data.subarray(offset, offset + size))) {
          this.#committed = this.#scanned;
          this.#committedAtMs = timestamp * 1000;
        }
      }
      offset += size;
    }
    this.#pending = Buffer.from(data.subarray(offset));
  }
}

function endsTransaction(type: number, event: Buffer): boolean {
  if (type === XID_EVENT || type === XA_PREPARE_LOG_EVENT) return true;
  if (type !== QUERY_EVENT) return false;
  const body = HEADER_BYTES;
  if (event.length < body + QUERY_POST_HEADER_BYTES) return false;
  const dbLength = event[body + 8]!;
  const statusLength = event.readUInt16LE(body + 11);
  const textStart = body + QUERY_POST_HEADER_BYTES + statusLength + dbLength + 1;
  const text = event.subarray(textStart, textStart + QUERY_PEEK_BYTES).toString('latin1').toUpperCase();
  // BEGIN opens a transaction whose XID (or COMMIT) follows; any other statement (DDL, a
  // statement-based COMMIT) stands complete on its own.
  return !/^BEGIN\b/.test(text) && !/^XA (START|BEGIN|END)\b/.test(text);
}
