import { readdir, rm, statfs, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULTS_DIR_PREFIX } from '../mysql/defaults-file.js';
import { RUN_STATE_TEMPORARY } from '../run-state.js';
import { readInventory } from './inventory.js';

/**
 * What a kill -9 can leave behind, and how the next start finds it: `.partial` files, sidecars
 * whose dump is gone and half-written run state in BACKUP_DIR (names only this program
 * writes), and private credentials
 * directories in the temporary directory whose owning process is gone.
 * Call only while no run of this process is in flight.
 */
export async function removeLeftovers(dir: string, tmpDir: string = os.tmpdir()): Promise<string[]> {
  const inventory = await readInventory(dir);
  const removed: string[] = [];
  for (const name of [...inventory.partials, ...inventory.orphanSidecars]) {
    await unlink(path.join(dir, name)).catch(ignoreMissing);
    removed.push(path.join(dir, name));
  }
  for (const name of (await readdir(dir)).filter((n) => RUN_STATE_TEMPORARY.test(n))) {
    await unlink(path.join(dir, name)).catch(ignoreMissing);
    removed.push(path.join(dir, name));
  }
  for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
    const pid = Number(new RegExp(`^${DEFAULTS_DIR_PREFIX}(\\d+)-`).exec(name)?.[1]);
    // Our own pid counts as stale too: in a restarted container the dead predecessor had it.
    if (pid && (pid === process.pid || !isAlive(pid))) {
      await rm(path.join(tmpDir, name), { recursive: true, force: true });
      removed.push(path.join(tmpDir, name));
    }
  }
  return removed;
}

/**
 * Tries again to remove partial files that this process's own runs could not (BACKUP_DIR went
 * read-only mid-run). They belong to finished runs, so unlike the sweep at start this is safe
 * while the daemon runs. Those removed, or already gone, leave `files`; returns them.
 */
export async function removeStrandedPartials(files: Set<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const file of files) {
    const gone = await unlink(file).then(
      () => true,
      (error: NodeJS.ErrnoException) => error.code === 'ENOENT',
    );
    if (!gone) continue;
    files.delete(file);
    removed.push(file);
  }
  return removed;
}

export type SpaceCheck =
  | { readonly state: 'unknown' | 'ok' }
  | { readonly state: 'low' | 'insufficient'; readonly freeBytes: number; readonly lastDumpBytes: number };

/** Below this many times the last dump's size the run fails before loading the server for nothing. */
export const SPACE_REFUSE_FACTOR = 1.3;
/** Below this many times, a warning. */
export const SPACE_WARN_FACTOR = 2;

export async function checkFreeSpace(dir: string, lastDumpBytes: number | undefined): Promise<SpaceCheck> {
  if (!lastDumpBytes) return { state: 'unknown' };
  const stats = await statfs(dir);
  const freeBytes = stats.bavail * stats.bsize;
  if (freeBytes < lastDumpBytes * SPACE_REFUSE_FACTOR) return { state: 'insufficient', freeBytes, lastDumpBytes };
  if (freeBytes < lastDumpBytes * SPACE_WARN_FACTOR) return { state: 'low', freeBytes, lastDumpBytes };
  return { state: 'ok' };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
