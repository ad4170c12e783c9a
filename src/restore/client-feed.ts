import type { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { childEnvironment } from '../child-env.js';
import { UserError } from '../errors.js';
import type { ClientTool } from '../mysql/client-tools.js';
import type { ServerAddress } from '../mysql/connect.js';
import { withDefaultsFile } from '../mysql/defaults-file.js';
import { redact } from '../secret.js';

/**
 * How SQL is fed to the client: byte for byte (--binary-mode keeps NUL bytes and \r\n as they
 * are), in the character set it was written in, with room for rows as large as the server
 * allows. No --force: the first error stops the restore, and its message is the cause.
 */
const CLIENT_FLAGS = ['--binary-mode', '--default-character-set=utf8mb4', '--max-allowed-packet=1073741824'];

/**
 * Streams `source` through `stages` into the `mysql` client connected to `target`, with the
 * same secret handling as backups (private defaults file, bare child environment). Throws a
 * UserError naming `what` and carrying the client's stderr when anything fails.
 */
export async function feedClient(
  target: ServerAddress,
  clientTool: ClientTool,
  source: Readable,
  stages: readonly Duplex[],
  what: string,
  signal?: AbortSignal,
): Promise<void> {
  await withDefaultsFile(target, clientTool.flavour, async (defaultsFile) => {
    const client = execa(clientTool.binary, [`--defaults-file=${defaultsFile}`, ...CLIENT_FLAGS], {
      stdout: 'ignore',
      buffer: { stderr: true },
      maxBuffer: { stderr: 1024 * 1024 },
      extendEnv: false,
      env: childEnvironment(),
      reject: false,
      ...(signal ? { cancelSignal: signal } : {}),
    });
    let streamError: Error | undefined;
    try {
      await pipeline([source, ...stages, client.stdin as Writable]);
    } catch (error) {
      streamError = error as Error;
      client.kill();
    }
    const result = await client;
    const stderr = redact(String(result.stderr ?? '').trim(), target.password);
    if (result.isCanceled) throw new UserError(`${what} was cancelled`);
    // What we fed failed first (mysqlbinlog, a corrupt dump) and we stopped the client: that is the cause.
    if (streamError && result.isTerminated) throw new UserError(`${what} failed: ${streamError.message}`);
    // A SQL error makes the client exit and the write fail with EPIPE: its stderr is the cause.
    if (result.exitCode !== 0) {
      throw new UserError(`${what} failed: the mysql client ${result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`}${stderr ? `:\n${stderr}` : ''}`);
    }
    if (streamError) throw new UserError(`${what} failed: ${streamError.message}`);
  });
}
