import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { readInventory, type StoredBackup } from './backup/inventory.js';
import type { EventSink } from './events.js';

/**
 * Rule: retention deletes only this daemon's own dumps (by name, regular files only), only by
 * mtime, only after a successful run, and never the newest BACKUP_KEEP_MIN good backups, so a week
 * of failing dumps cannot leave the directory empty. Selection is pure; `deleteBackups` acts.
 */
export interface RetentionPolicy {
  readonly maxAgeMs: number;
  readonly keepMin: number;
}

export interface RetentionPlan {
  readonly expired: readonly StoredBackup[];
  readonly kept: readonly StoredBackup[];
}

/** `backups` newest first, as readInventory gives them. */
export function selectExpired(backups: readonly StoredBackup[], policy: RetentionPolicy, nowMs: number): RetentionPlan {
  const protectedNames = new Set(
    backups
      .filter((b) => b.checksummed)
      .slice(0, policy.keepMin)
      .map((b) => b.name),
  );
  const expired: StoredBackup[] = [];
  const kept: StoredBackup[] = [];
  for (const backup of backups) {
    const tooOld = nowMs - backup.mtimeMs > policy.maxAgeMs;
    (tooOld && !protectedNames.has(backup.name) ? expired : kept).push(backup);
  }
  return { expired, kept };
}

/**
 * Deletes each expired dump, then its sidecars: the dump goes first so that a crash in between
 * leaves orphan sidecars (cleaned at start-up), never a dump without its checksum.
 */
export async function deleteBackups(
  backups: readonly StoredBackup[],
  onDeleted: (backup: StoredBackup) => void,
): Promise<void> {
  for (const backup of backups) {
    await unlinkIfPresent(backup.path);
    for (const sidecar of backup.sidecars) await unlinkIfPresent(path.join(path.dirname(backup.path), sidecar));
    onDeleted(backup);
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** One pass of the rule over `dir`: select, delete, and report each deletion and the totals. */
export async function applyRetention(
  dir: string,
  policy: RetentionPolicy,
  emit: EventSink,
  options: { runId?: string; nowMs?: number } = {},
): Promise<RetentionPlan> {
  const now = options.nowMs ?? Date.now();
  const run = options.runId ? { runId: options.runId } : {};
  const plan = selectExpired((await readInventory(dir)).backups, policy, now);
  await deleteBackups(plan.expired, (backup) =>
    emit({
      type: 'retention.deleted',
      ...run,
      file: backup.name,
      mtime: new Date(backup.mtimeMs).toISOString(),
      ageMs: now - backup.mtimeMs,
    }),
  );
  emit({ type: 'retention.applied', ...run, deleted: plan.expired.length, kept: plan.kept.length });
  return plan;
}
