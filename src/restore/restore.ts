import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { BATCH_BYTES } from '../backup/chunk-batcher.js';
import { compressionOf, createDecompressor } from '../backup/compression.js';
import { childEnvironment } from '../child-env.js';
import { UserError } from '../errors.js';
import { assertSameFamily, type ClientTool, findClientTool } from '../mysql/client-tools.js';
import { describeAddress, describeDriverError, type ServerAddress, waitForServer } from '../mysql/connect.js';
import { withDefaultsFile } from '../mysql/defaults-file.js';
import { readServerInfo } from '../mysql/server-info.js';
import { redact } from '../secret.js';
import { addToGtidPurged, decideGtidPurged, type GtidDecision, type GtidPurgedMode, readTargetGtidState } from './gtid.js';
import { GtidPurgedFilter } from './gtid-purged-filter.js';
import { SchemaFilter } from './schema-filter.js';

/**
 * How the dump is fed to the client: byte for byte (--binary-mode keeps NUL bytes and \r\n as
 * they are), in the character set it was written in, with room for rows as large as the server
 * allows. No --force: the first error stops the restore, and its message is the cause.
 */
const CLIENT_FLAGS = ['--binary-mode', '--default-character-set=utf8mb4', '--max-allowed-packet=1073741824'];

export interface RestoreOptions {
  /** MYSQL_CLIENT_DIR: where the mysql client of the target's family is; undefined: PATH. */
  readonly clientDir: string | undefined;
  /** How long to wait for the target to answer. */
  readonly waitTimeoutMs: number;
  /** --gtid-purged; undefined is auto, and on MariaDB the only choice. */
  readonly gtidPurged: GtidPurgedMode | undefined;
  /** The dump's GTID set, as verification read it from the dump. */
  readonly dumpGtidSet: string | null;
  /** Called once every check has passed, just before the first byte is written, with the GTID decision. */
  readonly onReady?: (decision: GtidDecision) => void;
  readonly onBytes?: (bytes: number, total: number) => void;
  /** Databases whose parts of the dump are left out (schema-filter.ts). */
  readonly skipSchemas?: ReadonlySet<string>;
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
    const decision = decideGtidPurged(options.gtidPurged, options.dumpGtidSet, await readTargetGtidState(connection, server.flavour, options.dumpGtidSet));
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

/**
 * Streams a stored dump, decompressed, into the `mysql` client connected to `target`, with the
 * same secret handling as backups (private defaults file, bare child environment). Throws a
 * UserError carrying the client's stderr when anything fails.
 */
async function streamIntoClient(
  file: string,
  target: ServerAddress,
  clientTool: ClientTool,
  options: { onBytes?: (bytes: number, total: number) => void; skipSchemas?: ReadonlySet<string>; signal?: AbortSignal },
): Promise<void> {
  const total = (await stat(file)).size;
  await withDefaultsFile(target, clientTool.flavour, async (defaultsFile) => {
    const client = execa(clientTool.binary, [`--defaults-file=${defaultsFile}`, ...CLIENT_FLAGS], {
      stdout: 'ignore',
      buffer: { stderr: true },
      maxBuffer: { stderr: 1024 * 1024 },
      extendEnv: false,
      env: childEnvironment(),
      reject: false,
      ...(options.signal ? { cancelSignal: options.signal } : {}),
    });
    const decompressor = createDecompressor(compressionOf(path.basename(file)));
    let read = 0;
    const progress = new Transform({
      transform(chunk: Buffer, _encoding, done: TransformCallback) {
        read += chunk.length;
        options.onBytes?.(read, total);
        done(null, chunk);
      },
    });
    let streamError: Error | undefined;
    try {
      await pipeline([
        createReadStream(file, { highWaterMark: BATCH_BYTES }),
        progress,
        ...(decompressor ? [decompressor] : []),
        new GtidPurgedFilter(),
        ...(options.skipSchemas?.size ? [new SchemaFilter(options.skipSchemas)] : []),
        client.stdin,
      ]);
    } catch (error) {
      streamError = error as Error;
      client.kill();
    }
    const result = await client;
    const stderr = redact(String(result.stderr ?? '').trim(), target.password);
    const where = `restoring ${path.basename(file)} into ${describeAddress(target)}`;
    if (result.isCanceled) throw new UserError(`${where} was cancelled`);
    // A SQL error makes the client exit and the write fail with EPIPE: its stderr is the cause.
    if (result.exitCode !== 0) {
      throw new UserError(`${where} failed: the mysql client ${result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`}${stderr ? `:\n${stderr}` : ''}`);
    }
    if (streamError) throw new UserError(`${where} failed: ${streamError.message}`);
  });
}
