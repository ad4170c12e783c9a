import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTask, type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import type { EventSink } from './events.js';

/** One unit of scheduled work; it must settle (never hang) once `signal` aborts. */
export type ScheduledRun = (runId: string, signal: AbortSignal) => Promise<void>;

export type StopOutcome = 'idle' | 'finished' | 'abandoned';

interface InFlight {
  readonly runId: string;
  readonly startedAt: number;
  readonly done: Promise<void>;
  readonly abort: AbortController;
}

/**
 * Runs `run` on a cron schedule, one at a time. A tick that comes while a run is in flight is
 * skipped, logged and counted, never queued: a queue behind a slow dump would fire the next
 * dump straight after it, loading the server twice for one interval's worth of changes.
 */
export class BackupScheduler {
  readonly #task: ScheduledTask;
  readonly #run: ScheduledRun;
  readonly #emit: EventSink;
  #current: InFlight | undefined;
  #skipped = 0;
  #stopped = false;

  constructor(options: { expression: string; timeZone: string; run: ScheduledRun; emit: EventSink; cronLogger?: CronLogger }) {
    this.#run = options.run;
    this.#emit = options.emit;
    this.#task = createTask(options.expression, () => this.trigger(), {
      timezone: options.timeZone,
      name: 'backup',
      ...(options.cronLogger ? { logger: options.cronLogger } : {}),
    });
  }

  start(): void {
    void this.#task.start();
  }

  get nextRun(): Date | null {
    return this.#stopped ? null : this.#task.getNextRun();
  }

  get runInFlight(): string | null {
    return this.#current?.runId ?? null;
  }

  get skippedTotal(): number {
    return this.#skipped;
  }

  /** Starts a run now unless one is in flight (then counts a skip). */
  trigger(): void {
    if (this.#stopped) return;
    const current = this.#current;
    if (current) {
      this.#skipped++;
      this.#emit({
        type: 'schedule.skipped',
        runningRunId: current.runId,
        runningForMs: Date.now() - current.startedAt,
        skippedTotal: this.#skipped,
        nextRun: this.nextRun?.toISOString() ?? null,
      });
      return;
    }
    const abort = new AbortController();
    const runId = randomUUID().slice(0, 8);
    const done = this.#run(runId, abort.signal).finally(() => {
      if (this.#current?.runId === runId) this.#current = undefined;
    });
    this.#current = { runId, startedAt: Date.now(), done, abort };
  }

  /**
   * Stops scheduling; a run in flight gets `graceMs` to finish and is then abandoned (its
   * signal aborts: mysqldump is stopped and its partial file removed). Resolves once nothing runs.
   */
  async stop(graceMs: number): Promise<StopOutcome> {
    this.#stopped = true;
    await this.#task.destroy();
    const current = this.#current;
    if (!current) return 'idle';
    const grace = new AbortController();
    const finished = await Promise.race([
      current.done.then(() => true),
      sleep(graceMs, false, { signal: grace.signal }).catch(() => false),
    ]);
    grace.abort();
    if (finished) return current.abort.signal.aborted ? 'abandoned' : 'finished';
    current.abort.abort();
    await current.done;
    return 'abandoned';
  }

  /** Abandons the run in flight at once (a second signal); `stop` still resolves when it settled. */
  abortNow(): void {
    this.#current?.abort.abort();
  }
}

/** The next `count` times `expression` fires in `timeZone`, for deriving how stale a backup may get. */
export function upcomingRuns(expression: string, timeZone: string, count: number): Date[] {
  const probe = createTask(expression, () => undefined, { timezone: timeZone });
  try {
    return probe.getNextRuns(count);
  } finally {
    void probe.destroy();
  }
}

/**
 * The schedule's interval as BACKUP_ON_START judges a recent backup: the shortest gap between its
 * upcoming runs, so that an irregular schedule errs towards taking the start-up backup.
 */
export function shortestGapMs(runs: readonly Date[]): number {
  let shortest = Infinity;
  for (let i = 1; i < runs.length; i++) shortest = Math.min(shortest, runs[i]!.getTime() - runs[i - 1]!.getTime());
  return shortest;
}
