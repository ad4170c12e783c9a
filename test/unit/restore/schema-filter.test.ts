import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { SchemaFilter } from '../../../src/restore/schema-filter.js';

/** The shape of mysqldump --all-databases: a header, one part per database, a second pass for views, a trailer. */
const part = (name: string, body: string) => {
  const quoted = `\`${name.replace(/`/g, '``')}\``;
  return `--\n-- Current Database: ${quoted}\n--\n\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ ${quoted} /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n\nUSE ${quoted};\n${body}\n`;
};
const HEADER = '-- MySQL dump 10.13\n/*!40101 SET NAMES utf8mb4 */;\n\n';
const TRAILER = '/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n-- Dump completed\n';
const DUMP =
  HEADER +
  part('app', "INSERT INTO `t` VALUES (1,'-- Current Database: `mysql` in a value');") +
  part('mysql', "INSERT INTO `user` VALUES ('root','*HASH');\n/*! FLUSH PRIVILEGES */;") +
  part('we`ird', 'INSERT INTO `x` VALUES (2);') +
  part('mysql', 'CREATE TABLE `late` (id int);') +
  part('zeta', 'CREATE VIEW `v` AS SELECT 1;') +
  TRAILER;
const WITHOUT_MYSQL =
  HEADER + part('app', "INSERT INTO `t` VALUES (1,'-- Current Database: `mysql` in a value');") + part('we`ird', 'INSERT INTO `x` VALUES (2);') + part('zeta', 'CREATE VIEW `v` AS SELECT 1;') + TRAILER;

/** The dump through the filter, cut into chunks at `cuts`. */
async function filtered(text: string, skip: string[], cuts: number[], replace = false, rename?: { from: string; to: string }, table?: string): Promise<string> {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  return (await buffer(Readable.from(chunks).pipe(new SchemaFilter({ include: (database) => !skip.includes(database), replace, ...(rename && { rename }), ...(table !== undefined && { table }) })))).toString();
}

