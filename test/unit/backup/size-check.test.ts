import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readInventory } from '../../../src/backup/inventory.js';
import { checksumFileName, manifestFileName } from '../../../src/backup/naming.js';
import {
  assessSizes,
  describeSize,
  judgeSizes,
  MEDIAN_WINDOW,
  sizePolicy,
  type SizedEntry,
  type SizePolicy,
} from '../../../src/backup/size-check.js';

const MB = 1_000_000;
const MIB = 1024 * 1024;
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');
/** Ratio 0.5, and a baseline period longer than any history written with `history`. */
const POLICY: SizePolicy = { dropRatio: 0.5, baselineMs: 365 * DAY };
/** A baseline period of a week, for the tests about it. */
const WEEK: SizePolicy = { dropRatio: 0.5, baselineMs: 7 * DAY };

/**
 * Entries newest first, as judgeSizes takes them, from sizes written oldest first (the order a
 * reader follows a history in), one dump a day. Names are d1 (oldest) … dN (newest).
 */
function history(...oldestFirst: (number | null)[]): SizedEntry[] {
  return oldestFirst.map((rawBytes, i) => ({ name: `d${i + 1}`, mtimeMs: T0 + i * DAY, rawBytes })).reverse();
}

/** Entries newest first from [day, rawBytes] pairs written oldest first. Names are day0, day1, … */
function dated(...oldestFirst: (readonly [number, number | null])[]): SizedEntry[] {
  return oldestFirst.map(([day, rawBytes]) => ({ name: `day${day}`, mtimeMs: T0 + day * DAY, rawBytes })).reverse();
}

function verdictOf(verdicts: ReturnType<typeof judgeSizes>, name: string) {
  const verdict = verdicts.get(name);
  if (!verdict) throw new Error(`no verdict for ${name}`);
  return verdict;
}

const suspects = (verdicts: ReturnType<typeof judgeSizes>) =>
  [...verdicts].filter(([, v]) => v.suspect).map(([name]) => name).sort();

const byName = (names: string[]) => [...names].sort();

