import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredBackup } from '../../src/backup/inventory.js';
import { checksumFileName, manifestFileName } from '../../src/backup/naming.js';
import { planRetention, selectExpired, selectToFreeSpace } from '../../src/retention.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-23T12:00:00Z');

/** A dump `ageDays` old; `checksummed: false` stands for one whose .sha256 is missing. */
function dump(ageDays: number, checksummed = true): StoredBackup {
  const mtimeMs = NOW - ageDays * DAY;
  const name = `full_dump_${new Date(mtimeMs).toISOString().replace(/\D/g, '').slice(0, 14).replace(/^(\d{8})/, '$1_')}.sql.gz`;
  return { name, path: `/b/${name}`, mtimeMs, size: 100, checksummed, sidecars: [], bytesOnDisk: 100 };
}

const ages = (list: readonly StoredBackup[]) => list.map((b) => Math.round((NOW - b.mtimeMs) / DAY));

describe('retention selection', () => {
  it.each([
    {
      rule: 'deletes what is older than the retention and keeps the rest',
      backups: [dump(1), dump(3), dump(8), dump(10)],
      policy: { maxAgeMs: 7 * DAY, keepMin: 1 },
      expired: [8, 10],
    },
    {
      rule: 'keeps the newest good backup when every dump is older than the retention',
      backups: [dump(8), dump(9), dump(10)],
      policy: { maxAgeMs: 7 * DAY, keepMin: 1 },
      expired: [9, 10],
    },
    {
      rule: 'keeps the newest BACKUP_KEEP_MIN good backups whatever their age',
      backups: [dump(8), dump(9), dump(10), dump(11)],
      policy: { maxAgeMs: 7 * DAY, keepMin: 3 },
      expired: [11],
    },
    {
      rule: 'does not count a dump without its checksum as one of the good ones it must keep',
      backups: [dump(8, false), dump(9), dump(10)],
      policy: { maxAgeMs: 7 * DAY, keepMin: 1 },
      expired: [8, 10],
    },
    {
      rule: 'deletes nothing when nothing is old',
      backups: [dump(0), dump(1)],
      policy: { maxAgeMs: 7 * DAY, keepMin: 1 },
      expired: [],
    },
    {
      rule: 'keeps a backup exactly as old as the retention',
      backups: [dump(1), dump(7)],
      policy: { maxAgeMs: 7 * DAY, keepMin: 1 },
      expired: [],
    },
  ])('$rule', ({ backups, policy, expired }) => {
    const plan = selectExpired(backups, policy, NOW);
    expect(ages(plan.expired)).toEqual(expired);
    expect(plan.expired.length + plan.kept.length).toBe(backups.length);
  });

  it('names the newest dump of all, good or not', () => {
    const unchecked = dump(1, false);
    const backups = [unchecked, dump(2), dump(9)];
    expect(selectExpired(backups, { maxAgeMs: 7 * DAY, keepMin: 1 }, NOW).newest).toBe(unchecked);
    // A suspect one too: it is still the size the next run is judged by.
    const good = [dump(2), dump(9)];
    expect(selectExpired(good, { maxAgeMs: 7 * DAY, keepMin: 1 }, NOW, new Set([good[0]!.name])).newest).toBe(good[0]);
    // Expired or not.
    const old = [dump(20), dump(30)];
    expect(selectExpired(old, { maxAgeMs: 7 * DAY, keepMin: 0 }, NOW).newest).toBe(old[0]);
    expect(selectExpired([], { maxAgeMs: 7 * DAY, keepMin: 1 }, NOW).newest).toBeUndefined();
  });

  it('keeps nothing it was not given and deletes nothing twice', () => {
    const backups = [dump(2), dump(20), dump(30)];
    const plan = selectExpired(backups, { maxAgeMs: DAY, keepMin: 1 }, NOW);
    expect(new Set([...plan.expired, ...plan.kept])).toEqual(new Set(backups));
  });
});

