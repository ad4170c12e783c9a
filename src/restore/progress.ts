import type { EventSink } from '../events.js';
import { formatMiB } from '../units.js';

/** Between log lines when nobody watches a terminal: often enough to tell a stuck restore from a slow one. */
export const PROGRESS_LOG_INTERVAL_MS = 30_000;
const DRAW_INTERVAL_MS = 250;

export type RestorePhase = 'dump' | 'binlog';

/**
 * Progress of one phase of a restore: on a terminal, a line redrawn in place (bytes, rate, time
 * left); otherwise a `restore.progress` event and a line on stderr every 30 s.
 */
export function progressReporter(options: {
  readonly file: string;
  readonly phase: RestorePhase;
  readonly totalBytes: number;
  readonly terminal: boolean;
  readonly write: (text: string) => void;
  readonly emit: EventSink;
  readonly now?: () => number;
}): { update(bytes: number): void; finish(): void } {
  const now = options.now ?? Date.now;
  const began = now();
  let drawnAt = 0;
  let loggedAt = began;
  let drawn = false;
  const describe = (bytes: number) => {
    const elapsedS = Math.max(0.001, (now() - began) / 1000);
    const rate = bytes / elapsedS;
    const total = Math.max(bytes, options.totalBytes);
    const percent = total > 0 ? Math.floor((bytes / total) * 100) : 100;
    const left = rate > 0 ? Math.round((total - bytes) / rate) : null;
    const what = options.phase === 'dump' ? 'dump' : 'binlog replay';
    return {
      percent,
      rate,
      line: `${what}: ${percent}% (${formatMiB(bytes)} of ${formatMiB(total)}), ${formatMiB(rate)}/s${left !== null ? `, ${formatSeconds(left)} left` : ''}`,
    };
  };
  return {
    update(bytes) {
      const t = now();
      if (options.terminal) {
        if (t - drawnAt < DRAW_INTERVAL_MS) return;
        drawnAt = t;
        drawn = true;
        options.write(`\r  ${describe(bytes).line}\u001b[K`);
        return;
      }
      if (t - loggedAt < PROGRESS_LOG_INTERVAL_MS) return;
      loggedAt = t;
      const { percent, rate, line } = describe(bytes);
      options.emit({ type: 'restore.progress', file: options.file, phase: options.phase, percent, bytes, totalBytes: options.totalBytes, bytesPerSecond: Math.round(rate) });
      options.write(`  ${line}\n`);
    },
    finish() {
      if (drawn) options.write('\n');
      drawn = false;
    },
  };
}

const formatSeconds = (seconds: number) => (seconds >= 3600 ? `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min` : seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`);