describe('size check: median of the dumps before', () => {
  it('takes the middle value of an odd window, whatever the order of the dumps', () => {
    // d4 is judged against d1..d3 = 10, 30, 20: sorted 10, 20, 30, median 20.
    const v = verdictOf(judgeSizes(history(10, 30, 20, 15), POLICY), 'd4');
    expect(v.comparedWith).toBe(3);
    expect(v.medianBytes).toBe(20);
  });

  it('takes the mean of the two middle values of an even window', () => {
    // d5 is judged against 10, 40, 20, 30: sorted 10, 20, 30, 40, median (20 + 30) / 2.
    const v = verdictOf(judgeSizes(history(10, 40, 20, 30, 15), POLICY), 'd5');
    expect(v.comparedWith).toBe(4);
    expect(v.medianBytes).toBe(25);
  });

  it('compares with one dump when only one is before it', () => {
    const v = verdictOf(judgeSizes(history(100, 60), POLICY), 'd2');
    expect(v).toEqual({ rawBytes: 60, medianBytes: 100, comparedWith: 1, suspect: false });
  });

  it('is suspect only strictly under ratio × median', () => {
    // Median of 10, 40, 20, 30 is 25; half of it is 12.5.
    expect(verdictOf(judgeSizes(history(10, 40, 20, 30, 12), POLICY), 'd5').suspect).toBe(true);
    expect(verdictOf(judgeSizes(history(10, 40, 20, 30, 13), POLICY), 'd5').suspect).toBe(false);
    // Exactly ratio × median is not under it.
    expect(verdictOf(judgeSizes(history(100, 100, 100, 50), POLICY), 'd4').suspect).toBe(false);
    expect(verdictOf(judgeSizes(history(100, 100, 100, 49), POLICY), 'd4').suspect).toBe(true);
    // Another ratio moves the line: 0.8 × 100 = 80.
    expect(verdictOf(judgeSizes(history(100, 100, 100, 79), { ...POLICY, dropRatio: 0.8 }), 'd4').suspect).toBe(true);
    expect(verdictOf(judgeSizes(history(100, 100, 100, 80), { ...POLICY, dropRatio: 0.8 }), 'd4').suspect).toBe(false);
  });

  it('uses a window of 5 dumps', () => {
    expect(MEDIAN_WINDOW).toBe(5);
  });

  it('compares with the 5 newest dumps of its baseline only', () => {
    // None of d1..d9 is suspect (each is at least the median before it). The 5 dumps just before
    // d10 are 1000, 1000, 1000, 10, 10 (median 1000); the four older ones of 10 would pull the
    // median down to 10 (or 505 with a window of 6) if they counted.
    const verdicts = judgeSizes(history(10, 10, 10, 10, 10, 10, 1000, 1000, 1000, 400), POLICY);
    expect(suspects(verdicts)).toEqual(['d10']);
    const v = verdictOf(verdicts, 'd10');
    expect(v.comparedWith).toBe(5);
    expect(v.medianBytes).toBe(1000);
    expect(v.suspect).toBe(true);
  });

  it('leaves out dumps newer than the one judged', () => {
    // d3 is judged against d1, d2 only; d4..d6 are after it.
    const verdicts = judgeSizes(history(100, 100, 40, 1, 1, 1), POLICY);
    const v = verdictOf(verdicts, 'd3');
    expect(v.comparedWith).toBe(2);
    expect(v.medianBytes).toBe(100);
    expect(v.suspect).toBe(true);
  });

  it('leaves suspect dumps out of the baseline of the dumps after them', () => {
    // d4 (40 < 50) is suspect, so d5 is judged against d1..d3 only: 3 dumps, not 4.
    const verdicts = judgeSizes(history(100, 100, 100, 40, 45), POLICY);
    expect(verdictOf(verdicts, 'd4')).toEqual({ rawBytes: 40, medianBytes: 100, comparedWith: 3, suspect: true });
    expect(verdictOf(verdicts, 'd5')).toEqual({ rawBytes: 45, medianBytes: 100, comparedWith: 3, suspect: true });
  });

  it('keeps a smaller dump that is not suspect in the baseline', () => {
    // d4 (60 ≥ 50) is not suspect, so d5 is judged against d1..d4: 4 dumps.
    const verdicts = judgeSizes(history(100, 100, 100, 60, 55), POLICY);
    expect(suspects(verdicts)).toEqual([]);
    expect(verdictOf(verdicts, 'd5')).toEqual({ rawBytes: 55, medianBytes: 100, comparedWith: 4, suspect: false });
  });

  it('reaches back past suspect dumps to fill its window', () => {
    // d6..d8 are suspect; d9's window is d1..d5 = 100, 110, 120, 130, 140: median 120. Had the
    // suspects taken places in it, it would be 130, 140, 1, 1, 1 (median 1), or only 130, 140.
    const verdicts = judgeSizes(history(100, 110, 120, 130, 140, 1, 1, 1, 50), POLICY);
    expect(suspects(verdicts)).toEqual(['d6', 'd7', 'd8', 'd9']);
    expect(verdictOf(verdicts, 'd9')).toEqual({ rawBytes: 50, medianBytes: 120, comparedWith: 5, suspect: true });
  });

  it('does not judge the oldest dump, which has nothing before it', () => {
    const verdicts = judgeSizes(history(1, 100, 100), POLICY);
    expect(verdictOf(verdicts, 'd1')).toEqual({ rawBytes: 1, medianBytes: null, comparedWith: 0, suspect: false });
    expect(judgeSizes([], POLICY).size).toBe(0);
  });

  it('gives a verdict on every entry', () => {
    const entries = history(100, null, 3, 100, 1);
    expect([...judgeSizes(entries, POLICY).keys()].sort()).toEqual(entries.map((e) => e.name).sort());
  });
});