describe('the schema filter', () => {
  it("leaves out every part of a skipped database, and nothing else, wherever the chunks are cut", async () => {
    expect(await filtered(DUMP, ['mysql'], [])).toBe(WITHOUT_MYSQL);
    const length = Buffer.byteLength(DUMP);
    for (let cut = 1; cut < length; cut++) expect(await filtered(DUMP, ['mysql'], [cut]), `cut at ${cut}`).toBe(WITHOUT_MYSQL);
    // Byte by byte, and cut twice close together.
    expect(await filtered(DUMP, ['mysql'], Array.from({ length: length - 1 }, (_, i) => i + 1))).toBe(WITHOUT_MYSQL);
    for (let cut = 1; cut + 3 < length; cut += 7) expect(await filtered(DUMP, ['mysql'], [cut, cut + 3])).toBe(WITHOUT_MYSQL);
  });

  it('drops each database but the system ones just before its part fills it, wherever the chunks are cut', async () => {
    const drop = (name: string) => `DROP DATABASE IF EXISTS \`${name.replace(/`/g, '``')}\`;\n`;
    // As mysqldump writes it: the views of every database in a second pass, after the tables of all.
    const dump = DUMP.replace(TRAILER, part('app', 'CREATE VIEW `w` AS SELECT 2;') + TRAILER);
    const seen = new Set<string>();
    const replaced = dump.replace(/^-- Current Database: `((?:[^`]|``)+)`\n/gm, (line, name: string) => {
      if (name === 'mysql' || seen.has(name)) return line;
      seen.add(name);
      return `${line}${drop(name.replace(/``/g, '`'))}`;
    });
    expect(replaced).toContain('DROP DATABASE IF EXISTS `we``ird`;\n');
    expect(replaced.match(/DROP DATABASE/g)).toHaveLength(3);
    const length = Buffer.byteLength(dump);
    for (let cut = 1; cut < length; cut++) expect(await filtered(dump, [], [cut], true), `cut at ${cut}`).toBe(replaced);
    // Only the parts restored are dropped.
    expect(await filtered(dump, ['zeta'], [33], true)).not.toContain(drop('zeta'));
  });

  it('passes a dump through unchanged when nothing is skipped, and reads names with doubled backticks', async () => {
    expect(await filtered(DUMP, [], [100, 200])).toBe(DUMP);
    // The cut is at the marker line: the comment line `--` above it stays with the part before.
    expect(await filtered(DUMP, ['we`ird', 'mysql', 'zeta'], [50])).toBe(
      `${HEADER}${part('app', "INSERT INTO `t` VALUES (1,'-- Current Database: `mysql` in a value');")}--\n${TRAILER}`,
    );
  });

  it('keeps the footer when the last part is skipped, and a last line without a newline', async () => {
    const lastSkipped = `${HEADER}${part('app', 'SELECT 1;')}${part('mysql', 'SELECT 2;')}${TRAILER}`;
    for (let cut = 1; cut < lastSkipped.length; cut += 3) {
      expect(await filtered(lastSkipped, ['mysql'], [cut]), `cut at ${cut}`).toBe(`${HEADER}${part('app', 'SELECT 1;')}--\n${TRAILER}`);
    }
    const ending = `${HEADER}${part('app', 'SELECT 1;')}-- Current Database: \`mysql\``;
    expect(await filtered(ending, ['mysql'], [ending.length - 5])).toBe(HEADER + part('app', 'SELECT 1;'));
    expect(await filtered(`${HEADER}-- Current Database`, ['mysql'], [HEADER.length + 3])).toBe(`${HEADER}-- Current Database`);
  });

  it("writes a renamed database's part under the new name, and no other, wherever the chunks are cut", async () => {
    // A routine of another collation than its database's: mysqldump switches the database's around it.
    const routines = 'ALTER DATABASE `we``ird` CHARACTER SET latin1 COLLATE latin1_swedish_ci ;\nCREATE PROCEDURE `p`() SELECT 1 ;;\nALTER DATABASE `we``ird` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci ;';
    const dump = HEADER + part('app', 'USE `we``ird`;') + part('we`ird', routines) + part('we`irder', 'SELECT 3;') + part('we`ird', 'CREATE VIEW `v` AS SELECT 1;') + TRAILER;
    const renamedPart = (body: string) => part('we`ird', body).replace(/(CREATE DATABASE \/\*!32312 IF NOT EXISTS\*\/ |USE |ALTER DATABASE )`we``ird`/g, '$1`new``name`');
    const expected =
      HEADER +
      renamedPart(routines).replace('`we``ird`\n', '`we``ird`\nDROP DATABASE IF EXISTS `new``name`;\n') +
      renamedPart('CREATE VIEW `v` AS SELECT 1;') +
      TRAILER;
    expect(expected.match(/`new``name`/g)).toHaveLength(7);
    const rename = { from: 'we`ird', to: 'new`name' };
    const length = Buffer.byteLength(dump);
    for (let cut = 1; cut < length; cut++) expect(await filtered(dump, ['app', 'we`irder'], [cut], true, rename), `cut at ${cut}`).toBe(expected);
    expect(await filtered(dump, ['app', 'we`irder'], Array.from({ length: length - 1 }, (_, i) => i + 1), true, rename)).toBe(expected);
    // The other parts keep their names, even a line in one that names the renamed database.
    expect(await filtered(dump, [], [], false, rename)).toContain(part('app', 'USE `we``ird`;') + part('we`ird', routines).replace(/`we``ird`(?!\n)/g, '`new``name`') + part('we`irder', 'SELECT 3;'));
  });

  it('passes one table of a database alone: its structure, data and triggers, after the lines that open the part', async () => {
    const section = (head: string, body: string) => `--\n-- ${head}\n--\n\n${body}\n`;
    const table = (name: string, rows: string, trigger = '') => {
      const q = `\`${name.replace(/`/g, '``')}\``;
      return (
        section(`Table structure for table ${q}`, `DROP TABLE IF EXISTS ${q};\nCREATE TABLE ${q} (id int);`) +
        section(`Dumping data for table ${q}`, `LOCK TABLES ${q} WRITE;\nINSERT INTO ${q} VALUES ${rows};\nUNLOCK TABLES;${trigger}`)
      );
    };
    const trigger = '\nDELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER `b-audit` AFTER INSERT ON `b` FOR EACH ROW INSERT INTO `a` VALUES (NEW.id) */;;\nDELIMITER ;';
    const body =
      table('a', '(1)') +
      table('b', '(2),(3)', trigger) +
      table('b`c', '(4)') +
      section('Temporary view structure for view `v`', 'CREATE TABLE `v` (id int);') +
      section("Dumping routines for database 'shop'", 'CREATE PROCEDURE `p`() SELECT 1;');
    const dump = HEADER + part('app', table('b', '(9)')) + part('shop', body) + part('shop', section('Final view structure for view `v`', 'CREATE VIEW `v` AS SELECT 1;')) + TRAILER;
    // Comment lines aside (the `--` above a section's head goes with the section before it).
    const withoutDashes = (text: string) => text.replace(/^--\n/gm, '');
    const opening = part('shop', '').slice(0, -1);
    const whole = await filtered(dump, ['app'], [], true, undefined, 'b');
    expect(withoutDashes(whole)).toBe(withoutDashes(HEADER + opening + table('b', '(2),(3)', trigger) + opening + TRAILER));
    expect(whole).not.toContain('DROP DATABASE');
    const length = Buffer.byteLength(dump);
    for (let cut = 1; cut < length; cut++) expect(await filtered(dump, ['app'], [cut], true, undefined, 'b'), `cut at ${cut}`).toBe(whole);
    // With a new name, the part's opening lines name it.
    const renamed = await filtered(dump, ['app'], [57, 400], false, { from: 'shop', to: 'shop2' }, 'b`c');
    expect(renamed).toContain('USE `shop2`;\n');
    expect(renamed).toContain('INSERT INTO `b``c` VALUES (4);');
    expect(renamed).not.toMatch(/INSERT INTO `b` |CREATE VIEW|PROCEDURE|USE `shop`/);
  });
});
