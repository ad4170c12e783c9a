import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, open, readdir, readlink, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acquireDirectoryLock,
  type DirectoryLock,
  DirectoryBusy,
  type LockHolder,
  type LockOptions,
} from '../../../src/backup/directory-lock.js';
import { UserError } from '../../../src/errors.js';
import { makeTempDir } from '../../support/cli.js';

/** The built module, what a second process of the sidecar would load. */
const BUILT_MODULE = pathToFileURL(path.resolve(import.meta.dirname, '../../../dist/backup/directory-lock.js')).href;
const NOBODY = 65534;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let tempDirs: string[] = [];
let locks: DirectoryLock[] = [];
let children: ChildProcess[] = [];
let timers: Array<ReturnType<typeof setInterval>> = [];

async function tempDir(): Promise<string> {
  const dir = await makeTempDir('mbs-lock-');
  tempDirs.push(dir);
  return dir;
}

/**
 * Acquires and remembers the lock, so that a failing test still releases it. Returns only once
 * the clock has passed the lock's startedAt, so that an acquisition started afterwards started
 * strictly later: one started in the same millisecond would be told apart by id alone, and the
 * holder then taken for a latecomer to wait for (up to 3 s) half of the time.
 */
async function acquire(dir: string, options: LockOptions): Promise<DirectoryLock> {
  const lock = await acquireDirectoryLock(dir, options);
  locks.push(lock);
  while (Date.now() <= Date.parse(lock.holder.startedAt)) await sleep(1);
  return lock;
}

const lockFiles = async (dir: string) => (await readdir(dir)).filter((name) => name.endsWith('.lock')).sort();
const fileOf = (holder: LockHolder) => `.mysql-backup-sidecar.${holder.scope}.${holder.id}.lock`;

/** Writes a lock file by hand, as another holder would have, with its heartbeat `ageMs` old. */
async function plantHolder(dir: string, fields: Partial<LockHolder>, ageMs: number): Promise<{ holder: LockHolder; file: string }> {
  const holder: LockHolder = {
    id: randomUUID(),
    scope: 'writer',
    purpose: 'scheduled backup run on the other host',
    host: 'elsewhere',
    pid: 1,
    pidNamespace: 'pid:[1]',
    startedAt: new Date(Date.now() - 3_600_000).toISOString(),
    heartbeatMs: 10_000,
    staleAfterMs: 60_000,
    ...fields,
  };
  const file = path.join(dir, fileOf(holder));
  await writeFile(file, `${JSON.stringify(holder)}\n`, { flag: 'wx', mode: 0o600 });
  await setAge(file, ageMs);
  return { holder, file };
}

async function setAge(file: string, ageMs: number): Promise<void> {
  const time = new Date(Date.now() - ageMs);
  await utimes(file, time, time);
}

/** Refreshes a planted holder's mtime every `everyMs`, as its heartbeat would (stopped in afterEach, or by the caller). */
function keepBeating(file: string, everyMs: number): ReturnType<typeof setInterval> {
  const timer = setInterval(() => void setAge(file, 0).catch(() => undefined), everyMs);
  timers.push(timer);
  return timer;
}

/** Polls until `condition` holds or `timeoutMs` passes; returns whether it held. */
async function eventually(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/** Records what acquiring reported through its callbacks. */
function recorder() {
  const waiting: Array<{ holder: LockHolder | null; heartbeatAgeMs: number; at: number }> = [];
  const removed: Array<{ holder: LockHolder | null; file: string; heartbeatAgeMs: number; at: number }> = [];
  return {
    waiting,
    removed,
    callbacks: {
      onWaiting: (holder: LockHolder | null, heartbeatAgeMs: number) => waiting.push({ holder, heartbeatAgeMs, at: Date.now() }),
      onStaleRemoved: (holder: LockHolder | null, file: string, heartbeatAgeMs: number) =>
        removed.push({ holder, file, heartbeatAgeMs, at: Date.now() }),
    } satisfies Pick<LockOptions, 'onWaiting' | 'onStaleRemoved'>,
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error(`expected a rejection, got ${String(outcome)}`);
  return outcome;
}

/** Runs an ES module script in its own node process; stdout is collected as it comes. */
function startNode(script: string, options: { user?: number } = {}) {
  const command = options.user === undefined ? [process.execPath] : ['setpriv', `--reuid=${options.user}`, `--regid=${options.user}`, '--clear-groups', process.execPath];
  const child = spawn(command[0]!, [...command.slice(1), '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: os.tmpdir(),
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    get stdout() {
      return stdout;
    },
    /** The first line printed, parsed; fails if the process ends first. */
    async firstLine(timeoutMs = 30_000): Promise<Record<string, unknown>> {
      const deadline = Date.now() + timeoutMs;
      while (!stdout.includes('\n')) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`the child ended (${child.exitCode ?? child.signalCode}) before printing a line; stderr:\n${stderr}`);
        }
        if (Date.now() > deadline) throw new Error(`the child printed no line within ${timeoutMs} ms; stderr:\n${stderr}`);
        await sleep(50);
      }
      return JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as Record<string, unknown>;
    },
  };
}

