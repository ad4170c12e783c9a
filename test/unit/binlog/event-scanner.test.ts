import { describe, expect, it } from 'vitest';
import { BINLOG_MAGIC, BinlogEventScanner } from '../../../src/binlog/event-scanner.js';

/** A v4 event: the 19-byte header both families write, then `body`. */
function event(type: number, timestamp: number, body: Buffer): Buffer {
  const header = Buffer.alloc(19);
  header.writeUInt32LE(timestamp, 0);
  header[4] = type;
  header.writeUInt32LE(1, 5);
  header.writeUInt32LE(19 + body.length, 9);
  return Buffer.concat([header, body]);
}

/** A QUERY_EVENT: thread id, exec time, db length, error code, status length, db NUL, statement, checksum. */
function query(timestamp: number, statement: string): Buffer {
  const post = Buffer.alloc(13);
  post[8] = 4; // "test"
  post.writeUInt16LE(2, 11);
  return event(2, timestamp, Buffer.concat([post, Buffer.from([0, 0]), Buffer.from('test\0'), Buffer.from(statement), Buffer.alloc(4)]));
}

/** A format description that announces CRC32 checksums (its byte 5 from the end): every event's last 4 bytes. */
const FORMAT = event(15, 1_700_000_000, Buffer.concat([Buffer.alloc(85), Buffer.from([1]), Buffer.alloc(4)]));
const BEGIN = query(1_700_000_010, 'BEGIN');
const ROWS = event(30, 1_700_000_010, Buffer.alloc(40));
const XID = event(16, 1_700_000_010, Buffer.alloc(12));
const DDL = query(1_700_000_020, 'CREATE TABLE t (i INT)');
const ROTATE = event(4, 1_700_000_030, Buffer.concat([Buffer.from('\x04\0\0\0\0\0\0\0binlog.000002'), Buffer.alloc(4)]));
const UUID = Buffer.from('3e11fa4771ca11e1a9e5000c29a5f0b1', 'hex');

/** MySQL's GTID event as 8.0.2+ writes it, claiming a transaction of `length` bytes (itself included). */
function mysqlGtid(timestamp: number, sequence: number, length: number, { originalTimestamp = false } = {}): Buffer {
  const number = Buffer.alloc(8);
  number.writeBigUInt64LE(BigInt(sequence));
  const clock = Buffer.concat([Buffer.from([2]), Buffer.alloc(16)]);
  const immediate = Buffer.alloc(7);
  if (originalTimestamp) immediate[6] = 0x80;
  const packedLength = length < 251 ? Buffer.from([length]) : Buffer.from([252, length & 0xff, length >> 8]);
  const body = [Buffer.from([1]), UUID, number, clock, immediate, ...(originalTimestamp ? [Buffer.alloc(7)] : []), packedLength, Buffer.alloc(4), Buffer.alloc(4)];
  return event(33, timestamp, Buffer.concat(body));
}

/** A GTID event whose claimed length is its own plus that of the events after it. */
function mysqlTransaction(timestamp: number, sequence: number, events: Buffer[], options: { originalTimestamp?: boolean } = {}): Buffer[] {
  const rest = events.reduce((sum, e) => sum + e.length, 0);
  const short = mysqlGtid(timestamp, sequence, 0, options).length + rest;
  // A length of 251 or more is packed in 3 bytes instead of 1.
  return [mysqlGtid(timestamp, sequence, short < 251 ? short : short + 2, options), ...events];
}

const transactionsOf = (bytes: Buffer) => {
  const ends: Array<{ end: number; gtid: string | null }> = [];
  let gtid: string | null = null;
  const scanner = new BinlogEventScanner({
    onEvent: (e) => {
      if (e.gtid) gtid = `${e.gtid.source}:${e.gtid.sequence}`;
      if (e.endsTransaction) ends.push({ end: e.end, gtid });
    },
  });
  scanner.feed(bytes);
  return { ends: ends.map((e) => e.end), gtids: ends.map((e) => e.gtid), scanner };
};

/** Offsets just past each of `events` in a file of FORMAT then them. */
const endsOf = (...events: Buffer[]) => {
  let at = 4 + FORMAT.length;
  return events.map((e) => (at += e.length));
};

const file = (...events: Buffer[]) => Buffer.concat([BINLOG_MAGIC, ...events]);

