import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What /health must still know after a restart and cannot read from the dumps: the failures
 * since the last good run, and a run that was in flight when the process ended. Without it a
 * crash loop hides itself: every new process starts with a clean slate. Kept in BACKUP_DIR as
 * `.mysql-backup-sidecar.state.json`, replaced whole (write, then rename) so a crash never leaves
 * half a file; best effort, since a full volume must not stop the daemon.
 */
export interface RunState {
  readonly formatVersion: 1;
  readonly consecutiveFailures: number;
  readonly lastFailure: { readonly at: string; readonly cause: string } | null;
  readonly runInFlight: { readonly runId: string; readonly startedAt: string } | null;
}

export const RUN_STATE_FILE = '.mysql-backup-sidecar.state.json';

export async function readRunState(dir: string): Promise<RunState | null> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, RUN_STATE_FILE), 'utf8')) as Partial<RunState>;
    return parsed.formatVersion === 1 && typeof parsed.consecutiveFailures === 'number' ? (parsed as RunState) : null;
  } catch {
    return null;
  }
}

/** Resolves false when the state could not be written (a full or read-only volume). */
export async function writeRunState(dir: string, state: RunState): Promise<boolean> {
  const file = path.join(dir, RUN_STATE_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(state)}\n`, { mode: 0o600 });
    await rename(temporary, file);
    return true;
  } catch {
    return false;
  }
}
