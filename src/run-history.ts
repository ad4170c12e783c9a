import path from 'node:path';
import { readInventory } from './backup/inventory.js';
import { readManifest } from './backup/manifest.js';
import { manifestFileName } from './backup/naming.js';
import type { SidecarEvent } from './events.js';

export interface StoredRun {
  readonly finishedAt: Date;
  readonly file: string;
  readonly storedBytes: number;
  readonly durationMs: number;
}

/**
 * What the runs have done so far: the facts /health and the "last ..." metrics report. Kept from
 * the events, and seeded at start-up from the newest good manifests so that a restart does not
 * forget when the last backup succeeded.
 */
export class RunHistory {
  lastSuccess: StoredRun | null = null;
  previousSuccess: StoredRun | null = null;
  lastFailure: { readonly at: Date; readonly cause: string } | null = null;
  consecutiveFailures = 0;
  runInFlight: string | null = null;
  /** Runs this process has finished, either way. */
  runsFinished = 0;

  static async fromDisk(dir: string): Promise<RunHistory> {
    const history = new RunHistory();
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
    return history;
  }

  readonly observe = (event: SidecarEvent): void => {
    switch (event.type) {
      case 'run.started':
        this.runInFlight = event.runId;
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
    this.runsFinished++;
  }
}
