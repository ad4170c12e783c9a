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
import { describeAddress, type ServerAddress } from '../mysql/connect.js';
import { withDefaultsFile } from '../mysql/defaults-file.js';
import { redact } from '../secret.js';

export const CLIENT_BINARY = 'mysql';

/**
 * How the dump is fed to the client: byte for byte (--binary-mode keeps NUL bytes and \r\n as
 * they are), in the character set it was written in, with room for rows as large as the server
 * allows. No --force: the first error stops the restore, and its message is the cause.
 */
const CLIENT_FLAGS = ['--binary-mode', '--default-character-set=utf8mb4', '--max-allowed-packet=1073741824'];

/**
 * Streams a stored dump, decompressed, into the `mysql` client connected to `target`, with the
 * same secret handling as backups (private defaults file, bare child environment). Throws a
 * UserError carrying the client's stderr when anything fails.
 */
export async function restoreDump(
  file: string,
  target: ServerAddress,
  options: { onBytes?: (bytes: number, total: number) => void; signal?: AbortSignal; clientBinary?: string } = {},
): Promise<void> {
  const total = (await stat(file)).size;
  await withDefaultsFile(target, async (defaultsFile) => {
    const client = execa(options.clientBinary ?? CLIENT_BINARY, [`--defaults-file=${defaultsFile}`, ...CLIENT_FLAGS], {
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
      await pipeline([createReadStream(file, { highWaterMark: BATCH_BYTES }), progress, ...(decompressor ? [decompressor] : []), client.stdin]);
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