describe('size check: the baseline period', () => {
  it('takes a dump exactly the baseline period older as baseline, and none older', () => {
    // Exactly 7 days before: still in the baseline.
    expect(verdictOf(judgeSizes(dated([0, 100], [7, 1]), WEEK), 'day7')).toEqual({
      rawBytes: 1,
      medianBytes: 100,
      comparedWith: 1,
      suspect: true,
    });
    // 7 days and 1 ms before: no baseline, so not suspect.
    const late: SizedEntry[] = [
      { name: 'new', mtimeMs: T0 + 7 * DAY + 1, rawBytes: 1 },
      { name: 'old', mtimeMs: T0, rawBytes: 100 },
    ];
    expect(verdictOf(judgeSizes(late, WEEK), 'new')).toEqual({ rawBytes: 1, medianBytes: null, comparedWith: 0, suspect: false });
  });

  it('leaves the older dumps out of the window and the median', () => {
    // day9 against day3 and day4 (6 and 5 days older) only: 80, 90, median 85, and 43 is not under
    // half of it. day0 (9 days older) is no baseline; it would make the median 90, and 43 suspect.
    const entries = dated([0, 150], [3, 80], [4, 90], [9, 43]);
    expect(verdictOf(judgeSizes(entries, WEEK), 'day9')).toEqual({ rawBytes: 43, medianBytes: 85, comparedWith: 2, suspect: false });
    expect(verdictOf(judgeSizes(entries, POLICY), 'day9')).toEqual({ rawBytes: 43, medianBytes: 90, comparedWith: 3, suspect: true });
    // A dump with nothing in its period is not judged, however small.
    expect(verdictOf(judgeSizes(dated([0, 1000], [8, 1]), WEEK), 'day8')).toMatchObject({ medianBytes: null, suspect: false });
  });

  it('takes a lasting smaller size as the normal one once the larger dumps are more than the period older', () => {
    // Large dumps on days 0..4, then a dump of 1 MB every day from day 5 to day 15. Day d's
    // baseline is the large dumps of days d-7..4 (the small ones before it being suspect): all
    // five up to day 7, four on day 8, one on day 11 (day 4's), none on day 12. Day 12 is then
    // not suspect, and the baseline of the small dumps after it.
    const LARGE = [100 * MB, 102 * MB, 98 * MB, 101 * MB, 99 * MB];
    const SMALL = 1 * MB;
    const smallDays = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const verdicts = judgeSizes(
      dated(...LARGE.map((bytes, day) => [day, bytes] as const), ...smallDays.map((day) => [day, SMALL] as const)),
      WEEK,
    );
    expect(suspects(verdicts)).toEqual(byName(['day5', 'day6', 'day7', 'day8', 'day9', 'day10', 'day11']));
    expect(verdictOf(verdicts, 'day7')).toMatchObject({ medianBytes: 100 * MB, comparedWith: 5, suspect: true });
    // Day 8: days 1..4 = 102, 98, 101, 99 MB, median 100 MB.
    expect(verdictOf(verdicts, 'day8')).toMatchObject({ medianBytes: 100 * MB, comparedWith: 4, suspect: true });
    expect(verdictOf(verdicts, 'day11')).toMatchObject({ medianBytes: 99 * MB, comparedWith: 1, suspect: true });
    expect(verdictOf(verdicts, 'day12')).toEqual({ rawBytes: SMALL, medianBytes: null, comparedWith: 0, suspect: false });
    expect(verdictOf(verdicts, 'day13')).toEqual({ rawBytes: SMALL, medianBytes: SMALL, comparedWith: 1, suspect: false });
    expect(verdictOf(verdicts, 'day15')).toEqual({ rawBytes: SMALL, medianBytes: SMALL, comparedWith: 3, suspect: false });
  });

  it('is BACKUP_RETENTION in the policy of a configuration', () => {
    expect(sizePolicy({ sizeDropRatio: 0.3, maxAgeMs: 5 * DAY })).toEqual({ dropRatio: 0.3, baselineMs: 5 * DAY });
  });
});

