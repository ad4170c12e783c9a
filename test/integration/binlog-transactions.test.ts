import path from 'node:path';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkTransactions } from '../../src/binlog/transactions.js';
import { makeTempDir } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/mysql-server.js';

/**
 * Where the scanner says each transaction ends, against the server's own account of its binary
 * log: in both families every transaction starts with a GTID event, so one ends where the next
 * GTID event (or the closing rotate) begins. The writes are the ones that fooled a reader of
 * statements: a savepoint rolled back, an atomic CREATE ... SELECT (no BEGIN), statement-based
 * inserts, and, on MySQL, compressed transactions.
 */
describe('transaction boundaries in a real binary log', () => {
  let server: TestServer;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    server = await startTestServer();
    dir = await makeTempDir();
    const session = await mysql.createConnection(server.adminConnection());
    try {
      const run = async (...statements: string[]) => {
        for (const statement of statements) await session.query(statement);
      };
      await server.query('FLUSH BINARY LOGS');
      await run('CREATE DATABASE edges', 'CREATE TABLE edges.t (id INT PRIMARY KEY, note VARCHAR(64)) ENGINE=InnoDB');
      await run('START TRANSACTION', "INSERT INTO edges.t VALUES (1, 'kept')", 'SAVEPOINT sp', "INSERT INTO edges.t VALUES (2, 'rolled back')", 'ROLLBACK TO sp');
      await run("INSERT INTO edges.t VALUES (3, 'after the savepoint')", 'COMMIT');
      await run('CREATE TABLE edges.copy ENGINE=InnoDB SELECT * FROM edges.t');
      await run("SET SESSION binlog_format = 'STATEMENT'", 'START TRANSACTION', "INSERT INTO edges.t VALUES (4, 'statement')", "INSERT INTO edges.t VALUES (5, 'statement')", 'COMMIT');
      await run("SET SESSION binlog_format = 'ROW'");
      if (server.flavour === 'mysql') {
        await run('SET SESSION binlog_transaction_compression = ON', 'START TRANSACTION', "INSERT INTO edges.t VALUES (6, 'compressed')", "UPDATE edges.t SET note = 'compressed too' WHERE id = 1", 'COMMIT');
        await run('CREATE TABLE edges.compressed_copy ENGINE=InnoDB SELECT * FROM edges.t', 'SET SESSION binlog_transaction_compression = OFF');
      }
      if (server.flavour === 'mariadb') {
        // A ROLLBACK TO is logged only when a non-transactional table changed after the savepoint
        // (MySQL's GTID consistency refuses such a transaction).
        await run('CREATE TABLE edges.audit (note VARCHAR(64)) ENGINE=MyISAM');
        await run('START TRANSACTION', "INSERT INTO edges.t VALUES (7, 'kept')", 'SAVEPOINT sp2', "INSERT INTO edges.audit VALUES ('stays')", "INSERT INTO edges.t VALUES (8, 'gone')", 'ROLLBACK TO sp2');
        await run("INSERT INTO edges.t VALUES (9, 'after ROLLBACK TO')", 'COMMIT');
      }
      await run('DROP TABLE edges.copy');
      // DDL by its USE, and a data change in one database made from another's.
      await run('USE edges', 'CREATE TABLE later (id INT PRIMARY KEY)', 'CREATE DATABASE other', 'CREATE TABLE other.t (id INT PRIMARY KEY)');
      await run('START TRANSACTION', 'INSERT INTO edges.later VALUES (1)', 'INSERT INTO other.t VALUES (1)', 'COMMIT');
    } finally {
      await session.end();
    }
    const logs = await server.query('SHOW BINARY LOGS');
    file = String(logs.at(-1)!.Log_name);
    await server.query('FLUSH BINARY LOGS');
    // The file as the archiver holds it: mysqlbinlog's raw copy.
    const admin = server.adminClient();
    await execa(path.join(server.clientDir, 'mysqlbinlog'), [...admin.args, '--read-from-remote-server', '--raw', `--result-file=${dir}/`, file], { env: admin.env });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('ends every transaction where the next GTID event starts', async () => {
    const events = await server.query(`SHOW BINLOG EVENTS IN '${file}'`);
    const expected: number[] = [];
    let lastEnd: number | null = null;
    for (const event of events) {
      const type = String(event.Event_type);
      // Events about the file, not data: MariaDB writes a checkpoint between transactions.
      if (/^(Format_desc|Previous_gtids|Gtid_list|Binlog_checkpoint|Rotate|Stop)$/.test(type)) continue;
      if (/^(Gtid|Anonymous_Gtid|Gtid_tagged)$/.test(type) && lastEnd !== null) expected.push(lastEnd);
      lastEnd = Number(event.End_log_pos);
    }
    if (lastEnd !== null) expected.push(lastEnd);
    const seen: number[] = [];
    const gtids: Array<string | null> = [];
    const statementLogged: boolean[] = [];
    await walkTransactions(path.join(dir, file), Number.MAX_SAFE_INTEGER, (transaction) => {
      seen.push(transaction.end);
      gtids.push(transaction.gtid);
      statementLogged.push(transaction.statementLogged);
      return false;
    });
    // 2 DDL, the savepoint one, CREATE ... SELECT, the statement-based one, DROP, 3 DDL and one
    // in two databases; MySQL: 2 compressed; MariaDB: the MyISAM table, its insert (logged on
    // its own) and the transaction with a ROLLBACK TO.
    expect(expected.length).toBe(server.flavour === 'mysql' ? 12 : 13);
    if (server.flavour === 'mariadb') expect(events.some((e) => /ROLLBACK TO/i.test(String(e.Info)))).toBe(true);
    expect(seen).toEqual(expected);
    expect(gtids.every((gtid) => gtid !== null)).toBe(true);
    // The fifth is the one written with binlog_format STATEMENT; MySQL logs the rest as rows
    // (MariaDB's MIXED, the default, logs most as statements too).
    expect(statementLogged[4]).toBe(true);
    if (server.flavour === 'mysql') expect(statementLogged.filter(Boolean)).toHaveLength(1);
  });

  it("names each transaction's databases and DDL as the server's own account of them does", async () => {
    const events = await server.query(`SHOW BINLOG EVENTS IN '${file}'`);
    // The server's account, transaction by transaction: each starts with its GTID event.
    const expected: Array<{ databases: Set<string>; ddl: string[]; compressed: boolean }> = [];
    for (const event of events) {
      const type = String(event.Event_type);
      const info = String(event.Info ?? '');
      if (/^(Gtid|Anonymous_Gtid|Gtid_tagged)$/.test(type)) {
        expected.push({ databases: new Set(), ddl: [], compressed: false });
        continue;
      }
      const current = expected.at(-1);
      if (!current) continue;
      if (type === 'Transaction_payload') current.compressed = true;
      if (type === 'Table_map') current.databases.add(/\((.+)\.[^.]+\)$/.exec(info)![1]!);
      if (type !== 'Query' || /^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|XA )/i.test(info)) continue;
      const use = /^use `((?:[^`]|``)+)`; /.exec(info);
      // MySQL prints an atomic DDL's xid after it; the event's statement has none.
      const statement = (use ? info.slice(use[0].length) : info).replace(/ \/\* xid=\d+ \*\/$/, '');
      if (use) current.databases.add(use[1]!.replace(/``/g, '`'));
      // The server logs CREATE DATABASE in the database it creates (for replication's filters), and does not print that.
      const created = /^CREATE DATABASE (\w+)/i.exec(statement);
      if (created) current.databases.add(created[1]!);
      if (!/^(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(statement)) current.ddl.push(statement);
    }
    const seen: Array<{ databases: Set<string>; ddl: string[]; compressed: boolean }> = [];
    await walkTransactions(path.join(dir, file), Number.MAX_SAFE_INTEGER, (transaction) => {
      seen.push({ databases: new Set(transaction.databases), ddl: transaction.ddl.map((d) => d.statement), compressed: transaction.compressed });
      return false;
    });
    expect(seen).toHaveLength(expected.length);
    // A compressed one's inner events are listed by the server, and not read here.
    const readable = (list: typeof seen) => list.map((t) => (t.compressed ? { compressed: true } : t));
    expect(readable(seen)).toEqual(readable(expected));
    // MySQL compresses the transaction, not the CREATE ... SELECT (DDL is never compressed).
    expect(seen.filter((t) => t.compressed)).toHaveLength(server.flavour === 'mysql' ? 1 : 0);
    expect(seen.at(-2)!.ddl).toEqual(['CREATE TABLE other.t (id INT PRIMARY KEY)']);
    expect([...seen.at(-1)!.databases].sort()).toEqual(['edges', 'other']);
  });
});
