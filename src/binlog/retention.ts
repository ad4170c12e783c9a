import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { readInventory } from '../backup/inventory.js';
import { readManifest } from '../backup/manifest.js';
import { manifestFileName } from '../backup/naming.js';
import type { EventSink } from '../events.js';
import { listArchive, sequenceOf } from './archive-dir.js';

/** `epoch-20261206T034500Z`: the files before a gap at that time (streamer.ts). */
const EPOCH_DIR = /^epoch-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** When an epoch directory's stream ended, Unix ms; undefined for another name. */
export function epochEndMs(name: string): number | undefined {
  const m = EPOCH_DIR.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) : undefined;
}

/** The oldest good dump that records where it stands in the binary log: the archive is kept from there. */
export async function oldestRollForwardPoint(backupDir: string): Promise<{ file: string; finishedAtMs: number } | null> {
  const good = (await readInventory(backupDir)).backups.filter((backup) => backup.checksummed);
  for (const backup of good.reverse()) {
    const manifest = await readManifest(path.join(backupDir, manifestFileName(backup.name)));
    if (manifest?.binlog?.file) return { file: manifest.binlog.file, finishedAtMs: Date.parse(manifest.finishedAt) };
  }
  return null;
}

/**
 * Rule: the archive keeps every binary log needed to roll forward from the oldest kept dump, no
 * more. After dump retention, files of the current epoch before that dump's file are deleted
 * (only when the dump belongs to the current epoch), and whole epochs that ended before it
 * finished. Without a dump that records coordinates nothing
 * is deleted: there is nothing to judge by, and a binary log is cheaper than a lost one.
 */
export async function pruneBinlogArchive(binlogDir: string, backupDir: string, emit: EventSink, runId?: string): Promise<void> {
  const from = await oldestRollForwardPoint(backupDir);
  if (!from) return;
  const deleted: string[] = [];
  let bytes = 0;
  const epochs = (await readdir(binlogDir).catch(() => [] as string[])).flatMap((name) => {
    const endedAtMs = epochEndMs(name);
    return endedAtMs === undefined ? [] : [{ name, endedAtMs }];
  });
  // A dump taken before the latest gap stands in an older epoch, whose file names the current
  // one may repeat (RESET MASTER starts at .000001 again): then the current epoch is kept whole.
  const currentEpochSinceMs = Math.max(0, ...epochs.map((epoch) => epoch.endedAtMs));
  const current = await listArchive(binlogDir).catch(() => []);
  if (from.finishedAtMs > currentEpochSinceMs && current.some((file) => file.name === from.file)) {
    for (const file of current) {
      if (sequenceOf(file.name) >= sequenceOf(from.file)) break;
      await rm(path.join(binlogDir, file.name), { force: true });
      deleted.push(file.name);
      bytes += file.size;
    }
  }
  for (const epoch of epochs) {
    if (epoch.endedAtMs >= from.finishedAtMs) continue;
    const dir = path.join(binlogDir, epoch.name);
    for (const file of await readdir(dir)) bytes += (await stat(path.join(dir, file))).size;
    await rm(dir, { recursive: true, force: true });
    deleted.push(`${epoch.name}/`);
  }
  if (deleted.length > 0) emit({ type: 'binlog.pruned', ...(runId ? { runId } : {}), deleted, bytes, keptFrom: from.file });
}
