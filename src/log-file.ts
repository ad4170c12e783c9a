import { closeSync, existsSync, fstatSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Lines held in memory while the log cannot be written; later lines are counted and dropped. */
export const HOLD_BYTES = 4 * 1024 * 1024;
/** How often a failing log is tried again when no new line comes to try it. */
const RETRY_MS = 5_000;

export interface LogFileState {
  /** Why the file cannot be written now (`ENOSPC: no space left on device, write`), or null. */
  readonly problem: { readonly cause: string; readonly since: Date } | null;
  /** Bytes of lines waiting to be written. */
  readonly heldBytes: number;
  /** Lines dropped since start because the hold was full. */
  readonly droppedLines: number;
}

export interface LogFileEvents {
  /** The first write or open that failed; called once per failure, never from inside `write`. */
  onFailing(cause: string): void;
  /** Every held line is in the file again. */
  onRecovered(summary: { failedForMs: number; heldLines: number; droppedLines: number }): void;
}

/**
 * Rule: the log never stops a backup. backup.log lives on the backup volume, which fills up or
 * turns read-only; an exception from a log write would end the daemon (or fail the run that
 * logged), and with it every later backup. So a line that cannot be written waits in memory, up
 * to HOLD_BYTES, in order, and is written as soon as the file takes it again (at the next line
 * or within RETRY_MS); what did not fit is counted and reported when the log recovers.
 *
 * Writes are synchronous: a handful of lines a run, and a line about a failure must not be lost
 * when the process dies right after it.
 */
export class LogFile {
  #fd: number | null = null;
  /** Waiting lines, oldest first; the first may be the rest of a line a short write cut. */
  readonly #held: Buffer[] = [];
  #heldBytes = 0;
  #droppedLines = 0;
  #failure: { cause: string; since: Date; heldLines: number; droppedLines: number } | null = null;
  #retry: NodeJS.Timeout | null = null;

  readonly #holdBytes: number;
  readonly #retryMs: number;

  constructor(
    readonly path: string,
    private readonly events: LogFileEvents,
    options: { holdBytes?: number; retryMs?: number } = {},
  ) {
    this.#holdBytes = options.holdBytes ?? HOLD_BYTES;
    this.#retryMs = options.retryMs ?? RETRY_MS;
    try {
      // Only at start-up: a directory that disappears later (an unmounted volume) is never recreated.
      mkdirSync(dirname(this.path), { recursive: true });
      this.#fd = openSync(this.path, 'a');
    } catch (error) {
      this.#fail(error);
    }
  }

  get state(): LogFileState {
    const problem = this.#failure && { cause: this.#failure.cause, since: this.#failure.since };
    return { problem, heldBytes: this.#heldBytes, droppedLines: this.#droppedLines };
  }

  /** A pino destination's one duty. Never throws. */
  write(line: string): boolean {
    // Room may be back: the held lines go first, so that this one is not dropped for want of it.
    if (this.#failure) this.#drain();
    const bytes = Buffer.from(line);
    // The bound is for a log that cannot be written: a healthy one takes a line of any length.
    if (this.#failure && this.#heldBytes + bytes.length > this.#holdBytes) {
      this.#droppedLines++;
      this.#failure.droppedLines++;
    } else {
      this.#held.push(bytes);
      this.#heldBytes += bytes.length;
      if (this.#failure) this.#failure.heldLines++;
    }
    this.#drain();
    return true;
  }

  /** Opens the path again (logrotate renamed the file away); lines wait if it cannot be opened. */
  reopen(): void {
    this.#close();
    this.#drain();
  }

  /**
   * Reopens only when the path no longer names the open file (renamed, deleted, or BACKUP_DIR
   * replaced) and its directory exists; cheap enough to call before every run.
   */
  reopenIfMoved(): void {
    try {
      if (this.#fd !== null) {
        const open = fstatSync(this.#fd);
        const onDisk = statSync(this.path, { throwIfNoEntry: false });
        if (onDisk?.ino === open.ino && onDisk.dev === open.dev) return;
      }
      // A directory renamed away and back (a remount) keeps the open file the right one.
      if (!existsSync(dirname(this.path))) return;
    } catch {
      // fstat of an open descriptor does not fail; the next write would tell anyway.
    }
    this.reopen();
  }

  /** Writes what is held; the first failure starts (or continues) the failing state. */
  #drain(): void {
    try {
      this.#fd ??= openSync(this.path, 'a');
      while (this.#held.length > 0) {
        const head = this.#held[0]!;
        const written = writeSync(this.#fd, head);
        this.#heldBytes -= written;
        if (written < head.length) this.#held[0] = head.subarray(written);
        else this.#held.shift();
      }
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#failure) this.#recover();
  }

  #fail(error: unknown): void {
    const cause = (error as Error).message ?? String(error);
    if (this.#failure) {
      this.#failure.cause = cause;
      return;
    }
    this.#failure = { cause, since: new Date(), heldLines: this.#held.length, droppedLines: 0 };
    // Not a reason to keep the process alive: a command that ends loses its held lines, as it would its stdout.
    this.#retry = setInterval(() => this.#drain(), this.#retryMs).unref();
    // After the write that failed returns: the callback logs, and that line must not nest inside it.
    queueMicrotask(() => this.events.onFailing(cause));
  }

  #recover(): void {
    const failure = this.#failure!;
    this.#failure = null;
    clearInterval(this.#retry!);
    this.#retry = null;
    const summary = { failedForMs: Date.now() - failure.since.getTime(), heldLines: failure.heldLines, droppedLines: failure.droppedLines };
    queueMicrotask(() => this.events.onRecovered(summary));
  }

  #close(): void {
    if (this.#fd === null) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Closing a descriptor whose file system went away can fail; it is given up either way.
    }
    this.#fd = null;
  }
}
