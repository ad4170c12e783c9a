import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { checksumFileName, DUMP_NAME, manifestFileName, PARTIAL_NAME } from './naming.js';

export interface StoredBackup {
  readonly name: string;
  readonly path: string;
  readonly mtimeMs: number;
  readonly size: number;
  /** `<dump>.sha256` is beside it: the run that wrote it published it whole. */
  readonly checksummed: boolean;
  /** The sidecar files that exist beside it. */
  readonly sidecars: readonly string[];
  /**
   * What deleting the dump and its sidecars frees: allocated blocks, not sizes, and nothing for a
   * file linked elsewhere too (a hard-link copy keeps its blocks).
   */
  readonly bytesOnDisk: number;
}

export interface Inventory {
  /** This daemon's dumps, newest first (by mtime). */
  readonly backups: readonly StoredBackup[];
  /** Hidden work-in-progress files of runs that did not finish. */
  readonly partials: readonly string[];
  /** `.sha256` / manifest files whose dump is gone (a crash between deleting the two). */
  readonly orphanSidecars: readonly string[];
}

const SIDECAR_NAME = /^(full_dump_\d{8}_\d{6}\.sql(?:\.gz|\.zst)?)\.(?:sha256|manifest\.json)$/;

/**
 * What is in BACKUP_DIR, by name and by lstat: only regular files count, so a symlink is never
 * followed, never counted as a backup and never deleted. Everything else (notes.txt, the old
 * bash loop's full_dump_YYYYMMDD_HHMM.sql) is not listed at all.
 */
export async function readInventory(dir: string): Promise<Inventory> {
  const names = new Set(await readdir(dir));
  const regular = async (name: string) => {
    const stats = await lstat(path.join(dir, name)).catch(() => null);
    return stats?.isFile() ? stats : null;
  };

  const backups: StoredBackup[] = [];
  const partials: string[] = [];
  const orphanSidecars: string[] = [];
  for (const name of names) {
    if (DUMP_NAME.test(name)) {
      const stats = await regular(name);
      if (!stats) continue;
      const sidecars = [checksumFileName(name), manifestFileName(name)].filter((s) => names.has(s));
      let sidecarBytes = 0;
      for (const sidecar of sidecars) sidecarBytes += freedByDeleting(await regular(sidecar));
      backups.push({
        name,
        path: path.join(dir, name),
        mtimeMs: stats.mtimeMs,
        size: stats.size,
        checksummed: sidecars.includes(checksumFileName(name)),
        sidecars,
        bytesOnDisk: freedByDeleting(stats) + sidecarBytes,
      });
    } else if (PARTIAL_NAME.test(name)) {
      if (await regular(name)) partials.push(name);
    } else {
      const owner = SIDECAR_NAME.exec(name)?.[1];
      if (owner && !names.has(owner) && (await regular(name))) orphanSidecars.push(name);
    }
  }
  backups.sort((a, b) => b.mtimeMs - a.mtimeMs || b.name.localeCompare(a.name));
  return { backups, partials: partials.sort(), orphanSidecars: orphanSidecars.sort() };
}

const freedByDeleting = (stats: Stats | null) => (stats && stats.nlink === 1 ? stats.blocks * 512 : 0);