afterEach(async () => {
  for (const timer of timers) clearInterval(timer);
  for (const lock of locks) await lock.release();
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
  for (const dir of tempDirs) {
    await chmod(dir, 0o700).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  tempDirs = [];
  locks = [];
  children = [];
  timers = [];
});

describe('the directory lock', () => {
  it('refuses a second holder of the same scope, naming the first, lets another scope in, and lets the second in after release', async () => {
    const dir = await tempDir();
    const first = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run' });
    expect(await lockFiles(dir)).toEqual([fileOf(first.holder)]);
    expect(first.holder).toMatchObject({ scope: 'writer', purpose: 'scheduled backup run', pid: process.pid, host: os.hostname() });

    const refused = await rejection(acquireDirectoryLock(dir, { scope: 'writer', purpose: 'prune' }));
    expect(refused).toBeInstanceOf(DirectoryBusy);
    expect(refused).toBeInstanceOf(UserError);
    expect(refused.message).toContain('scheduled backup run');
    expect(refused.message).toContain(`pid ${process.pid}`);
    expect(refused.message).toContain(`host ${os.hostname()}`);
    expect(refused.message).toContain(`BACKUP_DIR ${dir} is in use`);
    expect((refused as DirectoryBusy).holder?.id).toBe(first.holder.id);
    expect((refused as DirectoryBusy).exitCode).toBe(1);
    // The holder is the daemon's scheduled run: stop the sidecar first.
    expect((refused as DirectoryBusy).hint).toContain('stop it first (docker compose stop mysql-backup)');
    // The refused attempt leaves nothing of its own behind, and the first holder's file is untouched.
    expect(await lockFiles(dir)).toEqual([fileOf(first.holder)]);
    expect(first.lost.aborted).toBe(false);

    const daemon = await acquire(dir, { scope: 'daemon', purpose: 'daemon (run)' });
    expect((await lockFiles(dir)).sort()).toEqual([fileOf(daemon.holder), fileOf(first.holder)].sort());
    const secondDaemon = await rejection(acquireDirectoryLock(dir, { scope: 'daemon', purpose: 'another daemon' }));
    expect(secondDaemon).toBeInstanceOf(DirectoryBusy);
    expect(secondDaemon.message).toContain(`another daemon is already running on BACKUP_DIR ${dir}`);
    expect(secondDaemon.message).toContain('daemon (run)');
    expect((secondDaemon as DirectoryBusy).exitCode).toBe(2);
    expect((secondDaemon as DirectoryBusy).hint).toContain('Two daemons on one directory');

    await first.release();
    expect(await lockFiles(dir)).toEqual([fileOf(daemon.holder)]);
    const second = await acquire(dir, { scope: 'writer', purpose: 'prune' });
    expect((await lockFiles(dir)).sort()).toEqual([fileOf(daemon.holder), fileOf(second.holder)].sort());
    await second.release();
    await daemon.release();
    expect(await lockFiles(dir)).toEqual([]);
  });

  it('refuses while another live process holds the lock, and takes over at once when that process is killed', async () => {
    const dir = await tempDir();
    const holderProcess = startNode(`
      import { acquireDirectoryLock } from ${JSON.stringify(BUILT_MODULE)};
      const lock = await acquireDirectoryLock(${JSON.stringify(dir)}, { scope: 'writer', purpose: 'restore in another process' });
      console.log(JSON.stringify({ id: lock.holder.id, pid: process.pid }));
      setInterval(() => {}, 1 << 30);
    `);
    const held = await holderProcess.firstLine();
    const childPid = holderProcess.child.pid!;
    expect(held.pid).toBe(childPid);
    expect(await lockFiles(dir)).toEqual([`.mysql-backup-sidecar.writer.${String(held.id)}.lock`]);

    const refused = await rejection(acquireDirectoryLock(dir, { scope: 'writer', purpose: 'scheduled backup run' }));
    expect(refused).toBeInstanceOf(DirectoryBusy);
    expect(refused.message).toContain('restore in another process');
    expect(refused.message).toContain(`pid ${childPid} on host ${os.hostname()}`);

    holderProcess.child.kill('SIGKILL');
    expect((await holderProcess.exited).signal).toBe('SIGKILL');

    const events = recorder();
    const lock = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', ...events.callbacks });
    // Its heartbeat is fresh, but it shares our host and PID namespace and its pid is dead: no wait.
    expect(events.waiting).toEqual([]);
    expect(events.removed).toHaveLength(1);
    expect(events.removed[0]!.holder).toMatchObject({ id: held.id, pid: childPid, host: os.hostname(), purpose: 'restore in another process' });
    expect(events.removed[0]!.file).toBe(`.mysql-backup-sidecar.writer.${String(held.id)}.lock`);
    expect(events.removed[0]!.heartbeatAgeMs).toBeLessThan(60_000);
    expect(await lockFiles(dir)).toEqual([fileOf(lock.holder)]);
  });

  it('refuses a holder on another host once its heartbeat is seen to move, without reporting a wait', async () => {
    const dir = await tempDir();
    const planted = await plantHolder(dir, { heartbeatMs: 200, staleAfterMs: 60_000 }, 0);
    // Alive on its host: its heartbeat refreshes the file every 100 ms.
    keepBeating(planted.file, 100);
    const events = recorder();
    const started = Date.now();

    const refused = await rejection(acquireDirectoryLock(dir, { scope: 'writer', purpose: 'prune', ...events.callbacks }));
    const elapsed = Date.now() - started;

    expect(refused).toBeInstanceOf(DirectoryBusy);
    expect(refused.message).toContain(`BACKUP_DIR ${dir} is in use: scheduled backup run on the other host, pid 1 on host elsewhere`);
    expect((refused as DirectoryBusy).holder?.id).toBe(planted.holder.id);
    expect((refused as DirectoryBusy).exitCode).toBe(1);
    expect((refused as DirectoryBusy).hint).toContain('stop it first');
    // Merely watching a fresh holder is no wait worth a line, and a beating one is not stale.
    expect(events.waiting).toEqual([]);
    expect(events.removed).toEqual([]);
    // Refused as soon as a beat was seen, long before its stale time (60 s).
    expect(elapsed).toBeLessThan(10_000);
    // pid 1 is alive here, but on another host it means nothing to us: the file stays, and ours is gone.
    expect(await lockFiles(dir)).toEqual([path.basename(planted.file)]);
  });

  it('watches a holder on another host with a fresh heartbeat that never beats, and takes over once it is stale', async () => {
    const dir = await tempDir();
    // Fresh when first seen (a crashed sidecar's last beat), but it never beats again.
    const planted = await plantHolder(dir, { heartbeatMs: 200, staleAfterMs: 1_500 }, 0);
    const events = recorder();
    const started = Date.now();

    const lock = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', ...events.callbacks });
    const elapsed = Date.now() - started;

    // Reported once, when it had missed beats (older than 2 x 200 ms), not while it was fresh.
    expect(events.waiting).toHaveLength(1);
    expect(events.waiting[0]!.holder).toMatchObject({ id: planted.holder.id, host: 'elsewhere' });
    expect(events.waiting[0]!.heartbeatAgeMs).toBeGreaterThan(400);
    expect(events.waiting[0]!.heartbeatAgeMs).toBeLessThanOrEqual(1_500);
    expect(events.removed).toHaveLength(1);
    expect(events.removed[0]!.holder).toMatchObject({ id: planted.holder.id, host: 'elsewhere' });
    expect(events.removed[0]!.file).toBe(path.basename(planted.file));
    expect(events.removed[0]!.heartbeatAgeMs).toBeGreaterThan(1_500);
    expect(events.removed[0]!.at).toBeGreaterThanOrEqual(events.waiting[0]!.at);
    // Not refused at once, nor taken at once: only after its declared stale time.
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    expect(elapsed).toBeLessThan(30_000);
    expect(await lockFiles(dir)).toEqual([fileOf(lock.holder)]);
    expect(lock.lost.aborted).toBe(false);
  });

  it('removes at once a holder on another host whose heartbeat is older than its stale time', async () => {
    const dir = await tempDir();
    const planted = await plantHolder(dir, {}, 120_000);
    const events = recorder();
    const started = Date.now();

    const lock = await acquire(dir, { scope: 'writer', purpose: 'prune', ...events.callbacks });

    expect(Date.now() - started).toBeLessThan(30_000);
    expect(events.waiting).toEqual([]);
    expect(events.removed).toHaveLength(1);
    expect(events.removed[0]!.holder).toMatchObject({ id: planted.holder.id, host: 'elsewhere' });
    expect(events.removed[0]!.file).toBe(path.basename(planted.file));
    expect(events.removed[0]!.heartbeatAgeMs).toBeGreaterThan(60_000);
    expect(await lockFiles(dir)).toEqual([fileOf(lock.holder)]);
  });

  it('waits up to waitForHolderMs for a beating holder on another host, reporting the wait once, and gets in when it releases', async () => {
    const dir = await tempDir();
    const planted = await plantHolder(dir, { heartbeatMs: 200, staleAfterMs: 60_000 }, 0);
    const beating = keepBeating(planted.file, 100);
    let releasedAt = 0;
    setTimeout(() => {
      clearInterval(beating);
      void unlink(planted.file).then(() => (releasedAt = Date.now()));
    }, 1_500);
    const events = recorder();
    const started = Date.now();

    const lock = await acquire(dir, { scope: 'writer', purpose: 'prune', waitForHolderMs: 20_000, ...events.callbacks });
    const acquiredAt = Date.now();

    expect(releasedAt).toBeGreaterThan(0);
    expect(acquiredAt).toBeGreaterThanOrEqual(releasedAt);
    expect(acquiredAt - started).toBeGreaterThanOrEqual(1_400);
    // Once it was seen to beat: a live holder waited for, with a fresh heartbeat.
    expect(events.waiting).toHaveLength(1);
    expect(events.waiting[0]!.holder?.id).toBe(planted.holder.id);
    expect(events.waiting[0]!.heartbeatAgeMs).toBeLessThan(1_500);
    expect(events.removed).toEqual([]);
    expect(await lockFiles(dir)).toEqual([fileOf(lock.holder)]);
  });

  it('takes a lock file with this process\'s pid that is none of its own locks for a dead predecessor\'s', async () => {
    const dir = await tempDir();
    const pidNamespace = await readlink('/proc/self/ns/pid');
    const planted = await plantHolder(dir, { host: os.hostname(), pid: process.pid, pidNamespace, heartbeatMs: 200, staleAfterMs: 60_000 }, 0);
    const events = recorder();
    const started = Date.now();

    const lock = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', ...events.callbacks });

    // Fresh, but its pid is ours and it is not ours: no wait for its stale time (60 s).
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(events.waiting).toEqual([]);
    expect(events.removed).toHaveLength(1);
    expect(events.removed[0]!.holder?.id).toBe(planted.holder.id);
    expect(await lockFiles(dir)).toEqual([fileOf(lock.holder)]);
  });

  it('waits for a holder that missed beats until it is stale, then takes over', async () => {
    const dir = await tempDir();
    const planted = await plantHolder(dir, { heartbeatMs: 200, staleAfterMs: 1_500 }, 600);
    const events = recorder();
    const started = Date.now();

    const lock = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', ...events.callbacks });
    const elapsed = Date.now() - started;

    expect(events.waiting).toHaveLength(1);
    expect(events.waiting[0]!.holder).toMatchObject({ id: planted.holder.id, host: 'elsewhere' });
    expect(events.waiting[0]!.heartbeatAgeMs).toBeGreaterThanOrEqual(400);
    expect(events.removed).toHaveLength(1);
    expect(events.removed[0]!.holder?.id).toBe(planted.holder.id);
    expect(events.removed[0]!.heartbeatAgeMs).toBeGreaterThan(1_500);
    expect(events.removed[0]!.at).toBeGreaterThanOrEqual(events.waiting[0]!.at);
    // 1 500 ms stale time - 600 ms already passed.
    expect(elapsed).toBeGreaterThanOrEqual(800);
    expect(elapsed).toBeLessThan(10_000);
    expect(await lockFiles(dir)).toEqual([fileOf(lock.holder)]);
  });

  it('refuses a holder that missed beats once it beats again', async () => {
    const dir = await tempDir();
    const planted = await plantHolder(dir, { heartbeatMs: 200, staleAfterMs: 5_000 }, 1_000);
    // After ~300 ms the holder comes back and beats every 100 ms from then on.
    setTimeout(() => {
      const beat = () => void setAge(planted.file, 0).catch(() => undefined);
      beat();
      timers.push(setInterval(beat, 100));
    }, 300);
    const events = recorder();
    const started = Date.now();

    const refused = await rejection(acquireDirectoryLock(dir, { scope: 'writer', purpose: 'prune', ...events.callbacks }));
    const elapsed = Date.now() - started;

    expect(refused).toBeInstanceOf(DirectoryBusy);
    expect(refused.message).toContain('elsewhere');
    expect((refused as DirectoryBusy).holder?.id).toBe(planted.holder.id);
    expect(events.waiting).toHaveLength(1);
    expect(events.waiting[0]!.heartbeatAgeMs).toBeGreaterThanOrEqual(900);
    expect(events.removed).toEqual([]);
    // Refused after the beat came back, long before the holder would have been stale (4 s).
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(4_000);
    expect(await lockFiles(dir)).toEqual([path.basename(planted.file)]);
  });

  it('waits up to waitForHolderMs for a live holder to release, reporting the wait once', async () => {
    const dir = await tempDir();
    // A short heartbeat makes the waiter look again every 50-150 ms: many looks in the wait.
    const first = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', heartbeatMs: 100 });
    let releasedAt = 0;
    setTimeout(() => {
      void first.release().then(() => (releasedAt = Date.now()));
    }, 1_000);
    const events = recorder();
    const started = Date.now();

    const second = await acquire(dir, { scope: 'writer', purpose: 'prune', waitForHolderMs: 5_000, ...events.callbacks });
    const acquiredAt = Date.now();

    expect(releasedAt).toBeGreaterThan(0);
    expect(acquiredAt).toBeGreaterThanOrEqual(releasedAt);
    expect(acquiredAt - started).toBeGreaterThanOrEqual(900);
    expect(events.waiting).toHaveLength(1);
    expect(events.waiting[0]!.holder?.id).toBe(first.holder.id);
    expect(events.removed).toEqual([]);
    expect(first.lost.aborted).toBe(false);
    expect(await lockFiles(dir)).toEqual([fileOf(second.holder)]);
  });

  it('refuses when the live holder outlasts waitForHolderMs, leaving no file of its own', async () => {
    const dir = await tempDir();
    const first = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', heartbeatMs: 100 });
    const events = recorder();
    const started = Date.now();

    const refused = await rejection(acquireDirectoryLock(dir, { scope: 'writer', purpose: 'prune', waitForHolderMs: 700, ...events.callbacks }));

    expect(refused).toBeInstanceOf(DirectoryBusy);
    expect(refused.message).toContain('scheduled backup run');
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    expect(events.waiting).toHaveLength(1);
    expect(await lockFiles(dir)).toEqual([fileOf(first.holder)]);
    expect(first.lost.aborted).toBe(false);
  });

  it('stops waiting when its signal aborts', async () => {
    const dir = await tempDir();
    const first = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run' });
    const shutdown = new AbortController();
    setTimeout(() => shutdown.abort(), 300);
    const started = Date.now();

    const refused = await rejection(
      acquireDirectoryLock(dir, { scope: 'writer', purpose: 'prune', waitForHolderMs: 60_000, signal: shutdown.signal }),
    );

    expect(refused).toBeInstanceOf(UserError);
    expect(refused).not.toBeInstanceOf(DirectoryBusy);
    expect(refused.message).toBe(`gave up waiting for BACKUP_DIR ${dir}: the wait was cancelled`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(30_000);
    // The cancelled attempt leaves no file of its own.
    expect(await lockFiles(dir)).toEqual([fileOf(first.holder)]);
    expect(first.lost.aborted).toBe(false);
  });

  it('lets two contenders started at the same moment both in, one after the other', async () => {
    const dir = await tempDir();
    for (let round = 0; round < 3; round++) {
      const events = recorder();
      let holding = 0;
      let mostAtOnce = 0;
      const seenWhileHolding: string[][] = [];
      const contend = async (purpose: string) => {
        const lock = await acquireDirectoryLock(dir, { scope: 'writer', purpose, waitForHolderMs: 10_000, ...events.callbacks });
        holding++;
        mostAtOnce = Math.max(mostAtOnce, holding);
        seenWhileHolding.push(await lockFiles(dir));
        holding--;
        await lock.release();
        return lock;
      };

      const outcomes = await Promise.allSettled([contend('first contender'), contend('second contender')]);

      expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status))).toEqual(['fulfilled', 'fulfilled']);
      const [a, b] = outcomes.map((o) => (o as PromiseFulfilledResult<DirectoryLock>).value);
      expect(mostAtOnce).toBe(1);
      // While each held the lock, its own file was the only one.
      expect(seenWhileHolding.sort()).toEqual([[fileOf(a!.holder)], [fileOf(b!.holder)]].sort());
      // Neither took the other, alive in this very process, for a dead predecessor.
      expect(events.removed).toEqual([]);
      expect(await lockFiles(dir)).toEqual([]);
    }
  });

  it('lets exactly one of three acquisitions started at the same moment in, refusing the others, when none may wait', async () => {
    const dir = await tempDir();
    for (let round = 0; round < 4; round++) {
      const events = recorder();
      const purposes = ['first contender', 'second contender', 'third contender'];

      const outcomes = await Promise.allSettled(purposes.map((purpose) => acquire(dir, { scope: 'writer', purpose, ...events.callbacks })));

      const fulfilled = outcomes.filter((o): o is PromiseFulfilledResult<DirectoryLock> => o.status === 'fulfilled');
      const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(fulfilled, `round ${round}: ${outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status)).join('; ')}`).toHaveLength(1);
      expect(rejected).toHaveLength(2);
      const winner = fulfilled[0]!.value;
      for (const { reason } of rejected) {
        expect(reason).toBeInstanceOf(DirectoryBusy);
        // Refused on seeing another contender of this process, alive.
        const busy = reason as DirectoryBusy;
        expect(busy.holder).toMatchObject({ pid: process.pid, host: os.hostname() });
        expect(purposes).toContain(busy.holder?.purpose);
      }
      // None took another, alive in this very process, for a dead predecessor; the refused left nothing behind.
      expect(events.removed).toEqual([]);
      expect(await lockFiles(dir)).toEqual([fileOf(winner.holder)]);
      expect(winner.lost.aborted).toBe(false);
      await winner.release();
      expect(await lockFiles(dir)).toEqual([]);
    }
  });

  it('waits briefly for a live holder that started after it, keeping its own file in sight, and refuses if it never backs off', async () => {
    const dir = await tempDir();
    const pidNamespace = await readlink('/proc/self/ns/pid');
    expect(pidNamespace).toMatch(/^pid:\[\d+\]$/);
    // A neighbour in our host and PID namespace whose pid (1) runs, started after us.
    const latecomer = (purpose: string) =>
      plantHolder(dir, { host: os.hostname(), pid: 1, pidNamespace, purpose, startedAt: new Date(Date.now() + 60_000).toISOString() }, 0);

    // It backs off (its file goes) within the grace: we go on.
    const backsOff = await latecomer('backup started a moment later');
    const events = recorder();
    const started = Date.now();
    const acquiring = acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', ...events.callbacks });
    await sleep(700);
    // Still waiting, with our own file in place for the latecomer to see.
    const whileWaiting = await lockFiles(dir);
    expect(whileWaiting).toHaveLength(2);
    expect(whileWaiting).toContain(path.basename(backsOff.file));
    await unlink(backsOff.file);
    const lock = await acquiring;
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(whileWaiting).toContain(fileOf(lock.holder));
    expect(events.waiting).toEqual([]);
    expect(events.removed).toEqual([]);
    expect(await lockFiles(dir)).toEqual([fileOf(lock.holder)]);
    await lock.release();

    // It never backs off: refused once the grace (3 s) is over, naming it.
    const stays = await latecomer('backup that does not back off');
    const refusedAt = Date.now();
    const refused = await rejection(acquireDirectoryLock(dir, { scope: 'writer', purpose: 'scheduled backup run', ...events.callbacks }));
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(2_900);
    expect(refused).toBeInstanceOf(DirectoryBusy);
    expect((refused as DirectoryBusy).holder?.id).toBe(stays.holder.id);
    expect(refused.message).toContain('backup that does not back off');
    expect(events.removed).toEqual([]);
    expect(await lockFiles(dir)).toEqual([path.basename(stays.file)]);
  });

  it('refreshes the mtime of its file as a heartbeat', async () => {
    const dir = await tempDir();
    const lock = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', heartbeatMs: 100 });
    const file = path.join(dir, fileOf(lock.holder));
    await setAge(file, 30_000);
    expect(Date.now() - (await stat(file)).mtimeMs).toBeGreaterThan(29_000);

    let ageMs = Infinity;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      ageMs = Date.now() - (await stat(file)).mtimeMs;
      if (ageMs < 5_000) break;
      await sleep(50);
    }
    expect(ageMs).toBeLessThan(5_000);
    expect(lock.lost.aborted).toBe(false);
  });

  it('signals the lock lost when its file is removed under it', async () => {
    const dir = await tempDir();
    const lock = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', heartbeatMs: 100 });
    await sleep(300);
    expect(lock.lost.aborted).toBe(false);

    await unlink(path.join(dir, fileOf(lock.holder)));
    const deadline = Date.now() + 3_000;
    while (!lock.lost.aborted && Date.now() < deadline) await sleep(50);

    expect(lock.lost.aborted).toBe(true);
    const reason = lock.lost.reason as Error;
    expect(reason).toBeInstanceOf(UserError);
    expect(reason.message).toContain(`the lock on ${dir} was removed by another process`);
    // Releasing a lost lock is harmless.
    await lock.release();
    expect(await lockFiles(dir)).toEqual([]);
  });

  it('puts its file back in a directory replaced by a new one, and is not lost while the directory is gone', async () => {
    const dir = await tempDir();
    const lock = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run', heartbeatMs: 100 });
    const name = fileOf(lock.holder);
    const oldIno = (await stat(dir)).ino;
    // An open handle keeps the removed directory's inode allocated, so that the new directory
    // cannot get the same inode number (ext4 reuses freed ones).
    const oldDir = await open(dir, 'r');
    try {
      await rm(dir, { recursive: true, force: true });
      // Several beats with no directory at all: nothing happens.
      await sleep(500);
      expect(lock.lost.aborted).toBe(false);
      await mkdir(dir, { mode: 0o700 });
    } finally {
      await oldDir.close();
    }
    expect((await stat(dir)).ino).not.toBe(oldIno);

    expect(await eventually(async () => (await lockFiles(dir)).includes(name), 5_000)).toBe(true);
    expect(await lockFiles(dir)).toEqual([name]);
    expect(lock.lost.aborted).toBe(false);
    await sleep(300);
    expect(lock.lost.aborted).toBe(false);

    // The new directory is now the lock's: its file removed there is a lost lock again.
    await unlink(path.join(dir, name));
    expect(await eventually(() => lock.lost.aborted, 3_000)).toBe(true);
    expect((lock.lost.reason as Error).message).toContain(`the lock on ${dir} was removed by another process`);
  });

  it('release does not throw when its file cannot be removed, leaving it be', async () => {
    const dir = await tempDir();
    // The default heartbeat (10 s) does not beat during the test.
    const lock = await acquire(dir, { scope: 'writer', purpose: 'scheduled backup run' });
    const file = path.join(dir, fileOf(lock.holder));
    // Something unlink(2) cannot remove (EISDIR), whoever we run as.
    await unlink(file);
    await mkdir(file);

    await expect(lock.release()).resolves.toBeUndefined();
    expect((await stat(file)).isDirectory()).toBe(true);
    expect(lock.lost.aborted).toBe(false);
    await expect(lock.release()).resolves.toBeUndefined();
  });

  it('release removes the file, and releasing twice is harmless', async () => {
    const dir = await tempDir();
    const lock = await acquire(dir, { scope: 'daemon', purpose: 'daemon (run)' });
    expect(await lockFiles(dir)).toEqual([fileOf(lock.holder)]);
    await lock.release();
    expect(await lockFiles(dir)).toEqual([]);
    await lock.release();
    expect(lock.lost.aborted).toBe(false);
  });

  it('DirectoryBusy speaks for the scope being acquired, and tells to stop the sidecar when its scheduled run holds the directory', () => {
    const holder: LockHolder = {
      id: randomUUID(),
      scope: 'writer',
      purpose: 'scheduled backup run',
      host: 'backup-host',
      pid: 42,
      pidNamespace: 'pid:[1]',
      startedAt: '2024-05-01T02:00:00.000Z',
      heartbeatMs: 10_000,
      staleAfterMs: 60_000,
    };
    const who = 'pid 42 on host backup-host, since 2024-05-01T02:00:00.000Z';

    const scheduled = new DirectoryBusy('/backups', 'writer', holder, 12_400);
    expect(scheduled).toBeInstanceOf(UserError);
    expect(scheduled.message).toBe(`BACKUP_DIR /backups is in use: scheduled backup run, ${who} (last heartbeat 12 s ago)`);
    expect(scheduled.exitCode).toBe(1);
    expect(scheduled.holder).toBe(holder);
    expect(scheduled.hint).toContain('The sidecar daemon is at work there');
    expect(scheduled.hint).toContain('stop it first (docker compose stop mysql-backup)');

    const restore = new DirectoryBusy('/backups', 'writer', { ...holder, purpose: 'restore of full_dump_20240501_020000.sql.gz into db:3306' }, 0);
    expect(restore.message).toBe(`BACKUP_DIR /backups is in use: restore of full_dump_20240501_020000.sql.gz into db:3306, ${who} (last heartbeat 0 s ago)`);
    expect(restore.exitCode).toBe(1);
    expect(restore.hint).toContain('Try again when it has finished');
    expect(restore.hint).not.toContain('stop it first');

    const daemon = new DirectoryBusy('/backups', 'daemon', { ...holder, scope: 'daemon', purpose: 'daemon (run)' }, 3_000);
    expect(daemon.message).toBe(`another daemon is already running on BACKUP_DIR /backups: daemon (run), ${who} (last heartbeat 3 s ago)`);
    expect(daemon.exitCode).toBe(2);
    expect(daemon.hint).toContain('Two daemons on one directory');

    // The scope is the acquisition's, not read from the holder's file.
    const asDaemon = new DirectoryBusy('/backups', 'daemon', holder, 0);
    expect(asDaemon.message).toContain('another daemon is already running on BACKUP_DIR /backups');
    expect(asDaemon.exitCode).toBe(2);

    const unreadable = new DirectoryBusy('/backups', 'writer', null, 1_000);
    expect(unreadable.message).toBe('BACKUP_DIR /backups is in use: another process (its lock file is still being written) (last heartbeat 1 s ago)');
    expect(unreadable.holder).toBeNull();
    expect(unreadable.exitCode).toBe(1);
  });

  it('reports a directory it cannot create a lock file in, even with readOnlyOk, when the cause is not a read-only directory', async () => {
    const dir = await tempDir();
    const notADirectory = path.join(dir, 'a-file');
    await writeFile(notADirectory, 'not a directory\n');

    for (const readOnlyOk of [false, true]) {
      const error = await rejection(acquireDirectoryLock(notADirectory, { scope: 'writer', purpose: 'restore', readOnlyOk }));
      expect(error).toBeInstanceOf(UserError);
      expect(error).not.toBeInstanceOf(DirectoryBusy);
      expect(error.message).toBe(`cannot create a lock file in BACKUP_DIR ${notADirectory} (ENOTDIR)`);
    }
  });

  it('goes on without a lock in a directory it may not write to only when readOnlyOk', async () => {
    // Root may write anywhere, so the check runs as nobody against a directory nobody cannot write.
    const asRoot = process.getuid?.() === 0;
    const dir = await tempDir();
    const readOnly = path.join(dir, 'read-only');
    await mkdir(readOnly);
    await chmod(readOnly, 0o555);
    await chmod(dir, 0o755);
    const run = startNode(
      `
      import { acquireDirectoryLock } from ${JSON.stringify(BUILT_MODULE)};
      const dir = ${JSON.stringify(readOnly)};
      const lock = await acquireDirectoryLock(dir, { scope: 'writer', purpose: 'restore', readOnlyOk: true });
      await lock.release();
      let strict;
      try {
        await acquireDirectoryLock(dir, { scope: 'writer', purpose: 'backup' });
        strict = 'acquired';
      } catch (error) {
        strict = { name: error.name, message: error.message };
      }
      console.log(JSON.stringify({ readOnlyOk: { purpose: lock.holder.purpose, lost: lock.lost.aborted }, strict }));
    `,
      asRoot ? { user: NOBODY } : {},
    );
    const result = await run.firstLine();
    expect((await run.exited).code).toBe(0);

    expect(result.readOnlyOk).toEqual({ purpose: 'restore', lost: false });
    expect(result.strict).toEqual({ name: 'UserError', message: `cannot create a lock file in BACKUP_DIR ${readOnly} (EACCES)` });
    expect(await lockFiles(readOnly)).toEqual([]);
  });
});
