import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { disarmGtidPurged, GtidPurgedFilter } from '../../../src/restore/gtid-purged-filter.js';

const LEGACY_HEAD = `-- MySQL dump 10.13  Distrib 8.0.40, for Linux (x86_64)
SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;
SET @@SESSION.SQL_LOG_BIN= 0;

--
-- GTID state at the beginning of the backup
--

SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,
5ADE1B6A-71CA-11E1-9E33-C80AA9429562:1-3';

--
-- Current Database: \`app\`
--
`;
const DATA = "INSERT INTO `t` VALUES (1,'SET @@GLOBAL.GTID_PURGED=''x'';');\n";

async function filtered(chunks: Buffer[]): Promise<string> {
  return (await buffer(Readable.from(chunks).pipe(new GtidPurgedFilter()))).toString('utf8');
}

describe('the GTID_PURGED statement of an older dump', () => {
  it('becomes comment lines, every line of a multi-line set', async () => {
    const out = await filtered([Buffer.from(LEGACY_HEAD + DATA)]);
    expect(out).toContain("-- SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,\n-- 5ADE1B6A");
    expect(out).not.toMatch(/^SET @@GLOBAL\.GTID_PURGED/m);
    expect(out.endsWith(DATA)).toBe(true);
  });

  it('is found across chunk boundaries, and nothing else changes', async () => {
    const whole = Buffer.from(LEGACY_HEAD + DATA.repeat(1000));
    const chunks = [whole.subarray(0, 150), whole.subarray(150, 160), whole.subarray(160)];
    const out = await filtered(chunks);
    expect(out.replace(/^-- (SET @@GLOBAL|5ADE1B6A)/gm, '$1')).toBe(whole.toString('utf8'));
  });

  it('is left alone when already a comment (--set-gtid-purged=COMMENTED)', () => {
    const commented = Buffer.from("/* SET @@GLOBAL.GTID_PURGED='+3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5';*/\n");
    expect(disarmGtidPurged(commented, commented.length)).toEqual(commented);
  });

  it('is looked for in the header only: the same text after the first database passes untouched', async () => {
    const sql = `-- MySQL dump\n\n-- Current Database: \`app\`\n${DATA}SET @@GLOBAL.GTID_PURGED='x';\n`;
    expect(await filtered([Buffer.from(sql)])).toBe(sql);
  });
});
