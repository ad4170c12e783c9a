import { describe, expect, it } from 'vitest';
import type { StoredBackup } from '../../src/backup/inventory.js';
import { selectExpired } from '../../src/retention.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-23T12:00:00Z');

/** A dump `ageDays` old; `checksummed: false` stands for one whose .sha256 is missing. */
function dump(ageDays: number, checksummed = true): StoredBackup {
  const mtimeMs = NOW - ageDays * DAY;
  const name = `full_dump_${new Date(mtimeMs).toISOString().replace(/\D/g, '').slice(0, 14).replace(/^(\d{8})/, '$1_')}.sql.gz`;
  return { name, path: `/b/${name}`, mtimeMs, size: 100, checksummed, sidecars: [] };
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

  it('keeps nothing it was not given and deletes nothing twice', () => {
    const backups = [dump(2), dump(20), dump(30)];
    const plan = selectExpired(backups, { maxAgeMs: DAY, keepMin: 1 }, NOW);
    expect(new Set([...plan.expired, ...plan.kept])).toEqual(new Set(backups));
  });
});
