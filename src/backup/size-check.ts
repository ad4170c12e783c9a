import path from 'node:path';
import type { StoredBackup } from './inventory.js';
import { readManifest } from './manifest.js';
import { manifestFileName } from './naming.js';
import { formatMiB } from '../units.js';

/**
 * Rule: a good dump far smaller than the ones before it is suspect: it is what a sidecar writes
 * when it keeps running while the server is rebuilt empty, or after a DROP DATABASE. One ratio
 * (BACKUP_SIZE_DROP_RATIO) decides it everywhere: `restore latest` refuses a suspect dump without
 * --force, retention does not count suspects towards BACKUP_KEEP_MIN, and the size-drop alert
 * reads the same verdict from /metrics.
 *
 * Sizes are the uncompressed bytes mysqldump wrote (the manifest's rawBytes), compared with the
 * median of up to MEDIAN_WINDOW good dumps before it that are not suspect themselves and are at
 * most BACKUP_RETENTION older: one odd dump does not move a median, a run of dumps of an emptied
 * server never becomes the baseline that clears itself, and after a deliberate, lasting shrink
 * the new size becomes the normal one once the larger dumps are a retention period old.
 */
export const MEDIAN_WINDOW = 5;

export interface SizeVerdict {
  /** Uncompressed bytes, or null without a readable manifest (a dump of another tool or release). */
  readonly rawBytes: number | null;
  /** Median rawBytes of the good dumps before it, or null when there are none to compare with. */
  readonly medianBytes: number | null;
  /** How many dumps the median is of. */
  readonly comparedWith: number;
  readonly suspect: boolean;
}

export interface SizedEntry {
  readonly name: string;
  readonly mtimeMs: number;
  readonly rawBytes: number | null;
}

export interface SizePolicy {
  /** BACKUP_SIZE_DROP_RATIO; 0: no dump is suspect. */
  readonly dropRatio: number;
  /** BACKUP_RETENTION: older dumps are no baseline. */
  readonly baselineMs: number;
}

/** `entries` newest first, good (checksummed) dumps only. */
export function judgeSizes(entries: readonly SizedEntry[], policy: SizePolicy): Map<string, SizeVerdict> {
  const verdicts = new Map<string, SizeVerdict>();
  // Oldest first, so that each dump's baseline knows which of those before it were suspect.
  const baseline: SizedEntry[] = [];
  for (const entry of [...entries].reverse()) {
    const before = baseline
      .filter((e) => entry.mtimeMs - e.mtimeMs <= policy.baselineMs)
      .slice(-MEDIAN_WINDOW)
      .map((e) => e.rawBytes!);
    const medianBytes = before.length > 0 ? median(before) : null;
    const suspect = entry.rawBytes !== null && medianBytes !== null && entry.rawBytes < policy.dropRatio * medianBytes;
    verdicts.set(entry.name, { rawBytes: entry.rawBytes, medianBytes, comparedWith: before.length, suspect });
    if (entry.rawBytes !== null && !suspect) baseline.push(entry);
  }
  return verdicts;
}

/** The verdict on each good dump of `backups` (newest first, as readInventory gives them), from their manifests. */
export async function assessSizes(backups: readonly StoredBackup[], policy: SizePolicy): Promise<Map<string, SizeVerdict>> {
  const good = backups.filter((b) => b.checksummed);
  const entries = await Promise.all(
    good.map(async (b) => {
      const manifest = b.sidecars.includes(manifestFileName(b.name))
        ? await readManifest(path.join(path.dirname(b.path), manifestFileName(b.name)))
        : null;
      return { name: b.name, mtimeMs: b.mtimeMs, rawBytes: typeof manifest?.rawBytes === 'number' ? manifest.rawBytes : null };
    }),
  );
  return judgeSizes(entries, policy);
}

/** "1.2 MiB, 0.5 % of the median of the 5 good dumps before it (240.0 MiB)" */
export function describeSize(verdict: SizeVerdict): string {
  if (verdict.rawBytes === null) return 'size unknown (no manifest)';
  const size = `${formatMiB(verdict.rawBytes)} uncompressed`;
  if (verdict.medianBytes === null) return `${size}; no earlier good dump to compare with`;
  const percent = (verdict.rawBytes / verdict.medianBytes) * 100;
  const dumps = verdict.comparedWith === 1 ? 'the good dump' : `the ${verdict.comparedWith} good dumps`;
  return `${size}, ${percent < 10 ? percent.toFixed(1) : Math.round(percent)} % of the median of ${dumps} before it (${formatMiB(verdict.medianBytes)})`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The policy of a configuration. */
export const sizePolicy = (retention: { readonly sizeDropRatio: number; readonly maxAgeMs: number }): SizePolicy => ({
  dropRatio: retention.sizeDropRatio,
  baselineMs: retention.maxAgeMs,
});