describe('retention and suspect dumps', () => {
  const names = (list: readonly StoredBackup[]) => new Set(list.map((b) => b.name));

  it('keeps the newest BACKUP_KEEP_MIN real backups behind a run of suspect ones', () => {
    const suspectDumps = [dump(1), dump(2), dump(3)];
    const real = [dump(10), dump(11), dump(12), dump(13), dump(14)];
    const backups = [...suspectDumps, ...real];
    const policy = { maxAgeMs: 7 * DAY, keepMin: 3 };

    const plan = selectExpired(backups, policy, NOW, names(suspectDumps));
    expect(ages(plan.expired)).toEqual([13, 14]);
    expect(ages(plan.kept)).toEqual([1, 2, 3, 10, 11, 12]);
    expect(plan.suspect).toEqual(names(suspectDumps));

    // Counted as good, the three small dumps would have let every real one go.
    expect(ages(selectExpired(backups, policy, NOW).expired)).toEqual([10, 11, 12, 13, 14]);
  });

  it('keeps the newest good backup even when it is suspect and expired', () => {
    const backups = [dump(8), dump(9), dump(10), dump(11)];
    const plan = selectExpired(backups, { maxAgeMs: 7 * DAY, keepMin: 1 }, NOW, names(backups.slice(0, 2)));
    // 8: the newest good one; 10: the newest that is not suspect.
    expect(ages(plan.kept)).toEqual([8, 10]);
    expect(ages(plan.expired)).toEqual([9, 11]);
  });

  it('keeps the newest good backup when every dump is suspect', () => {
    const backups = [dump(8), dump(9), dump(10)];
    const plan = selectExpired(backups, { maxAgeMs: 7 * DAY, keepMin: 2 }, NOW, names(backups));
    expect(ages(plan.kept)).toEqual([8]);
    expect(ages(plan.expired)).toEqual([9, 10]);
  });

  it('counts neither unchecksummed nor suspect dumps towards BACKUP_KEEP_MIN', () => {
    const backups = [dump(8), dump(9, false), dump(10), dump(11), dump(12)];
    const plan = selectExpired(backups, { maxAgeMs: 7 * DAY, keepMin: 2 }, NOW, names([backups[0]!]));
    // 8 is the newest good one; 10 and 11 are the two newest good ones that are not suspect.
    expect(ages(plan.kept)).toEqual([8, 10, 11]);
    expect(ages(plan.expired)).toEqual([9, 12]);
  });

  it('lets a suspect dump younger than the retention stay, like any other', () => {
    const backups = [dump(1), dump(2), dump(9)];
    const plan = selectExpired(backups, { maxAgeMs: 7 * DAY, keepMin: 1 }, NOW, names(backups.slice(0, 2)));
    expect(ages(plan.kept)).toEqual([1, 2, 9]);
    expect(plan.expired).toEqual([]);
  });
});

