import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readInventory } from '../backup/inventory.js';
import { readManifest } from '../backup/manifest.js';
import { manifestFileName } from '../backup/naming.js';
import { type ArchivedFile, listArchive, scanFile } from './archive-dir.js';
import { BinlogEventScanner } from './event-scanner.js';
import { epochEndMs } from './retention.js';
import { readIndex } from './seal.js';

/** One run of the archive without a gap: the current one, or one moved aside at a gap. */
export interface ArchiveEpoch {
  /** BINLOG_DIR itself for the current epoch, else its epoch-<time> directory. */
  readonly dir: string;
  readonly files: readonly ArchivedFile[];
  readonly bytes: number;
  /** The gap that ended it, Unix ms; null for the current epoch. */
  readonly endedAtMs: number | null;
  /** The last complete transaction in it, Unix ms; null if none. */
  readonly recoverableUntilMs: number | null;
}

/** What `list` shows of the archive: a replay reaches from the oldest dump that rolls forward into an epoch to its last transaction. */
export interface RecoverableWindow {
  /** Oldest first; the current epoch last. */
  readonly epochs: readonly ArchiveEpoch[];
  /** The oldest good dump whose coordinates are in the current epoch; null: none rolls forward through it yet. */
  readonly from: { readonly file: string; readonly finishedAt: string; readonly binlogFile: string } | null;
}

export async function readRecoverableWindow(binlogDir: string, backupDir: string): Promise<RecoverableWindow> {
  const names = await readdir(binlogDir).catch(() => [] as string[]);
  const epochs: ArchiveEpoch[] = [];
  for (const name of names.filter((n) => epochEndMs(n) !== undefined).sort()) {
    epochs.push(await readEpoch(path.join(binlogDir, name), epochEndMs(name)!));
  }
  const current = await readEpoch(binlogDir, null);
  epochs.push(current);
  const since = Math.max(0, ...epochs.map((epoch) => epoch.endedAtMs ?? 0));
  const good = (await readInventory(backupDir)).backups.filter((backup) => backup.checksummed).reverse();
  let from: RecoverableWindow['from'] = null;
  for (const backup of good) {
    const manifest = await readManifest(path.join(backupDir, manifestFileName(backup.name)));
    const file = manifest?.binlog?.file;
    if (file && Date.parse(manifest.finishedAt) > since && current.files.some((f) => f.name === file)) {
      from = { file: backup.name, finishedAt: manifest.finishedAt, binlogFile: file };
      break;
    }
  }
  return { epochs, from };
}

async function readEpoch(dir: string, endedAtMs: number | null): Promise<ArchiveEpoch> {
  const files = await listArchive(dir).catch(() => []);
  let recoverableUntilMs: number | null = null;
  // The newest file decides; a file without a transaction (just rotated) hands over to the one before.
  for (const file of [...files].reverse()) {
    const index = await readIndex(dir, file.name, file.size);
    const committed = index ? (index.committedAt && Date.parse(index.committedAt)) : (await scanFile(path.join(dir, file.name), new BinlogEventScanner(), file.size)).committedAtMs;
    if (committed) {
      recoverableUntilMs = committed;
      break;
    }
  }
  return { dir, files, bytes: files.reduce((sum, f) => sum + f.size, 0), endedAtMs, recoverableUntilMs };
}