describe('size check: an emptied server', () => {
  // Five real dumps of about 100 MB, then the server comes back empty: dumps of 1 MB, one a day.
  const REAL = [100 * MB, 102 * MB, 98 * MB, 101 * MB, 99 * MB];
  const SMALL = 1 * MB;
  const THIRTY_DAYS: SizePolicy = { dropRatio: 0.5, baselineMs: 30 * DAY };

  it('marks the small dumps suspect and none of the real ones', () => {
    const verdicts = judgeSizes(history(...REAL, SMALL, SMALL), THIRTY_DAYS);
    expect(suspects(verdicts)).toEqual(['d6', 'd7']);
    // d6 against the five real ones: median 100 MB.
    expect(verdictOf(verdicts, 'd6')).toMatchObject({ medianBytes: 100 * MB, comparedWith: 5 });
    // d7 against the same five, d6 being suspect.
    expect(verdictOf(verdicts, 'd7')).toMatchObject({ medianBytes: 100 * MB, comparedWith: 5 });
  });

  it('keeps every small dump suspect within the baseline period, however many follow', () => {
    // 20 small dumps, the last 24 days after the first real one: all within 30 days of them.
    const small = Array.from({ length: 20 }, () => SMALL);
    const verdicts = judgeSizes(history(...REAL, ...small), THIRTY_DAYS);
    const smallNames = small.map((_, i) => `d${REAL.length + i + 1}`);
    expect(suspects(verdicts)).toEqual(byName(smallNames));
    // Each against the five real ones: the small dumps never become their own baseline.
    for (const name of smallNames) {
      expect(verdictOf(verdicts, name)).toEqual({ rawBytes: SMALL, medianBytes: 100 * MB, comparedWith: 5, suspect: true });
    }
  });

  it('does not suspect a real dump that follows the small ones', () => {
    // d8 (97 MB) against the five real ones; d9 (1 MB) against d8 and the four newest real ones:
    // 97, 98, 99, 101, 102 MB, median 99 MB.
    const verdicts = judgeSizes(history(...REAL, SMALL, SMALL, 97 * MB, SMALL), THIRTY_DAYS);
    expect(suspects(verdicts)).toEqual(['d6', 'd7', 'd9']);
    expect(verdictOf(verdicts, 'd8')).toMatchObject({ medianBytes: 100 * MB, comparedWith: 5, suspect: false });
    expect(verdictOf(verdicts, 'd9')).toMatchObject({ medianBytes: 99 * MB, comparedWith: 5, suspect: true });
  });

  it('suspects nothing with a ratio of 0', () => {
    const verdicts = judgeSizes(history(...REAL, SMALL, SMALL, 0), { ...THIRTY_DAYS, dropRatio: 0 });
    expect(suspects(verdicts)).toEqual([]);
    // The medians are still there for the report.
    expect(verdictOf(verdicts, 'd6').medianBytes).toBe(100 * MB);
  });
});

describe('size check: dumps of unknown size', () => {
  it('never suspects a dump without a size', () => {
    const v = verdictOf(judgeSizes(history(100, 100, 100, null), POLICY), 'd4');
    expect(v.rawBytes).toBeNull();
    expect(v.suspect).toBe(false);
    expect(v.medianBytes).toBe(100);
  });

  it('skips them in the medians and in the window', () => {
    // Before d10, newest first: 100, null, 100 ×3, null, 100 ×2, 1. Skipping the nulls, the window is the five
    // dumps of 100; had the nulls taken places, it would hold 100 ×4 only, or reach the 1.
    const verdicts = judgeSizes(history(1, 100, 100, null, 100, 100, 100, null, 100, 30), POLICY);
    const v = verdictOf(verdicts, 'd10');
    expect(v.comparedWith).toBe(5);
    expect(v.medianBytes).toBe(100);
    expect(v.suspect).toBe(true);
  });

  it('has nothing to compare with when all before it are of unknown size', () => {
    const v = verdictOf(judgeSizes(history(null, null, 1), POLICY), 'd3');
    expect(v).toEqual({ rawBytes: 1, medianBytes: null, comparedWith: 0, suspect: false });
  });
});

