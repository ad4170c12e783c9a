import { randomUUID } from 'node:crypto';
import { readdir, readFile, readlink, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../errors.js';
import type { EventSink } from '../events.js';

/**
 * Rule: one writer per BACKUP_DIR. Node has no flock(2), and a volume may be shared by
 * containers that cannot see each other's processes, so a holder is a file in the directory
 * itself, `.mysql-backup-sidecar.<scope>.<id>.lock`, naming its host, pid, PID namespace and
 * purpose, whose mtime the holder refreshes as a heartbeat.
 *
 * Acquiring writes our own file first and then looks for others of the same scope (as restic
 * does): two contenders at the same moment both see each other and back off, so nothing
 * interleaves even then; nobody overwrites another's file, so there is no race over one.
 *
 * A holder is gone when its heartbeat is older than the stale time it declared, or at once when
 * it shares our host and PID namespace and its pid is dead. It is alive when it shares our PID
 * namespace and its pid runs, or when its heartbeat moves while we watch. Anything else is
 * waited for until it beats (alive) or goes stale: that is a sidecar restarted by Docker after a
 * crash, whose new container has a new PID namespace and cannot prove its predecessor dead any
 * other way. A holder judged stale wrongly (paused for longer than the stale time) finds its file
 * gone at its next beat and stops (`lost`), within one heartbeat.
 *
 * Scopes: `daemon` is held by `run` for its whole life (one daemon per directory); `writer` by
 * whatever changes the directory or the server's data while it works (a backup run with its
 * retention, prune, restore, drill, start-up cleanup).
 */
export type LockScope = 'daemon' | 'writer';

export interface LockHolder {
  readonly id: string;
  readonly scope: LockScope;
  /** What it does, for a person: "scheduled backup run", "restore of full_dump_... into db:3306". */
  readonly purpose: string;
  readonly host: string;
  readonly pid: number;
  /** `pid:[inode]` of /proc/self/ns/pid; '' where it cannot be read. */
  readonly pidNamespace: string;
  readonly startedAt: string;
  readonly heartbeatMs: number;
  readonly staleAfterMs: number;
}

export interface DirectoryLock {
  readonly holder: LockHolder;
  /** Aborts when another process removed our file, judging us stale (we were paused, or its clock jumped). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface LockOptions {
  readonly scope: LockScope;
  readonly purpose: string;
  readonly heartbeatMs?: number;
  readonly staleAfterMs?: number;
  /**
   * A directory we may not write to is held by no one of ours either: readers (restore, drill)
   * go on without a lock there, so that a read-only copy of the backups restores.
   */
  readonly readOnlyOk?: boolean;
  /** How long to wait for a live holder to finish before refusing; by default none. */
  readonly waitForHolderMs?: number;
  /** Stops a wait (shutdown). */
  readonly signal?: AbortSignal;
  /** We wait: for a live holder to finish (waitForHolderMs), or for one that missed beats to beat again or go stale. */
  readonly onWaiting?: (holder: LockHolder | null, heartbeatAgeMs: number) => void;
  /** A dead holder's file was removed. */
  readonly onStaleRemoved?: (holder: LockHolder | null, file: string, heartbeatAgeMs: number) => void;
}

export const LOCK_HEARTBEAT_MS = 10_000;
export const LOCK_STALE_AFTER_MS = 60_000;
/** How long the first of several started at once waits for the others to see it and back off. */
const LATECOMER_GRACE_MS = 3_000;

const LOCK_NAME = /^\.mysql-backup-sidecar\.(daemon|writer)\.([0-9a-f-]+)\.lock$/;
const lockFileName = (scope: LockScope, id: string) => `.mysql-backup-sidecar.${scope}.${id}.lock`;

/**
 * Ids of the locks this process holds or is acquiring: another lock file with our pid is a dead
 * predecessor's, these are not.
 */
const heldHere = new Set<string>();

export class DirectoryBusy extends UserError {
  readonly holder: LockHolder | null;

  constructor(dir: string, scope: LockScope, holder: LockHolder | null, heartbeatAgeMs: number) {
    const who = holder ? describeHolder(holder) : 'another process (its lock file is still being written)';
    const beat = `last heartbeat ${Math.round(heartbeatAgeMs / 1000)} s ago`;
    const daemonAtWork = holder?.purpose.startsWith('scheduled ') ?? false;
    super(
      scope === 'daemon'
        ? `another daemon is already running on BACKUP_DIR ${dir}: ${who} (${beat})`
        : `BACKUP_DIR ${dir} is in use: ${who} (${beat})`,
      {
        hint:
          scope === 'daemon'
            ? 'Two daemons on one directory would both dump and both prune it: stop the other one (another compose project on the same volume?), or give each its own BACKUP_DIR.'
            : daemonAtWork
              ? 'The sidecar daemon is at work there: wait for it to finish, or stop it first (docker compose stop mysql-backup), as the restore runbook does.'
              : 'Try again when it has finished. A holder whose heartbeat stops is taken over once it is stale.',
        exitCode: scope === 'daemon' ? 2 : 1,
      },
    );
    this.holder = holder;
  }
}

export function describeHolder(holder: LockHolder): string {
  return `${holder.purpose}, pid ${holder.pid} on host ${holder.host}, since ${holder.startedAt}`;
}

/**
 * `lock.waiting` and `lock.staleRemoved` events for what happens while acquiring; a command a
 * person waits on also says a wait on the terminal (`say`), since it may last up to a minute.
 */
export function lockEvents(
  emit: EventSink,
  dir: string,
  purpose: string,
  say?: (line: string) => void,
): Pick<LockOptions, 'onWaiting' | 'onStaleRemoved'> {
  const who = (holder: LockHolder | null) => (holder ? describeHolder(holder) : 'a holder whose lock file is unreadable');
  return {
    onWaiting: (holder, heartbeatAgeMs) => {
      emit({ type: 'lock.waiting', dir, purpose, holder: who(holder), heartbeatAgeMs });
      say?.(`waiting for BACKUP_DIR ${dir}: held by ${who(holder)}, whose heartbeat is ${Math.round(heartbeatAgeMs / 1000)} s old ...`);
    },
    onStaleRemoved: (holder, file, heartbeatAgeMs) => emit({ type: 'lock.staleRemoved', dir, file, holder: who(holder), heartbeatAgeMs }),
  };
}

export async function acquireDirectoryLock(dir: string, options: LockOptions): Promise<DirectoryLock> {
  const holder: LockHolder = {
    id: randomUUID(),
    scope: options.scope,
    purpose: options.purpose,
    host: os.hostname(),
    pid: process.pid,
    pidNamespace: await ownPidNamespace(),
    startedAt: new Date().toISOString(),
    heartbeatMs: options.heartbeatMs ?? LOCK_HEARTBEAT_MS,
    staleAfterMs: options.staleAfterMs ?? LOCK_STALE_AFTER_MS,
  };
  const file = path.join(dir, lockFileName(holder.scope, holder.id));
  // Marked ours before the file exists, so that no contender of this process takes it for a dead predecessor's.
  heldHere.add(holder.id);
  const watch: Watch = {
    waitForHolderUntil: Date.now() + (options.waitForHolderMs ?? 0),
    latecomersUntil: Date.now() + LATECOMER_GRACE_MS,
    seen: new Map(),
    reported: new Set(),
  };
  try {
    if (!(await createLockFile(file, holder, options))) {
      heldHere.delete(holder.id);
      return unheld(holder);
    }
    for (;;) {
      const { waitMs, onlyForLatecomers } = await checkOthers(dir, holder, options, watch);
      if (waitMs === 0) break;
      // Out of the way while waiting, so that two waiters never hold each other off (the jitter
      // keeps them from meeting again at the same instant); but in sight of latecomers, which back
      // off when they see us.
      if (!onlyForLatecomers) await unlinkIfPresent(file);
      await sleep(waitMs * (0.5 + Math.random()), undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
      if (options.signal?.aborted) throw new UserError(`gave up waiting for BACKUP_DIR ${dir}: the wait was cancelled`);
      if (!onlyForLatecomers && !(await createLockFile(file, holder, options))) throw new UserError(`BACKUP_DIR ${dir} became read-only while waiting for it`);
    }
  } catch (error) {
    // What failed first is the answer; a cleanup that fails too (the directory is gone) is not.
    // The file goes before the mark, as in release(): a contender of this process that sees it
    // meanwhile must not take it for a dead predecessor's (and log a stale lock removed).
    await unlinkIfPresent(file).catch(() => false);
    heldHere.delete(holder.id);
    throw error;
  }
  return startHeartbeat(file, holder, (await stat(dir)).ino);
}

/** False where the directory is read-only and the caller may read without a lock. */
async function createLockFile(file: string, holder: LockHolder, options: LockOptions): Promise<boolean> {
  try {
    await writeFile(file, `${JSON.stringify(holder)}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (options.readOnlyOk && ['EROFS', 'EACCES', 'EPERM'].includes(code)) return false;
    throw new UserError(`cannot create a lock file in BACKUP_DIR ${path.dirname(file)} (${code})`, {
      hint: 'Make the backup volume writable by the user the sidecar runs as.',
    });
  }
}

/** Runs `work` holding the lock; `work` gets a signal that aborts if the lock is lost. */
export async function withDirectoryLock<T>(dir: string, options: LockOptions, work: (lost: AbortSignal) => Promise<T>): Promise<T> {
  const lock = await acquireDirectoryLock(dir, options);
  try {
    return await work(lock.lost);
  } finally {
    await lock.release();
  }
}

/** What one acquisition has seen of the other holders, across its looks. */
interface Watch {
  readonly waitForHolderUntil: number;
  readonly latecomersUntil: number;
  /** Each holder's file and the mtime it had when first seen; one that moved has proved it lives. */
  readonly seen: Map<string, number>;
  readonly reported: Set<string>;
}

/**
 * Removes the files of holders that are gone; throws DirectoryBusy for a live one; returns how
 * long to wait before looking again (0: the directory is ours).
 */
async function checkOthers(
  dir: string,
  own: LockHolder,
  options: LockOptions,
  watch: Watch,
): Promise<{ waitMs: number; onlyForLatecomers: boolean }> {
  let waitMs = 0;
  let onlyForLatecomers = true;
  for (const { holder, file, mtimeMs } of await readOtherHolders(dir, own)) {
    const heartbeatAgeMs = Math.max(0, Date.now() - mtimeMs);
    const staleAfterMs = holder?.staleAfterMs ?? own.staleAfterMs;
    const pid = holder ? neighbourState(holder, own) : 'elsewhere';
    if (heartbeatAgeMs > staleAfterMs || pid === 'dead') {
      // Gone already: released between our read and now, not stale.
      if (await unlinkIfPresent(file)) options.onStaleRemoved?.(holder, path.basename(file), heartbeatAgeMs);
      continue;
    }
    const firstSeen = watch.seen.get(file);
    if (firstSeen === undefined) watch.seen.set(file, mtimeMs);
    const alive = pid === 'running' || (firstSeen !== undefined && mtimeMs > firstSeen);
    // Several started at once (three `backup`s from one cron line): the first of them goes on,
    // and waits a moment for the others, which see it and back off, rather than all refusing.
    if (alive && holder && isLatecomer(holder, own) && Date.now() < watch.latecomersUntil) {
      waitMs = Math.max(waitMs, 100);
      continue;
    }
    onlyForLatecomers = false;
    if (alive && Date.now() >= watch.waitForHolderUntil) throw new DirectoryBusy(dir, own.scope, holder, heartbeatAgeMs);
    const heartbeatMs = holder?.heartbeatMs ?? own.heartbeatMs;
    // A wait worth a line: for a live holder, or one that missed beats; one line per holder, not per look.
    if ((alive || heartbeatAgeMs > 2 * heartbeatMs) && !watch.reported.has(file)) {
      watch.reported.add(file);
      options.onWaiting?.(holder, heartbeatAgeMs);
    }
    waitMs = Math.max(waitMs, Math.min(1_000, heartbeatMs / 2, staleAfterMs - heartbeatAgeMs + 1));
  }
  return { waitMs, onlyForLatecomers: waitMs > 0 && onlyForLatecomers };
}

/** Started after us (ties broken by id), so it yields to us; only for a moment, against clock skew between hosts. */
const isLatecomer = (holder: LockHolder, own: LockHolder) =>
  holder.startedAt > own.startedAt || (holder.startedAt === own.startedAt && holder.id > own.id);

async function readOtherHolders(dir: string, own: LockHolder) {
  const others: Array<{ holder: LockHolder | null; file: string; mtimeMs: number }> = [];
  for (const name of await readdir(dir)) {
    const match = LOCK_NAME.exec(name);
    if (!match || match[1] !== own.scope || match[2] === own.id) continue;
    const file = path.join(dir, name);
    const stats = await stat(file).catch(() => null);
    if (!stats) continue; // released meanwhile
    const holder = await readFile(file, 'utf8').then(parseHolder, () => null);
    others.push({ holder, file, mtimeMs: stats.mtimeMs });
  }
  return others;
}

function parseHolder(text: string): LockHolder | null {
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string' || typeof parsed.purpose !== 'string') return null;
    // Bounds on what a holder declares, so that a corrupt file cannot block the directory forever.
    const bounded = (value: unknown, fallback: number) =>
      typeof value === 'number' && value >= 100 && value <= 10 * LOCK_STALE_AFTER_MS ? value : fallback;
    return {
      ...(parsed as LockHolder),
      heartbeatMs: bounded(parsed.heartbeatMs, LOCK_HEARTBEAT_MS),
      staleAfterMs: bounded(parsed.staleAfterMs, LOCK_STALE_AFTER_MS),
    };
  } catch {
    return null;
  }
}

/**
 * What a holder's pid tells us: only in our own host and PID namespace does it name the same
 * process, and then it is running or dead; anywhere else it tells nothing.
 */
function neighbourState(holder: LockHolder, own: LockHolder): 'running' | 'dead' | 'elsewhere' {
  if (holder.host !== own.host || !own.pidNamespace || holder.pidNamespace !== own.pidNamespace) return 'elsewhere';
  // Our pid: ours if we hold or are acquiring it, else a predecessor's that had the same pid.
  if (holder.pid === own.pid) return heldHere.has(holder.id) ? 'running' : 'dead';
  try {
    process.kill(holder.pid, 0);
    return 'running';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? 'dead' : 'running';
  }
}

/**
 * Refreshes the file's mtime every heartbeatMs. A file gone from a directory that is still the
 * same one (`dirIno`) was removed by another process: the lock is lost. A directory removed, or
 * replaced by a new one (a volume remounted), is not: our file is put back once it is there.
 */
function startHeartbeat(file: string, holder: LockHolder, dirIno: number): DirectoryLock {
  const lost = new AbortController();
  let expectedIno = dirIno;
  const beat = async () => {
    const now = new Date();
    try {
      await utimes(file, now, now);
    } catch (error) {
      // Any other error (a volume gone read-only) is not a lost lock: keep beating, the run reports it.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || lost.signal.aborted) return;
      const dir = await stat(path.dirname(file)).catch(() => null);
      if (dir === null) return;
      if (dir.ino !== expectedIno) {
        expectedIno = dir.ino;
        await writeFile(file, `${JSON.stringify(holder)}\n`, { flag: 'wx', mode: 0o600 }).catch(() => undefined);
        return;
      }
      lost.abort(
        new UserError(`the lock on ${path.dirname(file)} was removed by another process, which judged this one stale; stopping so that two writers never interleave`),
      );
    }
  };
  const timer = setInterval(() => void beat(), holder.heartbeatMs);
  timer.unref();
  return {
    holder,
    lost: lost.signal,
    async release() {
      clearInterval(timer);
      // The file goes first: while it exists, a contender of this process must see it as ours. A
      // file that cannot be removed (the volume went read-only) is left to go stale: our pid is
      // then a dead predecessor's to this process, and its heartbeat stops for everyone else.
      await unlinkIfPresent(file).catch(() => false);
      heldHere.delete(holder.id);
    },
  };
}

function unheld(holder: LockHolder): DirectoryLock {
  return { holder, lost: new AbortController().signal, release: async () => undefined };
}

async function ownPidNamespace(): Promise<string> {
  return readlink('/proc/self/ns/pid').catch(() => '');
}

/** False when it was gone already. */
async function unlinkIfPresent(file: string): Promise<boolean> {
  return unlink(file).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      return false;
    },
  );
}
