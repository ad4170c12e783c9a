/**
 * "Healthy" means a good backup is recent, not that the process is up (that is /healthz): a
 * container can be up for a year without one good backup. Decided here, purely, from facts.
 */
export type HealthStatus = 'ok' | 'degraded' | 'starting' | 'stale' | 'failing' | 'no-backup' | 'no-directory';

/** This many failed runs in a row make the sidecar unhealthy even while the last backup is recent. */
export const FAILURES_UNHEALTHY = 3;

export interface HealthFacts {
  readonly nowMs: number;
  readonly startedAtMs: number;
  readonly maxAgeMs: number;
  readonly lastSuccessAtMs: number | null;
  readonly consecutiveFailures: number;
  /** Runs this process has finished; until the first one, a missing or old backup is forgiven. */
  readonly runsFinished: number;
  /** Why BACKUP_DIR cannot be used now ("BACKUP_DIR /backup/mysql does not exist"), or null. */
  readonly directoryProblem?: string | null;
  /** Why a secondary duty lags ("backup.log cannot be written: ENOSPC ..."): 200, but degraded. */
  readonly secondaryProblem?: string | null;
}

export function evaluateHealth(facts: HealthFacts): { status: HealthStatus; healthy: boolean; reason: string } {
  const verdict = evaluateBackups(facts);
  // Backups are what the status code answers for; a lagging log is worth a look, not a page.
  if (verdict.healthy && facts.secondaryProblem) return { status: 'degraded', healthy: true, reason: facts.secondaryProblem };
  return verdict;
}

function evaluateBackups(facts: HealthFacts): { status: HealthStatus; healthy: boolean; reason: string } {
  const age = facts.lastSuccessAtMs === null ? null : facts.nowMs - facts.lastSuccessAtMs;
  // First: no run can succeed, and the backups on it may be gone with it.
  if (facts.directoryProblem) return { status: 'no-directory', healthy: false, reason: facts.directoryProblem };
  if (facts.consecutiveFailures >= FAILURES_UNHEALTHY) {
    return { status: 'failing', healthy: false, reason: `the last ${facts.consecutiveFailures} runs failed` };
  }
  if (age !== null && age <= facts.maxAgeMs) {
    return { status: 'ok', healthy: true, reason: 'the newest good backup is younger than BACKUP_MAX_AGE' };
  }
  // Start-up grace: the first run may still be waiting for MySQL or dumping; bounded by the max age.
  if (facts.runsFinished === 0 && facts.nowMs - facts.startedAtMs < facts.maxAgeMs) {
    return { status: 'starting', healthy: true, reason: 'the first run of this process has not finished yet' };
  }
  if (age === null) return { status: 'no-backup', healthy: false, reason: 'there is no good backup' };
  return { status: 'stale', healthy: false, reason: 'the newest good backup is older than BACKUP_MAX_AGE' };
}

/**
 * Default BACKUP_MAX_AGE: two and a half times the longest gap between scheduled runs, i.e. one
 * missed run plus room for a slow dump: a run every 3 hours gives 7h30m.
 */
export function defaultMaxAgeMs(upcomingRuns: readonly Date[]): number {
  let longest = 0;
  for (let i = 1; i < upcomingRuns.length; i++) {
    longest = Math.max(longest, upcomingRuns[i]!.getTime() - upcomingRuns[i - 1]!.getTime());
  }
  return Math.round(longest * 2.5);
}
