import path from 'node:path';
import { readInventory } from './backup/inventory.js';
import { readManifest } from './backup/manifest.js';
import { manifestFileName } from './backup/naming.js';
import type { SidecarEvent } from './events.js';
import { readRunState, type RunState, writeRunState } from './run-state.js';

export interface StoredRun {
  readonly finishedAt: Date;
  readonly file: string;
  readonly storedBytes: number;
  readonly durationMs: number;
}

/**
 * What the runs have done so far: the facts /health and the "last ..." metrics report. Kept from
 * the events, and seeded at start-up from the newest good manifests (when the last backup
 * succeeded) and the run state file (the failures since, and a run the last process never
 * finished, which counts as a failure), so that a restart, or a crash loop, forgets nothing.
 */
export class RunHistory {
  lastSuccess: StoredRun | null = null;
  previousSuccess: StoredRun | null = null;
  lastFailure: { readonly at: Date; readonly cause: string } | null = null;
  consecutiveFailures = 0;
  runInFlight: string | null = null;
  /** Runs this process has finished, either way. */
  runsFinished = 0;
  #runStartedAt: Date | null = null;
  /** Where the state is kept; unset, nothing is written (tests of the views alone). */
  #stateDir: string | null = null;
  #saving: Promise<unknown> = Promise.resolve();

  static async fromDisk(dir: string): Promise<RunHistory> {
    const history = new RunHistory();
    history.#stateDir = dir;
    const good = (await readInventory(dir)).backups.filter((b) => b.checksummed);
    const runs: StoredRun[] = [];
    for (const backup of good) {
      const manifest = await readManifest(path.join(dir, manifestFileName(backup.name)));
      if (manifest) {
        runs.push({
          finishedAt: new Date(manifest.finishedAt),
          file: backup.name,
          storedBytes: manifest.storedBytes,
          durationMs: manifest.durationMs,
        });
      }
      if (runs.length === 2) break;
    }
    history.lastSuccess = runs[0] ?? null;
    history.previousSuccess = runs[1] ?? null;
    const state = await readRunState(dir);
    if (state) history.#resume(state);
    // Written before the first run, so that a crash before it does not count the same run again.
    history.#save();
    await history.flush();
    return history;
  }

  #resume(state: RunState): void {
    let failures = state.consecutiveFailures;
    let lastFailure = state.lastFailure && { at: new Date(state.lastFailure.at), cause: state.lastFailure.cause };
    const unfinished = state.runInFlight;
    // Dated by its start: a dump published just before the kill (its success not yet recorded) is newer, and wins below.
    if (unfinished) {
      failures++;
      lastFailure = {
        at: new Date(unfinished.startedAt),
        cause: `the previous process ended during run ${unfinished.runId} (started ${unfinished.startedAt}) without finishing it: it was killed or crashed`,
      };
    }
    // A good backup after those failures (a `backup` by hand, which keeps no state) ends the series.
    if (lastFailure && this.lastSuccess && this.lastSuccess.finishedAt >= lastFailure.at) failures = 0;
    this.consecutiveFailures = failures;
    this.lastFailure = lastFailure;
  }

  /** Writes the state after the one before it, never two at once. */
  #save(): void {
    const dir = this.#stateDir;
    if (dir === null) return;
    const state: RunState = {
      formatVersion: 1,
      consecutiveFailures: this.consecutiveFailures,
      lastFailure: this.lastFailure && { at: this.lastFailure.at.toISOString(), cause: this.lastFailure.cause },
      runInFlight: this.runInFlight === null ? null : { runId: this.runInFlight, startedAt: (this.#runStartedAt ?? new Date()).toISOString() },
    };
    this.#saving = this.#saving.then(() => writeRunState(dir, state));
  }

  /** Resolves once every state change so far is written (or could not be). */
  async flush(): Promise<void> {
    await this.#saving;
  }

  readonly observe = (event: SidecarEvent): void => {
    switch (event.type) {
      case 'run.started':
        this.runInFlight = event.runId;
        this.#runStartedAt = new Date();
        this.#save();
        break;
      case 'backup.succeeded':
        this.previousSuccess = this.lastSuccess;
        this.lastSuccess = {
          finishedAt: new Date(event.finishedAt),
          file: event.file,
          storedBytes: event.storedBytes,
          durationMs: event.durationMs,
        };
        this.consecutiveFailures = 0;
        this.#finished();
        break;
      case 'backup.failed':
        this.lastFailure = { at: new Date(), cause: event.cause };
        this.consecutiveFailures++;
        this.#finished();
        break;
      default:
        break;
    }
  };

  #finished(): void {
    this.runInFlight = null;
    this.#runStartedAt = null;
    this.runsFinished++;
    this.#save();
  }
}