describe('size check: description', () => {
  it('gives the share of the median and how many dumps it is of', () => {
    const text = describeSize({ rawBytes: 1 * MIB, medianBytes: 100 * MIB, comparedWith: 5, suspect: true });
    expect(text).toContain('1.0 %');
    expect(text).toContain('5 good dumps');
    expect(text).toContain('1.0 MiB');
    expect(text).toContain('100.0 MiB');
  });

  it('rounds a share of 10 % or more to whole percent', () => {
    const text = describeSize({ rawBytes: 60 * MIB, medianBytes: 80 * MIB, comparedWith: 3, suspect: false });
    expect(text).toContain('75 %');
    expect(text).toContain('3 good dumps');
  });

  it('speaks of one dump in the singular', () => {
    const text = describeSize({ rawBytes: 10 * MIB, medianBytes: 40 * MIB, comparedWith: 1, suspect: true });
    expect(text).toContain('25 %');
    expect(text).toContain('the good dump before it');
  });

  it('says when the size is unknown or there is nothing to compare with', () => {
    expect(describeSize({ rawBytes: null, medianBytes: 5, comparedWith: 1, suspect: false })).toMatch(/unknown/);
    const first = describeSize({ rawBytes: 2 * MIB, medianBytes: null, comparedWith: 0, suspect: false });
    expect(first).toContain('2.0 MiB');
    expect(first).not.toContain('%');
  });
});

