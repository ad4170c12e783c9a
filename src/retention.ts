import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { readInventory, type StoredBackup } from './backup/inventory.js';
import { assessSizes, sizePolicy } from './backup/size-check.js';
import type { EventSink } from './events.js';

/**
 * Rule: retention deletes only this daemon's own dumps (by name, regular files only), only by
 * mtime, and never the newest good backup nor the newest BACKUP_KEEP_MIN good backups that are not
 * suspect (size-check.ts), so neither a week of failing dumps nor a few dumps of an emptied server
 * can leave the directory without a real backup. It runs after a successful run, and before a run
 * refused for space (only as far as that makes the run fit). Selection is pure; `deleteBackups` acts.
 */
export interface RetentionPolicy {
  readonly maxAgeMs: number;
  readonly keepMin: number;
  /** 0 or absent: no dump is suspect. */
  readonly sizeDropRatio?: number;
}

export interface RetentionPlan {
  /** Oldest last, as the inventory lists them. */
  readonly expired: readonly StoredBackup[];
  readonly kept: readonly StoredBackup[];
  /** Good dumps far smaller than those before them: kept like any other, but not counted towards keepMin. */
  readonly suspect: ReadonlySet<string>;
  /** The newest dump of all, good or not: the size the next run is judged by. */
  readonly newest: StoredBackup | undefined;
}

/** `backups` newest first, as readInventory gives them. */
export function selectExpired(
  backups: readonly StoredBackup[],
  policy: RetentionPolicy,
  nowMs: number,
  suspect: ReadonlySet<string> = new Set(),
): RetentionPlan {
  const good = backups.filter((b) => b.checksummed);
  const protectedNames = new Set([
    ...good.slice(0, 1).map((b) => b.name),
    ...good
      .filter((b) => !suspect.has(b.name))
      .slice(0, policy.keepMin)
      .map((b) => b.name),
  ]);
  const expired: StoredBackup[] = [];
  const kept: StoredBackup[] = [];
  for (const backup of backups) {
    const tooOld = nowMs - backup.mtimeMs > policy.maxAgeMs;
    (tooOld && !protectedNames.has(backup.name) ? expired : kept).push(backup);
  }
  return { expired, kept, suspect, newest: backups[0] };
}

/** The rule over what is in `dir` now, with each good dump's size judged from its manifest. */
export async function planRetention(dir: string, policy: RetentionPolicy, nowMs: number): Promise<RetentionPlan> {
  const { backups } = await readInventory(dir);
  const verdicts = await assessSizes(backups, sizePolicy({ sizeDropRatio: policy.sizeDropRatio ?? 0, maxAgeMs: policy.maxAgeMs }));
  const suspect = new Set([...verdicts].filter(([, verdict]) => verdict.suspect).map(([name]) => name));
  return selectExpired(backups, policy, nowMs, suspect);
}

/**
 * The expired dumps, oldest first, whose removal frees at least `neededBytes`; empty when even all
 * of them would not, since deleting backups for a run that is refused anyway only loses them.
 */
export function selectToFreeSpace(expired: readonly StoredBackup[], neededBytes: number): StoredBackup[] {
  const chosen: StoredBackup[] = [];
  let freed = 0;
  for (const backup of [...expired].reverse()) {
    if (freed >= neededBytes) break;
    chosen.push(backup);
    freed += backup.bytesOnDisk;
  }
  return freed >= neededBytes ? chosen : [];
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
  const plan = await planRetention(dir, policy, now);
  await deleteBackups(plan.expired, reportDeletion(emit, now, options.runId));
  emit({
    type: 'retention.applied',
    ...(options.runId ? { runId: options.runId } : {}),
    deleted: plan.expired.length,
    kept: plan.kept.length,
    ...(plan.suspect.size > 0 ? { suspect: [...plan.suspect] } : {}),
  });
  return plan;
}

export const reportDeletion =
  (emit: EventSink, nowMs: number, runId?: string, reason: 'retention' | 'space' = 'retention') =>
  (backup: StoredBackup) =>
    emit({
      type: 'retention.deleted',
      ...(runId ? { runId } : {}),
      file: backup.name,
      mtime: new Date(backup.mtimeMs).toISOString(),
      ageMs: nowMs - backup.mtimeMs,
      ...(reason === 'space' ? { reason } : {}),
    });
