import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Connection } from 'mysql2/promise';
import { BATCH_BYTES } from '../backup/chunk-batcher.js';
import { compressionOf, createDecompressor } from '../backup/compression.js';
import { UserError } from '../errors.js';
import { assertSameFamily, type ClientTool, findClientTool } from '../mysql/client-tools.js';
import { describeAddress, describeDriverError, type ServerAddress, waitForServer } from '../mysql/connect.js';
import { readServerInfo, type ServerInfo } from '../mysql/server-info.js';
import { feedClient } from './client-feed.js';
import { addToGtidPurged, decideGtidPurged, type GtidDecision, type GtidPurgedMode, readTargetGtidState } from './gtid.js';
import { GtidPurgedFilter } from './gtid-purged-filter.js';
import { type SchemaChoice, SchemaFilter } from './schema-filter.js';

export interface RestoreOptions {
  /** MYSQL_CLIENT_DIR: where the mysql client of the target's family is; undefined: PATH. */
  readonly clientDir: string | undefined;
  /** How long to wait for the target to answer. */
  readonly waitTimeoutMs: number;
  /** --gtid-purged; undefined is auto, and on MariaDB the only choice. */
  readonly gtidPurged: GtidPurgedMode | undefined;
  /** The dump's GTID set, as verification read it from the dump. */
  readonly dumpGtidSet: string | null;
  /** Checks of its own on the target, before anything is written (the binlog replay's GTID decision). */
  readonly prepare?: (connection: Connection, server: ServerInfo) => Promise<void>;
  /** Called once every check has passed, just before the first byte is written, with the GTID decision. */
  readonly onReady?: (decision: GtidDecision) => void;
  readonly onBytes?: (bytes: number, total: number) => void;
  /** More SQL for the same client session once the dump is in: the binlog replay of a restore to a point. */
  readonly then?: () => AsyncIterable<Buffer>;
  /** Which databases of the dump are restored, and whether each is dropped first (schema-filter.ts). */
  readonly schemas?: SchemaChoice;
  /** One part of the dump ("database shop", "table shop.orders"), not the whole server: the dump's GTID set does not describe what the target then holds. */
  readonly part?: string;
  readonly signal?: AbortSignal;
}

/**
 * Restores a stored dump into `target`: checks that the mysql client is of the target's family
 * and decides what becomes of the dump's GTID set (gtid.ts), both before anything is written;
 * streams the dump in; then, when so decided, adds the set to the target's gtid_purged.
 */
export async function restoreDump(file: string, target: ServerAddress, options: RestoreOptions): Promise<GtidDecision> {
  const client = await findClientTool('mysql', options.clientDir);
  const where = describeAddress(target);
  // Kept open through the restore: a dump restores the mysql schema, and with it maybe another
  // password for this very account, but an open session keeps its login and global privileges.
  const connection = await waitForServer(target, { timeoutMs: options.waitTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
  try {
    const server = await readServerInfo(connection);
    assertSameFamily(client, server, `the target ${where}`);
    const decision: GtidDecision = options.part
      ? {
          action: 'none',
          gtidSet: options.dumpGtidSet,
          reason: `only ${options.part} is restored: the dump's GTID set stands for the whole server and is not added to gtid_purged`,
        }
      : decideGtidPurged(options.gtidPurged, options.dumpGtidSet, await readTargetGtidState(connection, server.flavour, options.dumpGtidSet));
    await options.prepare?.(connection, server);
    options.onReady?.(decision);
    await streamIntoClient(file, target, client, options);
    if (decision.action === 'apply') {
      await addToGtidPurged(connection, decision.gtidSet).catch((error: unknown) => {
        throw new UserError(
          `${path.basename(file)} was restored into ${where}, but adding its GTID set to gtid_purged failed: ${describeDriverError(error)}`,
          { hint: `As an administrator on the target: SET @@GLOBAL.gtid_purged = '+${decision.gtidSet}';` },
        );
      });
    }
    return decision;
  } finally {
    await connection.end().catch(() => undefined);
  }
}

/** A stored dump, decompressed and with its GTID statement taken out, into the client. */
async function streamIntoClient(
  file: string,
  target: ServerAddress,
  clientTool: ClientTool,
  options: { onBytes?: (bytes: number, total: number) => void; then?: () => AsyncIterable<Buffer>; schemas?: SchemaChoice; signal?: AbortSignal },
): Promise<void> {
  const total = (await stat(file)).size;
  const decompressor = createDecompressor(compressionOf(path.basename(file)));
  let read = 0;
  const progress = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      read += chunk.length;
      options.onBytes?.(read, total);
      done(null, chunk);
    },
  });
  const dump = new PassThrough({ highWaterMark: BATCH_BYTES });
  // A failure on the way destroys `dump` with it, and so reaches the client feed.
  pipeline([
    createReadStream(file, { highWaterMark: BATCH_BYTES }),
    progress,
    ...(decompressor ? [decompressor] : []),
    new GtidPurgedFilter(),
    ...(options.schemas ? [new SchemaFilter(options.schemas)] : []),
    dump,
  ]).catch(() => undefined);
  const { then } = options;
  const sql = then
    ? Readable.from(
        (async function* () {
          yield* dump as AsyncIterable<Buffer>;
          yield* then();
        })(),
      )
    : dump;
  await feedClient(target, clientTool, sql, [], `restoring ${path.basename(file)}${then ? ' and its binary logs' : ''} into ${describeAddress(target)}`, options.signal);
}