describe('size check over a backup directory', () => {
  const NOW_S = Math.floor(Date.parse('2026-11-23T12:00:00Z') / 1000);
  const HOUR_S = 3600;
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-size-check-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A dump `ageHours` old; manifest: its rawBytes, 'none' for no manifest, or raw text to write. */
  async function writeDump(
    ageHours: number,
    opts: { manifest: number | 'none' | { text: string }; checksummed?: boolean },
  ): Promise<string> {
    const mtime = NOW_S - ageHours * HOUR_S;
    const stamp = new Date(mtime * 1000).toISOString().replace(/\D/g, '').slice(0, 14);
    const name = `full_dump_${stamp.slice(0, 8)}_${stamp.slice(8)}.sql.gz`;
    const files = [name];
    await writeFile(path.join(dir, name), `dump of ${name}`);
    if (opts.checksummed ?? true) {
      await writeFile(path.join(dir, checksumFileName(name)), `${'0'.repeat(64)}  ${name}\n`);
      files.push(checksumFileName(name));
    }
    if (opts.manifest !== 'none') {
      const text =
        typeof opts.manifest === 'number'
          ? JSON.stringify({
              formatVersion: 1,
              file: name,
              runId: `run-${ageHours}`,
              startedAt: new Date((mtime - 60) * 1000).toISOString(),
              finishedAt: new Date(mtime * 1000).toISOString(),
              durationMs: 60_000,
              rawBytes: opts.manifest,
              storedBytes: 100,
            })
          : opts.manifest.text;
      await writeFile(path.join(dir, manifestFileName(name)), text);
      files.push(manifestFileName(name));
    }
    for (const file of files) await utimes(path.join(dir, file), mtime, mtime);
    return name;
  }

  it('judges each good dump from its manifest, newest first by mtime', async () => {
    const real1 = await writeDump(90, { manifest: 100 * MB });
    const real2 = await writeDump(80, { manifest: 104 * MB });
    const real3 = await writeDump(70, { manifest: 96 * MB });
    const noManifest = await writeDump(60, { manifest: 'none' });
    const corrupt = await writeDump(50, { manifest: { text: '{"formatVersion": 1, "rawBytes": 5' } });
    const unchecked1 = await writeDump(40, { manifest: MB, checksummed: false });
    const unchecked2 = await writeDump(30, { manifest: MB, checksummed: false });
    const unchecked3 = await writeDump(20, { manifest: MB, checksummed: false });
    const small = await writeDump(10, { manifest: 2 * MB });

    const { backups } = await readInventory(dir);
    expect(backups[0]?.name).toBe(small);
    const verdicts = await assessSizes(backups, WEEK);

    // Only good (checksummed) dumps are judged, and only they count in a median.
    expect([...verdicts.keys()].sort()).toEqual([real1, real2, real3, noManifest, corrupt, small].sort());
    for (const name of [unchecked1, unchecked2, unchecked3]) expect(verdicts.has(name)).toBe(false);

    // The small one against the three real ones (unknown sizes skipped; the three unchecked dumps
    // of 1 MB, had they counted, would make the median 1 MB).
    expect(verdictOf(verdicts, small)).toEqual({ rawBytes: 2 * MB, medianBytes: 100 * MB, comparedWith: 3, suspect: true });
    expect(verdictOf(verdicts, noManifest)).toEqual({ rawBytes: null, medianBytes: 100 * MB, comparedWith: 3, suspect: false });
    expect(verdictOf(verdicts, corrupt)).toEqual({ rawBytes: null, medianBytes: 100 * MB, comparedWith: 3, suspect: false });
    expect(verdictOf(verdicts, real3)).toEqual({ rawBytes: 96 * MB, medianBytes: 102 * MB, comparedWith: 2, suspect: false });
    expect(verdictOf(verdicts, real1)).toEqual({ rawBytes: 100 * MB, medianBytes: null, comparedWith: 0, suspect: false });
  });

  it('ignores a manifest of another format version or without finishedAt', async () => {
    await writeDump(40, { manifest: 100 * MB });
    const otherVersion = await writeDump(30, { manifest: { text: JSON.stringify({ formatVersion: 2, finishedAt: 'x', rawBytes: 1 }) } });
    const noFinish = await writeDump(20, { manifest: { text: JSON.stringify({ formatVersion: 1, rawBytes: 1 }) } });
    const verdicts = await assessSizes((await readInventory(dir)).backups, WEEK);
    expect(verdictOf(verdicts, otherVersion)).toMatchObject({ rawBytes: null, suspect: false });
    expect(verdictOf(verdicts, noFinish)).toMatchObject({ rawBytes: null, suspect: false });
  });

  it('follows mtimes, not names, for what is before what', async () => {
    // A dump named as the oldest but written last is the newest.
    const a = await writeDump(30, { manifest: 100 * MB });
    const b = await writeDump(20, { manifest: 100 * MB });
    const late = await writeDump(40, { manifest: MB });
    await utimes(path.join(dir, late), NOW_S - HOUR_S, NOW_S - HOUR_S);
    const { backups } = await readInventory(dir);
    expect(backups.map((x) => x.name)).toEqual([late, b, a]);
    const verdicts = await assessSizes(backups, WEEK);
    expect(verdictOf(verdicts, late)).toMatchObject({ comparedWith: 2, suspect: true });
  });

  it('takes as baseline only the dumps at most the baseline period older, by mtime', async () => {
    await writeDump(240, { manifest: 100 * MB });
    await writeDump(216, { manifest: 100 * MB });
    const small = await writeDump(1, { manifest: MB });
    const { backups } = await readInventory(dir);
    // The large dumps are 239 and 215 hours older than the small one.
    expect(verdictOf(await assessSizes(backups, WEEK), small)).toEqual({ rawBytes: MB, medianBytes: null, comparedWith: 0, suspect: false });
    expect(verdictOf(await assessSizes(backups, { dropRatio: 0.5, baselineMs: 9 * DAY }), small)).toMatchObject({ comparedWith: 1, suspect: true });
    expect(verdictOf(await assessSizes(backups, { dropRatio: 0.5, baselineMs: 10 * DAY }), small)).toMatchObject({
      medianBytes: 100 * MB,
      comparedWith: 2,
      suspect: true,
    });
  });

  it('suspects nothing on disk with a ratio of 0', async () => {
    await writeDump(30, { manifest: 100 * MB });
    await writeDump(20, { manifest: 100 * MB });
    await writeDump(10, { manifest: MB });
    const verdicts = await assessSizes((await readInventory(dir)).backups, { ...WEEK, dropRatio: 0 });
    expect([...verdicts.values()].filter((v) => v.suspect)).toEqual([]);
  });
});
