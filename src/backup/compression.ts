import { createGunzip, createGzip } from 'node:zlib';
import type { Duplex } from 'node:stream';
import { execa } from 'execa';
import { childEnvironment } from '../child-env.js';
import type { Compression } from '../config/schema.js';
import { UserError } from '../errors.js';
import { BATCH_BYTES } from './chunk-batcher.js';

export const ZSTD_BINARY = 'zstd';

/**
 * How the `zstd` program runs as a stream stage. execa keeps a child's whole stdout for its result
 * unless told not to: with the default, every compressed byte stayed in memory and a stream over
 * 100 MB failed with "maxBuffer exceeded", the output quoted in the message. Only stderr, a few
 * lines at most, is kept for the error.
 */
const ZSTD_STAGE = {
  extendEnv: false,
  buffer: { stdout: false, stderr: true },
  maxBuffer: { stderr: 64 * 1024 },
} as const;

/**
 * The compression stage of the pipeline, or null for none (no stage at all, not a pass-through).
 * gzip runs in-process through zlib; zstd runs as the `zstd` program (Node 20's zlib has no zstd),
 * whose failure surfaces as an error of the returned stream, so the pipeline fails with it.
 */
export function createCompressor(compression: Compression, level: number): Duplex | null {
  switch (compression) {
    case 'none':
      return null;
    case 'gzip':
      return createGzip({ level, chunkSize: BATCH_BYTES });
    case 'zstd':
      return execa(ZSTD_BINARY, ['-q', '-c', `-${level}`], { ...ZSTD_STAGE, env: childEnvironment() }).duplex();
  }
}

/** Fails before the server is loaded when the compressor the config names cannot run. */
export async function checkCompressorAvailable(compression: Compression): Promise<void> {
  if (compression !== 'zstd') return;
  const result = await execa(ZSTD_BINARY, ['--version'], { extendEnv: false, env: childEnvironment(), reject: false });
  if (result.failed) {
    throw new UserError(`BACKUP_COMPRESSION=zstd but the ${ZSTD_BINARY} program cannot run: ${result.shortMessage}`, {
      hint: 'Install zstd (Debian: apt-get install zstd) or choose BACKUP_COMPRESSION=gzip.',
    });
  }
}

/** The compression a stored dump uses, from its name. */
export function compressionOf(fileName: string): Compression {
  if (fileName.endsWith('.gz')) return 'gzip';
  if (fileName.endsWith('.zst')) return 'zstd';
  return 'none';
}

/** The inverse stage for reading a dump back, or null for none. */
export function createDecompressor(compression: Compression): Duplex | null {
  switch (compression) {
    case 'none':
      return null;
    case 'gzip':
      return createGunzip({ chunkSize: BATCH_BYTES });
    case 'zstd':
      return execa(ZSTD_BINARY, ['-d', '-q', '-c'], { ...ZSTD_STAGE, env: childEnvironment() }).duplex();
  }
}
