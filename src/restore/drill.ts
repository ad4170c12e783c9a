import path from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { verifyBackup } from '../backup/verify.js';
import type { EventSink } from '../events.js';
import { describeAddress, waitForServer, type ServerAddress } from '../mysql/connect.js';
import { quoteIdentifier } from '../mysql/identifier.js';
import { restoreDump } from './restore.js';
import { SYSTEM_SCHEMAS } from './schema-filter.js';

/**
 * Schemas the server owns: neither restored nor checked. The dump's `mysql` schema holds
 * production's accounts; restored (and flushed, as the dump does) into the scratch server it
 * would replace the drill's own account, and the drill could not log in again to check its
 * tables, nor the next drill at all.
 */

export interface TableCheck {
  readonly database: string;
  readonly table: string;
  readonly expectedRows: number;
  readonly actualRows: number | null;
  readonly checkTable: string | null;
  readonly ok: boolean;
}

export interface DrillReport {
  readonly file: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly restoreMs: number;
  readonly tables: readonly TableCheck[];
}

export interface DrillOptions {
  readonly onStage?: (stage: 'verify' | 'restore' | 'check') => void;
  readonly waitTimeoutMs: number;
  /** MYSQL_CLIENT_DIR: the mysql client of the scratch server's family. */
  readonly clientDir: string | undefined;
  readonly signal?: AbortSignal;
}

/**
 * Proves a backup restores without touching production: verify it (counting each table's rows
 * in the dump), restore it into a scratch server, then check that every user table exists there,
 * passes CHECK TABLE and holds exactly the rows the dump holds.
 */
export async function runDrill(
  file: string,
  target: ServerAddress,
  options: DrillOptions,
): Promise<DrillReport> {
  options.onStage?.('verify');
  const verification = await verifyBackup(file);
  if (!verification.ok) return { file, ok: false, problems: verification.problems.map((p) => `verify: ${p}`), restoreMs: 0, tables: [] };

  options.onStage?.('restore');
  const began = Date.now();
  // GTIDs as restore's auto decides: the first drill into a scratch server takes the dump's set,
  // later ones find it there and leave it, so a scheduled drill passes every time.
  await restoreDump(file, target, {
    clientDir: options.clientDir,
    waitTimeoutMs: options.waitTimeoutMs,
    gtidPurged: undefined,
    dumpGtidSet: verification.binlog?.gtid ?? null,
    schemas: { include: (database) => !SYSTEM_SCHEMAS.has(database) },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const restoreMs = Date.now() - began;

  options.onStage?.('check');
  const connection = await waitForServer(target, { timeoutMs: options.waitTimeoutMs });
  const tables: TableCheck[] = [];
  try {
    for (const { database, table, rows } of verification.tables) {
      if (SYSTEM_SCHEMAS.has(database)) continue;
      const name = `${quoteIdentifier(database)}.${quoteIdentifier(table)}`;
      const [exists] = await connection.query<RowDataPacket[]>(
        'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
        [database, table],
      );
      if (Number(exists[0]?.n) === 0) {
        tables.push({ database, table, expectedRows: rows, actualRows: null, checkTable: null, ok: false });
        continue;
      }
      const [check] = await connection.query<RowDataPacket[]>(`CHECK TABLE ${name}`);
      const verdict = String(check.at(-1)?.Msg_text ?? '');
      const [count] = await connection.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${name}`);
      const actualRows = Number(count[0]?.n);
      tables.push({ database, table, expectedRows: rows, actualRows, checkTable: verdict, ok: verdict === 'OK' && actualRows === rows });
    }
  } finally {
    await connection.end().catch(() => undefined);
  }
  const problems = tables
    .filter((t) => !t.ok)
    .map((t) =>
      t.actualRows === null
        ? `${t.database}.${t.table} is missing after the restore`
        : `${t.database}.${t.table}: CHECK TABLE says ${t.checkTable}; ${t.actualRows} rows, the dump holds ${t.expectedRows}`,
    );
  if (tables.length === 0) problems.push('the dump holds no user tables to check');
  return { file, ok: problems.length === 0, problems, restoreMs, tables };
}

/**
 * A drill as the command and the daemon run it: started/succeeded/failed events around runDrill,
 * with a failure to restore reported as the drill's problem rather than thrown.
 */
export async function drillWithEvents(
  file: string,
  target: ServerAddress,
  emit: EventSink,
  options: DrillOptions & { runId?: string },
): Promise<DrillReport> {
  const base = { ...(options.runId ? { runId: options.runId } : {}), file: path.basename(file), target: describeAddress(target) };
  emit({ type: 'drill.started', ...base });
  const began = Date.now();
  let report: DrillReport;
  try {
    report = await runDrill(file, target, options);
  } catch (error) {
    report = { file, ok: false, problems: [(error as Error).message], restoreMs: 0, tables: [] };
  }
  const durationMs = Date.now() - began;
  if (report.ok) emit({ type: 'drill.succeeded', ...base, tables: report.tables.length, durationMs });
  else emit({ type: 'drill.failed', ...base, problems: report.problems, durationMs });
  return report;
}
