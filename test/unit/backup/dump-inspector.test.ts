import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DumpInspector, endsWithCompletionTrailer, parseBinlogCoordinates } from '../../../src/backup/dump-inspector.js';

const MARIADB_HEAD = `-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;
-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=1130;
`;
const MARIADB_TAIL = `-- SET GLOBAL gtid_slave_pos='0-1-5';
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2026-11-23  7:48:05
`;
const MYSQL_HEAD = `-- MySQL dump 10.13  Distrib 8.0.40, for Linux (x86_64)
SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,
5ADE1B6A-71CA-11E1-9E33-C80AA9429562:1-3';
-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000002', SOURCE_LOG_POS=157;
`;

async function inspect(chunks: string[]) {
  const inspector = new DumpInspector();
  const received: Buffer[] = [];
  await pipeline(
    Readable.from(chunks.map((c) => Buffer.from(c))),
    inspector,
    new Writable({
      write(chunk, _encoding, done) {
        received.push(chunk);
        done();
      },
    }),
  );
  return { result: inspector.result(), passed: Buffer.concat(received).toString() };
}

describe('the dump inspector', () => {
  it('passes every byte through and counts them', async () => {
    const chunks = [MARIADB_HEAD, 'x'.repeat(200_000), MARIADB_TAIL];
    const { result, passed } = await inspect(chunks);
    expect(passed).toBe(chunks.join(''));
    expect(result.rawBytes).toBe(Buffer.byteLength(chunks.join('')));
  });

  it('finds the trailer and the coordinates at either end of a large dump', async () => {
    const { result } = await inspect([MARIADB_HEAD, ...Array(40).fill('y'.repeat(65_536)), MARIADB_TAIL]);
    expect(result.completed).toBe(true);
    expect(result.binlog).toEqual({ file: 'binlog.000001', position: 1130, gtid: '0-1-5' });
  });

  it('reports a dump cut short as incomplete', async () => {
    const { result } = await inspect([MARIADB_HEAD, 'INSERT INTO t VALUES (1),(2']);
    expect(result.completed).toBe(false);
  });
});

describe('the completion trailer', () => {
  it.each([
    ['-- Dump completed on 2026-11-23 10:00:00\n', true],
    ['-- Dump completed on 2026-11-23  7:48:05\n\n', true],
    ['-- Dump completed\n', true],
    ['INSERT INTO t VALUES (1);\n', false],
    ["INSERT INTO t VALUES ('-- Dump completed');\n", false],
    ['-- Dump completed on 2026-11-23\nINSERT INTO t VALUES (1);\n', false],
  ])('%j -> %s', (tail, expected) => {
    expect(endsWithCompletionTrailer(tail)).toBe(expected);
  });
});

describe('binlog coordinates', () => {
  it('reads MySQL 8 --source-data and a multi-line GTID set', () => {
    expect(parseBinlogCoordinates(MYSQL_HEAD, '')).toEqual({
      file: 'binlog.000002',
      position: 157,
      gtid: '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,5ADE1B6A-71CA-11E1-9E33-C80AA9429562:1-3',
    });
  });

  it('reads the GTID set --set-gtid-purged=COMMENTED writes as a comment, without its plus sign', () => {
    const head = "/* SET @@GLOBAL.GTID_PURGED='+0a88d703-ec30-11f1-8c2b-02fc00000001:1-22';*/\n";
    expect(parseBinlogCoordinates(head, '')?.gtid).toBe('0a88d703-ec30-11f1-8c2b-02fc00000001:1-22');
  });

  it('is null when the dump carries none', () => {
    expect(parseBinlogCoordinates('-- MySQL dump\n', '-- Dump completed\n')).toBeNull();
  });
});
