import { formatDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { UserError } from '../errors.js';
import type { EventSink } from '../events.js';
import { deleteBackups, planRetention, reportDeletion, selectToFreeSpace } from '../retention.js';
import { formatMiB } from '../units.js';
import { checkFreeSpace, SPACE_REFUSE_FACTOR } from './hygiene.js';
import type { StoredBackup } from './inventory.js';

/**
 * Rule: a run needs room for SPACE_REFUSE_FACTOR times the last dump before it loads the server.
 * Retention runs after a good run, so on a volume too full for any run expired dumps would stay
 * forever and every run be refused. Instead, a run short of room deletes expired dumps first,
 * oldest first and only as many as make it fit, under the retention rule's own protections
 * (own files, the newest good backup, BACKUP_KEEP_MIN real ones); when even all of them would not
 * make it fit, it deletes none. The refusal says what was freed, or why nothing could be.
 *
 * Two steps: `planRoomForRun` decides before anything else (and refuses at once), `makeRoom`
 * deletes only once the server has answered and the dump is about to start, so that a run that
 * fails for another reason (the server down for days) never deletes anything.
 */
export interface RoomPlan {
  /** The run fits, but barely. */
  readonly warning?: string;
  /** Expired dumps to delete before the dump starts; empty when it fits as it is. */
  readonly toDelete: readonly StoredBackup[];
  readonly lastDumpBytes: number;
  readonly freeBytes: number;
}

export async function planRoomForRun(config: Config): Promise<RoomPlan> {
  const dir = config.backup.dir;
  const plan = await planRetention(dir, config.retention, Date.now());
  const space = await checkFreeSpace(dir, plan.newest?.size);
  if (space.state !== 'low' && space.state !== 'insufficient') return { toDelete: [], lastDumpBytes: 0, freeBytes: 0 };
  const { freeBytes, lastDumpBytes } = space;
  const facts = describeSpace(dir, freeBytes, lastDumpBytes);
  if (space.state === 'low') return { warning: `space is running low: ${facts}`, toDelete: [], lastDumpBytes, freeBytes };

  const neededBytes = lastDumpBytes * SPACE_REFUSE_FACTOR - freeBytes;
  const toDelete = selectToFreeSpace(plan.expired, neededBytes);
  if (toDelete.length > 0) return { toDelete, lastDumpBytes, freeBytes };
  const retention = `BACKUP_RETENTION (${formatDuration(config.retention.maxAgeMs)})`;
  if (plan.expired.length === 0) {
    throw notEnoughSpace(
      facts,
      `nothing could be freed: no dump is older than ${retention} but for those kept by BACKUP_KEEP_MIN (${config.retention.keepMin}) and the newest good one`,
    );
  }
  const all = plan.expired.reduce((sum, b) => sum + b.bytesOnDisk, 0);
  const them = plan.expired.length === 1 ? 'the one dump' : `all ${plan.expired.length} dumps`;
  throw notEnoughSpace(facts, `deleting ${them} older than ${retention} would free only ${formatMiB(all)} of the ${formatMiB(neededBytes)} needed, so none was deleted`);
}

/** Deletes what the plan chose; returns the warning that says so. Throws when the room is still not there. */
export async function makeRoom(config: Config, room: RoomPlan, emit: EventSink, runId: string): Promise<string> {
  const dir = config.backup.dir;
  await deleteBackups(room.toDelete, reportDeletion(emit, Date.now(), runId, 'space'));
  const freed = room.toDelete.reduce((sum, b) => sum + b.bytesOnDisk, 0);
  const n = room.toDelete.length;
  const done =
    `deleted ${n} expired dump${n === 1 ? '' : 's'} (${room.toDelete.map((b) => b.name).join(', ')}, ${formatMiB(freed)}) ` +
    'ahead of retention to make room';
  const facts = describeSpace(dir, room.freeBytes, room.lastDumpBytes);
  const after = await checkFreeSpace(dir, room.lastDumpBytes);
  if (after.state === 'insufficient') throw notEnoughSpace(facts, `${done}, but the file system shows only ${formatMiB(after.freeBytes)} free now`);
  return `${done}: ${facts} before`;
}

const describeSpace = (dir: string, freeBytes: number, lastDumpBytes: number) =>
  `${formatMiB(freeBytes)} free in BACKUP_DIR ${dir}, and the last dump took ${formatMiB(lastDumpBytes)}`;

const notEnoughSpace = (facts: string, why: string) =>
  new UserError(`not enough space: ${facts}; a run needs at least ${SPACE_REFUSE_FACTOR} times that; ${why}`, {
    hint: 'Free space on the backup volume, or shorten BACKUP_RETENTION.',
  });
