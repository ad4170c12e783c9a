import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Duty, EventSink } from './events.js';
import { CronTimes } from './schedule-times.js';

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
 * The timer wakes at least this often and reads the wall clock: a machine that was suspended, or
 * a clock set forward, is noticed within a minute (timers count monotonic time, which a suspend stops).
 */
const MAX_TIMER_MS = 60_000;
/** A tick this late is logged (schedule.late); it runs either way. */
const LATE_MS = 5_000;
/** Ticks counted when a late one merges those due meanwhile; a week suspended on a 1 s schedule need not be walked. */
const MAX_MERGED = 10_000;

/**
 * Runs `run` on a cron schedule, one at a time. A tick that comes while a run is in flight is
 * skipped, logged and counted, never queued: a queue behind a slow dump would fire the next
 * dump straight after it, loading the server twice for one interval's worth of changes.
 */
export class BackupScheduler {
  readonly #times: CronTimes;
  readonly #run: ScheduledRun;
  readonly #emit: EventSink;
  readonly #duty: Duty;
  #current: InFlight | undefined;
  #skipped = 0;
  #stopped = false;
  /** The instant (Unix ms) of the next tick, once started. */
  #due: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { expression: string; timeZone: string; run: ScheduledRun; emit: EventSink; duty?: Duty }) {
    this.#duty = options.duty ?? 'backup';
    this.#run = options.run;
    this.#emit = options.emit;
    this.#times = new CronTimes(options.expression, options.timeZone);
  }

  start(): void {
    this.#due = this.#times.nextAfter(Date.now());
    this.#arm();
  }

  get nextRun(): Date | null {
    return this.#stopped ? null : new Date(this.#due ?? this.#times.nextAfter(Date.now()));
  }

  get runInFlight(): string | null {
    return this.#current?.runId ?? null;
  }

  get skippedTotal(): number {
    return this.#skipped;
  }

  #arm(): void {
    if (this.#stopped || this.#due === undefined) return;
    const wait = Math.min(Math.max(0, this.#due - Date.now()), MAX_TIMER_MS);
    this.#timer = setTimeout(() => this.#tick(), wait);
  }

  /**
   * A tick that comes late (the event loop was blocked, the machine suspended) still runs, once:
   * every tick due meanwhile merges into that one run, rather than vanishing or queueing up.
   */
  #tick(): void {
    const now = Date.now();
    const due = this.#due!;
    if (now < due) return this.#arm();
    let mergedTicks = 0;
    let next = due;
    while (next <= now && mergedTicks < MAX_MERGED) {
      mergedTicks++;
      next = this.#times.nextAfter(next);
    }
    this.#due = next <= now ? this.#times.nextAfter(now) : next;
    if (now - due >= LATE_MS) {
      this.#emit({ type: 'schedule.late', duty: this.#duty, dueAt: new Date(due).toISOString(), lateMs: now - due, mergedTicks, nextRun: new Date(this.#due).toISOString() });
    }
    this.trigger();
    this.#arm();
  }

  /** Starts a run now unless one is in flight (then counts a skip). */
  trigger(): void {
    if (this.#stopped) return;
    const current = this.#current;
    if (current) {
      this.#skipped++;
      this.#emit({
        type: 'schedule.skipped',
        duty: this.#duty,
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
    clearTimeout(this.#timer);
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
  return new CronTimes(expression, timeZone).upcoming(Date.now(), count);
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
