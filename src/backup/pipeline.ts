import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { childEnvironment } from '../child-env.js';
import type { Compression } from '../config/schema.js';
import { ChunkBatcher } from './chunk-batcher.js';
import { createCompressor } from './compression.js';
import { DigestTap } from './digest-tap.js';
import { DumpInspector } from './dump-inspector.js';
import type { PartialDump } from './store.js';
import type { PipelineOutcome } from './verdict.js';

export interface DumpPipelineOptions {
  readonly binary: string;
  readonly args: readonly string[];
  readonly compression: Compression;
  readonly compressionLevel: number;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

export interface DumpPipelineResult {
  readonly outcome: PipelineOutcome;
  readonly sha256: string;
  readonly storedBytes: number;
}

/** Grace between SIGTERM and SIGKILL when mysqldump must stop (timeout, cancel, failed write). */
const DUMP_KILL_GRACE_MS = 5_000;
/** mysqldump's stderr is a few lines; more than this is kept only in part. */
const STDERR_LIMIT_BYTES = 1024 * 1024;

/**
 * One run as one stream: mysqldump's stdout -> 1 MiB batches -> inspect (count, trailer, binlog
 * position) -> compress (-> batches again, after zstd) -> hash -> the partial file. The dump is
 * never held in memory beyond a few batches, and every stage's result is collected for the
 * verdict, not only mysqldump's.
 */
export async function runDumpPipeline(partial: PartialDump, options: DumpPipelineOptions): Promise<DumpPipelineResult> {
  const dump = execa(options.binary, options.args, {
    stdin: 'ignore',
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: STDERR_LIMIT_BYTES },
    extendEnv: false,
    env: childEnvironment(),
    reject: false,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    forceKillAfterDelay: DUMP_KILL_GRACE_MS,
  });
  const inspector = new DumpInspector();
  const digest = new DigestTap();
  const compressor = createCompressor(options.compression, options.compressionLevel);
  const stages = compressor ? [inspector, compressor, new ChunkBatcher(), digest] : [inspector, digest];

  // mysqldump's stdout is piped into the pipeline rather than made part of it: a failing later
  // stage (zstd killed, a full disk) must not be pushed back into execa's own stdout handling,
  // where execa 9 then fails to build mysqldump's result and the real cause is lost.
  const source = new ChunkBatcher();
  dump.stdout.pipe(source);
  let writeError: Error | undefined;
  try {
    await pipeline([source, ...stages, partial.stream]);
  } catch (error) {
    writeError = error as Error;
    dump.stdout.unpipe(source);
    // mysqldump would otherwise block on a pipe nobody reads.
    dump.kill();
    dump.stdout.resume();
  }
  const result = await dump;
  const spawned = result.exitCode !== undefined || result.signal !== undefined;
  return {
    outcome: {
      dump: {
        exitCode: result.exitCode,
        signal: result.signal,
        timedOut: result.timedOut,
        cancelled: result.isCanceled,
        stderr: String(result.stderr ?? ''),
        spawnError: spawned ? undefined : result.shortMessage,
      },
      writeError,
      inspection: inspector.result(),
      timeoutMs: options.timeoutMs,
    },
    sha256: digest.digest(),
    storedBytes: digest.bytes,
  };
}
