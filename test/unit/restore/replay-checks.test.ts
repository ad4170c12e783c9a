import { describe, expect, it } from 'vitest';
import { type LocatedTransaction, namesDatabase, oneDatabaseProblem, renameProblem, type ReplayPlan } from '../../../src/restore/replay-plan.js';

const transaction = (start: number, extra: Partial<LocatedTransaction> = {}): LocatedTransaction => ({
  start,
  end: start + 100,
  committedAtMs: 0,
  gtid: null,
  gtidUnread: false,
  statementLogged: false,
  databases: [],
  ddl: [],
  compressed: false,
  file: 'binlog.000002',
  ...extra,
});

/** A plan as the walk leaves it, with only what the checks read filled in. */
function planOf(transactions: LocatedTransaction[]): ReplayPlan {
  const databases = new Map<string, LocatedTransaction>();
  for (const t of transactions) for (const d of t.databases) if (!databases.has(d)) databases.set(d, t);
  return {
    dump: { name: 'full_dump_20261207_000000.sql.zst', path: '/backups/x', finishedAt: '', binlogFile: 'binlog.000002', binlogPosition: 4 },
    epochDir: '/binlogs',
    files: [],
    stopPosition: 0,
    excluded: null,
    firstApplied: transactions[0] ?? null,
    lastApplied: transactions.at(-1) ?? null,
    firstGtid: null,
    transactions: transactions.length,
    withoutGtid: transactions.length,
    firstStatementLogged: transactions.find((t) => t.statementLogged) ?? null,
    ddl: transactions.flatMap((t) => t.ddl.map((d) => ({ transaction: t, ...d }))),
    databases,
    firstCompressed: transactions.find((t) => t.compressed) ?? null,
    bytes: 0,
  };
}

describe('what a replay of one database checks first', () => {
  it('finds a database named as a word of its own, bare or quoted, in any case, and not inside another name', () => {
    expect(namesDatabase('ALTER TABLE shop.orders ADD x INT', 'shop')).toBe(true);
    expect(namesDatabase('DROP DATABASE `Shop`', 'shop')).toBe(true);
    expect(namesDatabase('CREATE TABLE `app-data`.t (id INT)', 'app-data')).toBe(true);
    expect(namesDatabase('CREATE TABLE shop_archive.t (id INT)', 'shop')).toBe(false);
    expect(namesDatabase('CREATE TABLE workshop (id INT)', 'shop')).toBe(false);
    expect(namesDatabase('CREATE TABLE a$shop (id INT)', 'shop')).toBe(false);
    expect(namesDatabase('CREATE TABLE t (a INT) COMMENT "a.b+c"', 'a.b+c')).toBe(true);
  });

  it('lets through DDL by the database\'s own USE, and refuses DDL run elsewhere that names it', () => {
    const own = transaction(100, { databases: ['shop'], ddl: [{ database: 'shop', statement: 'ALTER TABLE orders ADD note INT' }] });
    expect(oneDatabaseProblem(planOf([own]), 'shop')).toBeNull();
    const elsewhere = transaction(300, { gtid: 'u:7', databases: ['other'], ddl: [{ database: 'other', statement: 'ALTER TABLE shop.orders\n  ADD note INT' }] });
    expect(oneDatabaseProblem(planOf([own, elsewhere]), 'shop')).toMatch(
      /^a restore of database shop alone cannot roll forward through DDL run in database other that names shop, as the one u:7 at binlog\.000002:300 does \(ALTER TABLE shop\.orders ADD note INT\)/,
    );
    const nowhere = transaction(500, { ddl: [{ database: null, statement: 'CREATE TABLE shop.t (id INT)' }] });
    expect(oneDatabaseProblem(planOf([nowhere]), 'shop')).toMatch(/DDL run in no database that names shop/);
    expect(oneDatabaseProblem(planOf([transaction(700, { statementLogged: true })]), 'shop')).toMatch(/changes logged as SQL statements/);
  });

  it('under a new name, refuses DDL that names either database, changes to the new name, and compressed transactions', () => {
    const rows = transaction(100, { databases: ['shop', 'other'] });
    const byUse = transaction(200, { databases: ['shop'], ddl: [{ database: 'shop', statement: 'CREATE INDEX i ON orders (id)' }] });
    expect(renameProblem(planOf([rows, byUse]), 'shop', 'shop_then')).toBeNull();
    const outright = transaction(300, { databases: ['shop'], ddl: [{ database: 'shop', statement: 'RENAME TABLE shop.orders TO shop.orders_old' }] });
    expect(renameProblem(planOf([rows, outright]), 'shop', 'shop_then')).toMatch(
      /^a roll-forward of database shop as shop_then cannot replay DDL that names shop in its text, as the one at binlog\.000002:300 does \(RENAME TABLE/,
    );
    const namesNew = transaction(400, { databases: ['shop'], ddl: [{ database: 'shop', statement: 'CREATE TABLE shop_then.t (id INT)' }] });
    expect(renameProblem(planOf([namesNew]), 'shop', 'shop_then')).toMatch(/cannot replay DDL that names shop_then in its text/);
    const intoNew = transaction(500, { databases: ['shop_then'] });
    expect(renameProblem(planOf([rows, intoNew]), 'shop', 'shop_then')).toMatch(/the archive changes a database called shop_then itself \(first at binlog\.000002:500\)/);
    expect(renameProblem(planOf([transaction(600, { compressed: true })]), 'shop', 'shop_then')).toMatch(/cannot check the compressed transaction at binlog\.000002:600/);
    // Run in shop and kept by that, a statement that names a third database, or an account, would change the live server.
    const third = transaction(700, { databases: ['shop'], ddl: [{ database: 'shop', statement: 'TRUNCATE TABLE other.t' }] });
    expect(renameProblem(planOf([third]), 'shop', 'shop_then')).toMatch(/cannot replay a statement run in shop that may reach beyond it .* \(TRUNCATE TABLE other\.t\)/);
    const account = transaction(800, { databases: ['shop'], ddl: [{ database: 'shop', statement: "ALTER USER 'app'@'%' IDENTIFIED BY 'x'" }] });
    expect(renameProblem(planOf([account]), 'shop', 'shop_then')).toMatch(/may reach beyond it \(a qualified name, or an account\)/);
  });
});
