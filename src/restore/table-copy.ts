import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { execa } from 'execa';
import type { Connection } from 'mysql2/promise';
import { childEnvironment } from '../child-env.js';
import { UserError } from '../errors.js';
import { findClientTool } from '../mysql/client-tools.js';
import { describeAddress, describeDriverError, queryWithTimeout, type ServerAddress, waitForServer } from '../mysql/connect.js';
import { withDefaultsFile } from '../mysql/defaults-file.js';
import { quoteIdentifier } from '../mysql/identifier.js';
import { redact } from '../secret.js';
import { feedClient } from './client-feed.js';


/**
 * The database `restore --table T` with a target rolls the table's database forward in, beside
 * the original: mysqlbinlog picks transactions by database, so the whole database goes there,
 * and only the table comes back out. Named for the original, and unlike any name in use.
 */
export function scratchDatabaseName(database: string): string {
  const suffix = `_restoring_${randomBytes(3).toString('hex')}`;
  return `${[...database].slice(0, 64 - suffix.length).join('')}${suffix}`;
}

export interface TableCopy {
  readonly scratch: string;
  readonly database: string;
  readonly table: string;
  readonly clientDir: string | undefined;
  readonly waitTimeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * Puts table `table` of database `scratch` over the one in `database`, then drops `scratch`:
 * one table's mysqldump piped into mysql, as a person would do it. The dump holds its DROP TABLE
 * IF EXISTS, structure, rows and triggers, with foreign key checks off meanwhile; a foreign key
 * to a table of its own database is written without the database, so it points at the
 * original's. The copy goes into the target's binary log, like any change made to it. A failure
 * leaves `scratch` where it is: it holds the table as it was at the point.
 */
export async function copyTableFromScratch(target: ServerAddress, copy: TableCopy): Promise<void> {
  const { scratch, database, table } = copy;
  const connection = await waitForServer(target, { timeoutMs: copy.waitTimeoutMs, ...(copy.signal ? { signal: copy.signal } : {}) });
  try {
    const [rows] = await queryWithTimeout(connection, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [scratch, table]);
    if (rows.length === 0) {
      await dropScratch(connection, scratch, 'nothing was copied');
      throw new UserError(`database ${database} had no table ${table} at the point: nothing was changed`, { exitCode: 2 });
    }
    const client = await findClientTool('mysql', copy.clientDir);
    const dumper = await findClientTool('mysqldump', copy.clientDir);
    await withDefaultsFile(target, dumper.flavour, async (defaultsFile) => {
      const dump = execa(
        dumper.binary,
        [
          `--defaults-file=${defaultsFile}`,
          '--single-transaction',
          '--quick',
          '--lock-tables=false',
          '--triggers',
          '--hex-blob',
          '--no-tablespaces',
          '--default-character-set=utf8mb4',
          '--max-allowed-packet=1073741824',
          // No SET @@GLOBAL.GTID_PURGED, and no SQL_LOG_BIN=0: the copy is a change like any other.
          ...(dumper.flavour === 'mysql' ? ['--set-gtid-purged=OFF'] : []),
          scratch,
          table,
        ],
        { stdout: 'pipe', buffer: { stdout: false, stderr: true }, maxBuffer: { stderr: 1024 * 1024 }, extendEnv: false, env: childEnvironment(), reject: false },
      );
      // Piped at once: execa (buffer off) lets go of output nobody reads yet (replay.ts).
      const tableSql = dump.stdout.pipe(new PassThrough());
      const sql = Readable.from(
        (async function* () {
          yield Buffer.from(`USE ${quoteIdentifier(database)};\n`);
          yield* tableSql as AsyncIterable<Buffer>;
        })(),
      );
      let fed: unknown;
      try {
        await feedClient(target, client, sql, [], `copying table ${table} from ${scratch} into ${database} on ${describeAddress(target)}`, copy.signal);
      } catch (error) {
        // The client stopped reading: mysqldump would wait on its pipe for ever.
        fed = error;
        dump.kill();
      }
      const result = await dump;
      if (fed) throw fed;
      // Its output ended early, and what came through went in: the scratch copy is still whole.
      if (result.exitCode !== 0) {
        const stderr = redact(String(result.stderr ?? '').trim(), target.password);
        throw new UserError(`mysqldump of ${scratch}.${table} failed (exit code ${result.exitCode})${stderr ? `:\n${stderr}` : ''}`);
      }
    }).catch((error: unknown) => {
      throw new UserError(`${(error as Error).message}\n${scratch} holds ${database} as it was at the point, and is left as it is`, {
        hint: `Copy the table by hand: mysqldump ${scratch} ${table} | mysql ${database}; then DROP DATABASE ${quoteIdentifier(scratch)}.`,
      });
    });
    await dropScratch(connection, scratch, 'the table is back');
  } finally {
    await connection.end().catch(() => undefined);
  }
}

async function dropScratch(connection: Connection, scratch: string, outcome: string): Promise<void> {
  // No query timeout: dropping a large database takes as long as it takes.
  await connection.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratch)}`).catch((error: unknown) => {
    throw new UserError(`${outcome}, but dropping the scratch database ${scratch} failed: ${describeDriverError(error)}`, {
      hint: `Drop it by hand: DROP DATABASE ${quoteIdentifier(scratch)};`,
    });
  });
}