describe('the binlog event scanner', () => {
  it('counts a transaction as replayable only once its XID is in, and a DDL statement on its own', () => {
    const scanner = new BinlogEventScanner();
    scanner.feed(file(FORMAT, BEGIN, ROWS));
    expect(scanner.position).toMatchObject({ committedBytes: 0, committedAtMs: null, lastEventAtMs: 1_700_000_010_000, finished: false });
    scanner.feed(XID);
    const afterXid = 4 + FORMAT.length + BEGIN.length + ROWS.length + XID.length;
    expect(scanner.position).toMatchObject({ committedBytes: afterXid, committedAtMs: 1_700_000_010_000 });
    scanner.feed(DDL);
    expect(scanner.position).toMatchObject({ committedBytes: afterXid + DDL.length, committedAtMs: 1_700_000_020_000 });
  });

  it('gives the same answer whatever the chunks, an event cut in two waiting for its rest', () => {
    const bytes = file(FORMAT, BEGIN, ROWS, XID, DDL, ROTATE);
    const whole = new BinlogEventScanner();
    whole.feed(bytes);
    for (const size of [1, 3, 7, 19, 64]) {
      const chunked = new BinlogEventScanner();
      for (let offset = 0; offset < bytes.length; offset += size) chunked.feed(bytes.subarray(offset, offset + size));
      expect(chunked.position).toEqual(whole.position);
      expect(chunked.fedBytes).toBe(bytes.length);
    }
    expect(whole.position).toMatchObject({ scannedBytes: bytes.length, finished: true });
  });

  it('does not call a file finished at the artificial rotate a stream starts with', () => {
    const scanner = new BinlogEventScanner();
    scanner.feed(file(event(4, 0, Buffer.from('\x04\0\0\0\0\0\0\0binlog.000001')), FORMAT));
    expect(scanner.position).toMatchObject({ finished: false, lastEventAtMs: 1_700_000_000_000 });
  });

  it("ends a MySQL transaction where its GTID event's length says, even one without a BEGIN (an atomic CREATE ... SELECT)", () => {
    const create = query(1_700_000_010, 'CREATE TABLE copy SELECT * FROM t');
    const transaction = mysqlTransaction(1_700_000_010, 7, [create, ROWS, XID]);
    const { ends, gtids } = transactionsOf(file(FORMAT, ...transaction, DDL));
    const offsets = endsOf(...transaction, DDL);
    // Not after the CREATE: a replay stopped there would have the table without its rows.
    expect(ends).toEqual([offsets[3], offsets[4]]);
    expect(gtids[0]).toBe('3e11fa47-71ca-11e1-a9e5-000c29a5f0b1:7');
  });

  it('reads the length after an original commit timestamp, and one of more than 250 bytes', () => {
    const big = event(30, 1_700_000_010, Buffer.alloc(400));
    const transaction = mysqlTransaction(1_700_000_010, 8, [BEGIN, big, XID], { originalTimestamp: true });
    const { ends } = transactionsOf(file(FORMAT, ...transaction));
    expect(ends).toEqual([endsOf(...transaction).at(-1)]);
  });

  it('counts a compressed MySQL transaction (one payload event) as a transaction', () => {
    const payload = event(40, 1_700_000_010, Buffer.alloc(60));
    const compressed = mysqlTransaction(1_700_000_010, 9, [payload]);
    expect(transactionsOf(file(FORMAT, ...compressed)).ends).toEqual([endsOf(...compressed)[1]]);
    // Without the length (a GTID event from before 8.0.2, or none), the payload still ends it.
    expect(transactionsOf(file(FORMAT, payload)).ends).toEqual(endsOf(payload));
  });

  it('goes on past ROLLBACK TO a savepoint, to the COMMIT', () => {
    const events = [BEGIN, ROWS, query(1_700_000_010, 'SAVEPOINT sp'), ROWS, query(1_700_000_010, 'ROLLBACK TO sp'), query(1_700_000_011, 'COMMIT')];
    expect(transactionsOf(file(FORMAT, ...events)).ends).toEqual([endsOf(...events).at(-1)]);
  });

  it('ends a transaction with a tagged GTID (not decoded) at its XID, without a GTID', () => {
    const tagged = event(42, 1_700_000_010, Buffer.alloc(70));
    const { ends, gtids } = transactionsOf(file(FORMAT, tagged, BEGIN, ROWS, XID));
    expect(ends).toEqual([endsOf(tagged, BEGIN, ROWS, XID)[3]]);
    expect(gtids).toEqual([null]);
  });

  it('falls back to the statements when a GTID event claims a length the events overrun', () => {
    const wrong = mysqlGtid(1_700_000_010, 10, 30);
    const { ends } = transactionsOf(file(FORMAT, wrong, BEGIN, ROWS, XID));
    expect(ends).toEqual([endsOf(wrong, BEGIN, ROWS, XID)[3]]);
  });

  it('refuses bytes that are not a binary log', () => {
    expect(() => new BinlogEventScanner().feed(Buffer.from('-- MySQL dump 10.13\n'))).toThrow(/not a binary log/);
    const broken = Buffer.concat([BINLOG_MAGIC, Buffer.alloc(19)]);
    expect(() => new BinlogEventScanner().feed(broken)).toThrow(/claims 0 bytes/);
  });
});
