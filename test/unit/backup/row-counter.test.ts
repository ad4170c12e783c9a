import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { RowCounter } from '../../../src/backup/row-counter.js';

// Strings that look like row boundaries or statement ends, as mysqldump escapes them.
const TRAPS = String.raw`'a),(b','semi;colon','it\'s','back\\','\\\'','\\\\','(((','))) ;','tab	inside','\n\r\0','doubled''quote'`;

const MYSQL_STYLE = [
  'USE `shop`;',
  'CREATE TABLE `empty` (',
  '  `id` int',
  ') ENGINE=InnoDB;',
  'CREATE TABLE `odd``name` (',
  '  `id` int',
  ');',
  `INSERT INTO \`odd\`\`name\` VALUES (1,${TRAPS}),(2,NULL),(3,0x28292C3B);`,
  'INSERT INTO `odd``name` VALUES (4,\'x\');',
  'USE `other db`;',
  'CREATE TABLE `t` (`id` int);',
  "INSERT INTO `t` VALUES (1),(2),(3),(4),(5);",
  '-- INSERT INTO `t` VALUES (9),(9);',
  '-- Dump completed on 2026-11-23',
  '',
].join('\n');

const MARIADB_STYLE = [
  'USE `shop`;',
  'CREATE TABLE `odd``name` (`id` int);',
  'INSERT INTO `odd``name` VALUES',
  `(1,${TRAPS}),`,
  '(2,NULL),',
  '(3,0x28292C3B),',
  "(4,'x');",
  '/*!40000 ALTER TABLE `odd``name` ENABLE KEYS */;',
  '',
].join('\n');

async function count(text: string, chunkSize: number) {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const counter = new RowCounter();
  await pipeline(Readable.from(chunks), counter);
  return counter.tables.map((t) => `${t.database}|${t.table}|${t.rows}`);
}

describe('counting rows in a dump', () => {
  it.each([1, 3, 64, 1 << 20])('reads MySQL-style one-line INSERTs in chunks of %i bytes', async (size) => {
    expect(await count(MYSQL_STYLE, size)).toEqual(['shop|empty|0', 'shop|odd`name|4', 'other db|t|5']);
  });

  it.each([1, 5, 1 << 20])('reads MariaDB-style row-a-line INSERTs in chunks of %i bytes', async (size) => {
    expect(await count(MARIADB_STYLE, size)).toEqual(['shop|odd`name|4']);
  });

  it('counts every row of random strings full of quotes, backslashes and brackets, however it is cut', async () => {
    // A small generator with a fixed seed: the same rows on every run, and many of them.
    let seed = 42;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const alphabet = ["'", '\\', '(', ')', ';', ',', 'a', '\n', ' '];
    // mysqldump's escaping: a backslash before every quote and backslash in the value.
    const quoted = () => `'${Array.from({ length: random(12) }, () => alphabet[random(alphabet.length)]!).join('').replace(/[\\']/g, '\\$&')}'`;
    const rows = 2_000;
    const values = Array.from({ length: rows }, (_, id) => `(${id},${quoted()},${quoted()})`).join(',');
    const dump = `USE \`d\`;\nINSERT INTO \`t\` VALUES ${values};\n`;
    for (const size of [1, 2, 7, 64, 4096]) expect(await count(dump, size)).toEqual([`d|t|${rows}`]);
  });

  it('keeps no more than a line head in memory for a row of any size', async () => {
    const huge = `USE \`d\`;\nINSERT INTO \`t\` VALUES (1,'${'x'.repeat(5_000_000)}'),(2,'y');\n`;
    expect(await count(huge, 65_536)).toEqual(['d|t|2']);
  });
});
