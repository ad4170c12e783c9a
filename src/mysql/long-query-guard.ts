import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mysql2/promise';
import { formatDuration, formatElapsed } from '../config/duration.js';
import { UserError } from '../errors.js';
import { queryWithTimeout } from './connect.js';

/** A statement that has run for a while; never its text, which may hold anything, secrets too. */
export interface LongQuery {
  readonly id: number;
  readonly user: string;
  readonly host: string;
  readonly db: string | null;
  readonly seconds: number;
  readonly state: string | null;
}

/** Statements running for at least `seconds`, but for this session and the server's own threads. */
async function findLongQueries(connection: Connection, seconds: number): Promise<LongQuery[]> {
  const [rows] = await queryWithTimeout(
    connection,
    `SELECT ID AS id, USER AS user, HOST AS host, DB AS db, TIME AS seconds, STATE AS state
       FROM information_schema.PROCESSLIST
      WHERE COMMAND IN ('Query', 'Execute') AND TIME >= ? AND ID <> CONNECTION_ID()
        AND USER NOT IN ('system user', 'event_scheduler')
      ORDER BY TIME DESC`,
    [seconds],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    user: String(row.user),
    host: String(row.host),
    db: row.db === null ? null : String(row.db),
    seconds: Number(row.seconds),
    state: row.state === null ? null : String(row.state),
  }));
}

export const describeLongQuery = (q: LongQuery) =>
  `id ${q.id} (${q.user}@${q.host}${q.db ? `, database ${q.db}` : ''}) running for ${formatElapsed(q.seconds * 1000)}`;

/** How often the guard looks again while it waits, and how often it says it still waits. */
const RECHECK_MS = 2_000;
const REPORT_EVERY_MS = 60_000;

/**
 * The long-query guard, as mydumper's --long-query-guard and XtraBackup's --ftwrl-wait-timeout
 * do it. FLUSH TABLES WITH READ LOCK waits for every running statement, and while it waits every
 * new statement on those tables waits behind it; even a lock wait that times out leaves them
 * waiting until the long statement ends (measured on MySQL 9.7). So the dump does not start while
 * a statement has run longer than `thresholdSeconds`: the run waits for it, looking again every
 * two seconds, and fails once `waitLimitMs` has passed, naming what it waited for.
 */
export async function waitOutLongQueries(
  connection: Connection,
  options: {
    thresholdSeconds: number;
    waitLimitMs: number;
    onWaiting: (queries: readonly LongQuery[], waitedMs: number) => void;
    signal?: AbortSignal | undefined;
  },
): Promise<void> {
  const began = Date.now();
  let reportedAt = -Infinity;
  for (;;) {
    options.signal?.throwIfAborted();
    const queries = await findLongQueries(connection, options.thresholdSeconds);
    if (queries.length === 0) return;
    const waitedMs = Date.now() - began;
    if (waitedMs >= options.waitLimitMs) {
      throw new UserError(
        `the dump did not start: ${queries.length === 1 ? 'a statement has' : `${queries.length} statements have`} run longer than ` +
          `BACKUP_LONG_QUERY_GUARD (${formatDuration(options.thresholdSeconds * 1000)}) for all of the ${formatElapsed(waitedMs)} ` +
          `this run waited: ${queries.map(describeLongQuery).join('; ')}. mysqldump's FLUSH TABLES WITH READ LOCK would queue ` +
          'behind them and stall every statement on those tables until they end',
        {
          hint: 'Let them finish or stop them (KILL QUERY <id>), run backups when no long reports run, or raise BACKUP_LONG_QUERY_GUARD.',
        },
      );
    }
    if (waitedMs - reportedAt >= REPORT_EVERY_MS) {
      reportedAt = waitedMs;
      options.onWaiting(queries, waitedMs);
    }
    await sleep(Math.min(RECHECK_MS, options.waitLimitMs - waitedMs), undefined, options.signal ? { signal: options.signal } : {});
  }
}
