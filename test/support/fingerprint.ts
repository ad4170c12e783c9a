import type { RowDataPacket } from 'mysql2/promise';
import type { TestServer } from './mysql-server.js';

const SYSTEM_SCHEMAS = "('mysql', 'information_schema', 'performance_schema', 'sys')";

/**
 * What a restore must reproduce, read from the server itself: a checksum of every user table,
 * and the definitions of routines, triggers, events and views, plus the accounts. Two servers
 * with equal fingerprints hold the same data as far as a user can tell.
 */
export async function fingerprint(server: TestServer): Promise<Record<string, unknown>> {
  const tables = await server.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, ENGINE AS engine FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ORDER BY s, t`,
  );
  const checksums: Record<string, unknown> = {};
  for (const { s, t, engine } of tables) {
    const [row] = await server.query(`CHECKSUM TABLE \`${s}\`.\`${t.replace(/`/g, '``')}\``);
    const [count] = await server.query(`SELECT COUNT(*) AS n FROM \`${s}\`.\`${t.replace(/`/g, '``')}\``);
    checksums[`${s}.${t}`] = { engine, checksum: String(row?.Checksum), rows: Number(count?.n) };
  }
  const rows = async (sql: string) => (await server.query<RowDataPacket[]>(sql)).map((r) => ({ ...r }));
  return {
    tables: checksums,
    routines: await rows(
      `SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, DTD_IDENTIFIER, IS_DETERMINISTIC
         FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ORDER BY 1, 2`,
    ),
    triggers: await rows(
      `SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_TIMING, ACTION_STATEMENT
         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ORDER BY 1, 2`,
    ),
    events: await rows(
      `SELECT EVENT_SCHEMA, EVENT_NAME, EVENT_DEFINITION, INTERVAL_VALUE, INTERVAL_FIELD, STARTS, STATUS
         FROM information_schema.EVENTS ORDER BY 1, 2`,
    ),
    views: await rows(
      `SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS
        WHERE TABLE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ORDER BY 1, 2`,
    ),
    accounts: await rows('SELECT User, Host FROM mysql.user ORDER BY 1, 2'),
  };
}

/** A fingerprint without one database's tables, routines, triggers, events and views; or (keep) with only those. */
export function withoutDatabase(print: Record<string, unknown>, database: string, { keep = false } = {}): Record<string, unknown> {
  const inIt = (schema: unknown) => (schema === database) === keep;
  return Object.fromEntries(
    Object.entries(print).map(([key, value]) => {
      if (key === 'accounts') return [key, keep ? [] : value];
      if (Array.isArray(value)) return [key, value.filter((row: Record<string, unknown>) => inIt(row.ROUTINE_SCHEMA ?? row.TRIGGER_SCHEMA ?? row.EVENT_SCHEMA ?? row.TABLE_SCHEMA))];
      return [key, Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([name]) => inIt(name.slice(0, name.indexOf('.')))))];
    }),
  );
}

/** A fingerprint as JSON has it: dates as strings, as after renamed(). */
export const asJson = (print: Record<string, unknown>) => JSON.parse(JSON.stringify(print)) as Record<string, unknown>;

/** A fingerprint (as JSON has it) with every mention of one database name made another's. */
export function renamed(print: Record<string, unknown>, from: string, to: string): Record<string, unknown> {
  return JSON.parse(JSON.stringify(print).replaceAll(from, to)) as Record<string, unknown>;
}
