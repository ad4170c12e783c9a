import { formatDuration } from '../config/duration.js';
import type { DumpInspection } from './dump-inspector.js';

/** What the run knows once every stage of the pipeline has settled. */
export interface PipelineOutcome {
  readonly dump: {
    readonly exitCode: number | undefined;
    readonly signal: string | undefined;
    readonly timedOut: boolean;
    readonly cancelled: boolean;
    readonly stderr: string;
    /** Set when mysqldump could not be started at all. */
    readonly spawnError: string | undefined;
  };
  /** The first error of the compress/hash/write stages, if any. */
  readonly writeError: Error | undefined;
  readonly inspection: DumpInspection;
  readonly timeoutMs: number;
}

export type Verdict =
  | { readonly ok: true; readonly warnings: readonly string[] }
  | {
      readonly ok: false;
      readonly cause: string;
      readonly stderr: string;
      readonly warnings: readonly string[];
      readonly hint?: string;
    };

/**
 * Success is decided here and nowhere else: mysqldump exited 0, printed no error, its output ends
 * with the "-- Dump completed" trailer, and every later stage (compression, hashing, the file
 * write) finished without error. Anything else fails, with the most specific cause first.
 */
export function judgePipeline(outcome: PipelineOutcome): Verdict {
  const { dump, writeError, inspection } = outcome;
  const { warnings, errors } = splitStderr(dump.stderr);
  const fail = (cause: string, hint?: string): Verdict => ({
    ok: false,
    cause,
    stderr: errors.join('\n'),
    warnings,
    ...(hint ? { hint } : {}),
  });

  if (dump.spawnError) return fail(`mysqldump could not be started: ${dump.spawnError}`);
  if (dump.timedOut) return fail(`mysqldump did not finish within BACKUP_TIMEOUT (${formatDuration(outcome.timeoutMs)}) and was stopped`);
  if (dump.cancelled) return fail('the run was cancelled before the dump finished (shutdown)');
  // A failed write kills mysqldump with EPIPE, so the write error is the cause, not the exit code.
  if (writeError) {
    const full = ['ENOSPC', 'EDQUOT'].includes((writeError as NodeJS.ErrnoException).code ?? '');
    return fail(
      `writing the dump failed: ${writeError.message}`,
      full ? 'The backup volume is full: free space on it, or shorten BACKUP_RETENTION.' : undefined,
    );
  }
  if (dump.signal) return fail(`mysqldump was killed by ${dump.signal}`);
  if (dump.exitCode !== 0) return fail(`mysqldump exited with code ${dump.exitCode}${errors.length ? `: ${errors[0]}` : ''}`);
  if (errors.length > 0) return fail(`mysqldump reported an error: ${errors[0]}`);
  if (!inspection.completed) return fail('the dump does not end with mysqldump\'s "-- Dump completed" trailer: the output is incomplete');
  return { ok: true, warnings };
}

/**
 * mysqldump gave up waiting for its global read lock or the flush before it (lock_wait_timeout,
 * which the long-query guard sets). Transient on a busy server: a transaction between statements whose row another
 * writer waits on forms a cycle with the pending lock that only the timeout breaks (README, the
 * global read lock), and the next attempt seconds later usually meets no such moment.
 */
export function isGlobalReadLockTimeout(verdict: Verdict): boolean {
  // Its FLUSH TABLES before the lock waits the same way, behind a session's LOCK TABLES.
  return !verdict.ok && /Couldn't execute 'FLUSH [^']*TABLES[^']*': Lock wait timeout exceeded/i.test(verdict.stderr);
}

/** mysqldump prints warnings (deprecations, GTID notes) and errors on the same stream. */
export function splitStderr(stderr: string): { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const line of stderr.split('\n').map((l) => l.trim()).filter(Boolean)) {
    (/\b(warning|deprecated)\b/i.test(line) ? warnings : errors).push(line);
  }
  return { warnings, errors };
}
