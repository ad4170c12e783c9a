import { describe, expect, it } from 'vitest';
import { defaultMaxAgeMs, evaluateHealth, FAILURES_UNHEALTHY, type HealthFacts } from '../../src/health.js';

const MIN = 60_000;
const NOW = Date.parse('2026-11-23T12:00:00Z');
const facts = (f: Partial<HealthFacts>): HealthFacts => ({
  nowMs: NOW,
  startedAtMs: NOW - 600 * MIN,
  maxAgeMs: 60 * MIN,
  lastSuccessAtMs: NOW - 10 * MIN,
  consecutiveFailures: 0,
  runsFinished: 5,
  ...f,
});

describe('health', () => {
  it.each([
    ['a recent backup is healthy', {}, 'ok', true],
    ['a backup older than the max age is stale', { lastSuccessAtMs: NOW - 61 * MIN }, 'stale', false],
    ['no backup at all is unhealthy', { lastSuccessAtMs: null }, 'no-backup', false],
    ['runs that keep failing are unhealthy even with a recent backup', { consecutiveFailures: FAILURES_UNHEALTHY }, 'failing', false],
    ['a failure or two with a recent backup is still healthy', { consecutiveFailures: FAILURES_UNHEALTHY - 1 }, 'ok', true],
    ['before its first run finishes, a new process is starting', { lastSuccessAtMs: null, runsFinished: 0, startedAtMs: NOW - MIN }, 'starting', true],
    ['the start-up grace also covers an old backup on disk', { lastSuccessAtMs: NOW - 600 * MIN, runsFinished: 0, startedAtMs: NOW - MIN }, 'starting', true],
    ['the start-up grace ends after the max age', { lastSuccessAtMs: null, runsFinished: 0, startedAtMs: NOW - 61 * MIN }, 'no-backup', false],
    ['a missing BACKUP_DIR is unhealthy, whatever else holds', { directoryProblem: 'BACKUP_DIR /b does not exist', runsFinished: 0, startedAtMs: NOW - MIN }, 'no-directory', false],
    ['the grace ends with the first finished run', { lastSuccessAtMs: null, runsFinished: 1, startedAtMs: NOW - MIN }, 'no-backup', false],
    ['a log that cannot be written degrades a healthy sidecar, which stays 200', { secondaryProblem: 'backup.log cannot be written: ENOSPC' }, 'degraded', true],
    ['a lagging log does not hide stale backups', { secondaryProblem: 'backup.log cannot be written: ENOSPC', lastSuccessAtMs: NOW - 61 * MIN }, 'stale', false],
    ['a lagging log does not hide failing runs', { secondaryProblem: 'backup.log cannot be written: ENOSPC', consecutiveFailures: FAILURES_UNHEALTHY }, 'failing', false],
  ] as const)('%s', (_rule, change, status, healthy) => {
    expect(evaluateHealth(facts(change))).toMatchObject({ status, healthy });
  });
});

describe('the default BACKUP_MAX_AGE', () => {
  const at = (...hours: number[]) => hours.map((h) => new Date(NOW + h * 3_600_000));

  it('is two and a half of the longest gap between runs', () => {
    expect(defaultMaxAgeMs(at(0, 3, 6, 9))).toBe(7.5 * 3_600_000);
    // Uneven schedules (e.g. "0 6,18 * * *" hours apart 12, 12; "0 9 * * 1-5" has a weekend) use the longest gap.
    expect(defaultMaxAgeMs(at(0, 24, 48, 120))).toBe(2.5 * 72 * 3_600_000);
  });
});
