import { randomUUID } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * What /health must still know after a restart and cannot read from the dumps: the failures
 * since the last good run, and a run that was in flight when the process ended. Without it a
 * crash loop hides itself: every new process starts with a clean slate. Kept in BACKUP_DIR as
 * `.mysql-backup-sidecar.state.json`, replaced whole (write, fsync, rename) so a crash never
 * leaves half a file; best effort, since a full volume must not stop the daemon.
 */
export interface RunState {
  readonly formatVersion: 1;
  readonly consecutiveFailures: number;
  readonly lastFailure: { readonly at: string; readonly cause: string } | null;
  readonly runInFlight: { readonly runId: string; readonly startedAt: string } | null;
}

export const RUN_STATE_FILE = '.mysql-backup-sidecar.state.json';
/** The temporary names a write goes through; start-up hygiene removes those a kill left. */
export const RUN_STATE_TEMPORARY = /^\.mysql-backup-sidecar\.state\.json\.[0-9a-f-]+\.tmp$/;

/** The state, or null when there is none or it is not one this release wrote whole: then the daemon starts clean. */
export async function readRunState(dir: string): Promise<RunState | null> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, RUN_STATE_FILE), 'utf8')) as unknown;
    return isRunState(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function isRunState(value: unknown): value is RunState {
  const state = value as Partial<RunState> | null;
  const isTime = (text: unknown) => typeof text === 'string' && Number.isFinite(Date.parse(text));
  const failure = state?.lastFailure;
  const run = state?.runInFlight;
  return (
    state?.formatVersion === 1 &&
    Number.isSafeInteger(state.consecutiveFailures) &&
    state.consecutiveFailures! >= 0 &&
    (failure === null || (typeof failure === 'object' && isTime(failure?.at) && typeof failure?.cause === 'string')) &&
    (run === null || (typeof run === 'object' && typeof run?.runId === 'string' && isTime(run?.startedAt)))
  );
}

/** Resolves false when the state could not be written (a full or read-only volume). */
export async function writeRunState(dir: string, state: RunState): Promise<boolean> {
  const file = path.join(dir, RUN_STATE_FILE);
  const temporary = `${file}.${randomUUID()}.tmp`;
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(state)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
    return true;
  } catch {
    await unlink(temporary).catch(() => undefined);
    return false;
  }
}
