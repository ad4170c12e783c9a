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

const FORMAT = event(15, 1_700_000_000, Buffer.alloc(90));
const BEGIN = query(1_700_000_010, 'BEGIN');
const ROWS = event(30, 1_700_000_010, Buffer.alloc(40));
const XID = event(16, 1_700_000_010, Buffer.alloc(12));
const DDL = query(1_700_000_020, 'CREATE TABLE t (i INT)');
const ROTATE = event(4, 1_700_000_030, Buffer.from('\x04\0\0\0\0\0\0\0binlog.000002'));

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

  it('refuses bytes that are not a binary log', () => {
    expect(() => new BinlogEventScanner().feed(Buffer.from('-- MySQL dump 10.13\n'))).toThrow(/not a binary log/);
    const broken = Buffer.concat([BINLOG_MAGIC, Buffer.alloc(19)]);
    expect(() => new BinlogEventScanner().feed(broken)).toThrow(/claims 0 bytes/);
  });
});