describe('retention over a backup directory', () => {
  const MB = 1_000_000;
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-retention-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A dump `ageDays` old with its .sha256 and, unless rawBytes is null, its manifest. */
  async function writeDump(ageDays: number, rawBytes: number | null): Promise<string> {
    const { name } = dump(ageDays);
    const mtime = (NOW - ageDays * DAY) / 1000;
    const files = [name, checksumFileName(name)];
    await writeFile(path.join(dir, name), `dump ${ageDays}`);
    await writeFile(path.join(dir, checksumFileName(name)), `${'0'.repeat(64)}  ${name}\n`);
    if (rawBytes !== null) {
      const finishedAt = new Date(mtime * 1000).toISOString();
      await writeFile(
        path.join(dir, manifestFileName(name)),
        JSON.stringify({ formatVersion: 1, file: name, runId: `r${ageDays}`, startedAt: finishedAt, finishedAt, durationMs: 0, rawBytes }),
      );
      files.push(manifestFileName(name));
    }
    for (const file of files) await utimes(path.join(dir, file), mtime, mtime);
    return name;
  }

  /**
   * Real dumps 12..8 days old, then the server came back empty: dumps of 1 MB 5, 4 and 3 days old.
   * With a retention of 7 days (the baseline period too), each small one has real dumps in its
   * baseline: 5 has 12..8, 4 has 11..8, 3 has 10..8.
   */
  async function emptiedServer() {
    const real: string[] = [];
    for (const [age, raw] of [[12, 100], [11, 101], [10, 99], [9, 102], [8, 98]] as const) real.push(await writeDump(age, raw * MB));
    const small: string[] = [];
    for (const age of [5, 4, 3]) small.push(await writeDump(age, MB));
    return { real, small };
  }

  it('marks the small dumps suspect from their manifests and keeps the newest real ones', async () => {
    const { real, small } = await emptiedServer();
    const plan = await planRetention(dir, { maxAgeMs: 7 * DAY, keepMin: 3, sizeDropRatio: 0.5 }, NOW);
    expect(plan.suspect).toEqual(new Set(small));
    // 3: the newest good one; 8, 9, 10: the three newest that are not suspect.
    expect(ages(plan.kept)).toEqual([3, 4, 5, 8, 9, 10]);
    expect(ages(plan.expired)).toEqual([11, 12]);
    expect(plan.expired.map((b) => b.name)).toEqual([real[1], real[0]]);
    expect(plan.newest?.name).toBe(small[2]);
  });

  it('suspects nothing without a ratio, and then counts the small dumps towards BACKUP_KEEP_MIN', async () => {
    await emptiedServer();
    for (const ratio of [undefined, 0]) {
      const policy = { maxAgeMs: 7 * DAY, keepMin: 3, ...(ratio === undefined ? {} : { sizeDropRatio: ratio }) };
      const plan = await planRetention(dir, policy, NOW);
      expect(plan.suspect.size).toBe(0);
      expect(ages(plan.kept)).toEqual([3, 4, 5]);
      expect(ages(plan.expired)).toEqual([8, 9, 10, 11, 12]);
    }
  });

  it('judges each dump against the dumps of one retention period before it only', async () => {
    // Real dumps 14..10 days old, small ones 2 and 1 days old: 8 days and more after the real ones.
    for (const [age, raw] of [[14, 100], [13, 101], [12, 99], [11, 102], [10, 98]] as const) await writeDump(age, raw * MB);
    const small = [await writeDump(2, MB), await writeDump(1, MB)];

    // A retention of 7 days: 2 has no baseline and 1 has 2, so neither is suspect; they count
    // towards BACKUP_KEEP_MIN and only the newest real one (10) is kept besides them.
    const week = await planRetention(dir, { maxAgeMs: 7 * DAY, keepMin: 3, sizeDropRatio: 0.5 }, NOW);
    expect(week.suspect.size).toBe(0);
    expect(ages(week.kept)).toEqual([1, 2, 10]);
    expect(ages(week.expired)).toEqual([11, 12, 13, 14]);

    // A retention of 30 days: both are judged against the five real ones, and suspect.
    const month = await planRetention(dir, { maxAgeMs: 30 * DAY, keepMin: 3, sizeDropRatio: 0.5 }, NOW);
    expect(month.suspect).toEqual(new Set(small));
    expect(ages(month.expired)).toEqual([]);

    // A retention of 9 days: 2 has the real dumps 11 and 10 (9 and 8 days older) in its baseline,
    // 1 only 10 (9 days older); both are suspect, so the three newest real ones are kept.
    const nineDays = await planRetention(dir, { maxAgeMs: 9 * DAY, keepMin: 3, sizeDropRatio: 0.5 }, NOW);
    expect(nineDays.suspect).toEqual(new Set(small));
    expect(ages(nineDays.kept)).toEqual([1, 2, 10, 11, 12]);
    expect(ages(nineDays.expired)).toEqual([13, 14]);
  });

  it('does not suspect a dump without a manifest, and does not let it count in the medians', async () => {
    for (const [age, raw] of [[14, 100], [13, 100], [12, 100]] as const) await writeDump(age, raw * MB);
    const unknown = await writeDump(11, null);
    const small = await writeDump(10, MB);
    const plan = await planRetention(dir, { maxAgeMs: 7 * DAY, keepMin: 2, sizeDropRatio: 0.5 }, NOW);
    expect(plan.suspect).toEqual(new Set([small]));
    // 10: the newest good one; 11 (of unknown size, not suspect) and 12: the two newest not suspect.
    expect(ages(plan.kept)).toEqual([10, 11, 12]);
    expect(plan.kept.map((b) => b.name)).toContain(unknown);
    expect(ages(plan.expired)).toEqual([13, 14]);
  });

  it('frees space with the oldest expired dumps, sidecars included', async () => {
    await emptiedServer();
    const plan = await planRetention(dir, { maxAgeMs: 7 * DAY, keepMin: 1, sizeDropRatio: 0.5 }, NOW);
    // keepMin 1 keeps 8 (the newest real one); 9..12 are expired.
    expect(ages(plan.expired)).toEqual([9, 10, 11, 12]);
    const oldest = plan.expired[plan.expired.length - 1]!;
    expect(oldest.bytesOnDisk).toBeGreaterThan(oldest.size);
    expect(ages(selectToFreeSpace(plan.expired, oldest.bytesOnDisk))).toEqual([12]);
    expect(ages(selectToFreeSpace(plan.expired, oldest.bytesOnDisk + 1))).toEqual([12, 11]);
  });
});

describe('freeing space', () => {
  /** An expired dump `ageDays` old whose removal frees `bytes` (its size alone is less). */
  const sized = (ageDays: number, bytes: number): StoredBackup => ({ ...dump(ageDays), size: 1, bytesOnDisk: bytes });
  // Newest first, as selectExpired lists them; 1000 bytes in all.
  const expired = [sized(8, 100), sized(9, 200), sized(10, 300), sized(11, 400)];

  it.each([
    { needed: 1, chosen: [11] },
    { needed: 400, chosen: [11] },
    { needed: 401, chosen: [11, 10] },
    { needed: 700, chosen: [11, 10] },
    { needed: 701, chosen: [11, 10, 9] },
    { needed: 1000, chosen: [11, 10, 9, 8] },
  ])('deletes the oldest first, only as many as free $needed bytes', ({ needed, chosen }) => {
    expect(ages(selectToFreeSpace(expired, needed))).toEqual(chosen);
  });

  it('deletes nothing when even all expired dumps would not free enough', () => {
    expect(selectToFreeSpace(expired, 1001)).toEqual([]);
    expect(selectToFreeSpace([], 1)).toEqual([]);
  });

  it('deletes nothing when nothing is needed', () => {
    expect(selectToFreeSpace(expired, 0)).toEqual([]);
  });

  it('counts the bytes on disk, sidecars included, not the dump alone', () => {
    // By size alone (1 byte each) even all four would not free 4 bytes.
    expect(ages(selectToFreeSpace(expired, 4))).toEqual([11]);
  });

  it('leaves its input as it was', () => {
    const copy = [...expired];
    selectToFreeSpace(expired, 700);
    expect(expired).toEqual(copy);
  });
});
