import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import type { Connection } from 'mysql2/promise';
import { childEnvironment } from '../child-env.js';
import { UserError } from '../errors.js';
import type { EventSink } from '../events.js';
import { assertSameFamily, type ClientTool, findClientTool } from '../mysql/client-tools.js';
import { describeAddress, describeDriverError, type ServerAddress, waitForServer } from '../mysql/connect.js';
import { withDefaultsFile } from '../mysql/defaults-file.js';
import { grantStatement } from '../mysql/privileges.js';
import { type Flavour, readServerInfo } from '../mysql/server-info.js';
import { redact } from '../secret.js';
import {
  adoptFetch,
  type ArchivedFile,
  FETCH_PREFIX,
  fsyncPath,
  indexFileName,
  listArchive,
  listFetches,
  prepareArchiveDir,
  readRestoreMarker,
  readSourceIdentity,
  removeFetches,
  removeRestoreMarker,
  sameBinlogFile,
  scanFile,
  sequenceOf,
  writeSourceIdentity,
} from './archive-dir.js';
import { readIndex, sealFile } from './seal.js';
import { BinlogEventScanner } from './event-scanner.js';
import { chooseStart, identityChange, missingArchivePrivileges, readBinaryLogs, readSourceState, serverIdCollision, type StartPoint } from './source.js';

/** Backoff between streams: capped so that a server answering again is streamed from within 5 s. */
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 4_000;
/** How long one (re)connect waits for the server before counting as a failed attempt. */
const CONNECT_WAIT_MS = 2_000;
/** A refusal (grants, server id) waits for a person to fix it; rechecked this often. */
const RECHECK_MS = 30_000;
/** mysqlbinlog never fsyncs: the daemon does, this often; the recovery point is the last fsynced event. */
const SYNC_INTERVAL_MS = 1_000;
const POLL_INTERVAL_MS = 5_000;
/** The server has more than the archive and nothing arrived for this long: the stream is stuck. */
const STALL_MS = 30_000;
/** Down this long, the stream makes /health degraded (still 200: the backups are what 503 answers for). */
export const DOWN_DEGRADED_MS = 60_000;
/** Enough of a file to hold its opening format description event on either family (MySQL ~120 bytes, MariaDB ~250). */
const OPENING_BYTES = 512;
/** A stream that ran this long before it broke starts the backoff over. */
const STEADY_MS = 60_000;

/** Why a stream ended and was started again: the label of binlog_restarts_total. */
export const RESTART_REASONS = ['connection-lost', 'stalled', 'failed', 'exited'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

export interface BinlogStatus {
  /** mysqlbinlog runs and its output is being synced. */
  readonly up: boolean;
  /** When the stream last went up or down, Unix ms. */
  readonly sinceMs: number;
  /** Why it is down; null while up. */
  readonly problem: string | null;
  readonly archivedBytes: number;
  /** Bytes the server has written that the archive has not synced, at the last poll; null: unknown. */
  readonly lagBytes: number | null;
  readonly lastEventAtMs: number | null;
  /**
   * Up to when a replay of the archive reaches, Unix ms: the last synced transaction, or the
   * time of the last poll when that found the archive level with the server (an idle server
   * loses nothing by being idle). Null: nothing archived yet.
   */
  readonly recoverableUntilMs: number | null;
}

export interface BinlogStreamerOptions {
  readonly source: ServerAddress;
  readonly clientDir: string | undefined;
  readonly dir: string;
  readonly serverId: number;
  readonly emit: EventSink;
  /** The binary log file the newest good dump stands in, if it recorded one: where an empty archive starts. */
  readonly newestDumpFile: () => Promise<string | null>;
  /** The archive cannot roll forward across a gap: the daemon takes a dump at once. */
  readonly onGap: () => void;
}

/** For /health: why the archive lags, once it has been down past DOWN_DEGRADED_MS; null otherwise. */
export function describeStreamProblem(status: BinlogStatus, nowMs: number): string | null {
  if (status.up || nowMs - status.sinceMs < DOWN_DEGRADED_MS) return null;
  return `the binlog archive has been down since ${new Date(status.sinceMs).toISOString()}: ${status.problem ?? 'unknown cause'}`;
}

type StreamEnd = { kind: 'interrupted'; reason: RestartReason; cause: string } | { kind: 'refused'; cause: string; hint?: string };

/**
 * The binlog archive (BINLOG_ARCHIVE): a supervised `mysqlbinlog --read-from-remote-server --raw
 * --stop-never` writing the server's binary log into BINLOG_DIR as it is written. mysqlbinlog
 * neither reconnects nor notices a dead connection, and never fsyncs; this class does all three:
 * it restarts it with backoff, kills it when the server moves on and the copy does not, and
 * fsyncs what it wrote every second. A restart fetches the newest file again under FETCH_PREFIX
 * and swaps it in once it is at least as long (archive-dir.ts), so the archive never shrinks.
 */
export class BinlogStreamer {
  readonly #options: BinlogStreamerOptions;
  readonly #stopping = new AbortController();
  #loop: Promise<void> | undefined;
  #child: ResultPromise | undefined;
  #stallKill: string | undefined;
  readonly #scanners = new Map<string, BinlogEventScanner>();
  /** Files complete and indexed (seal.ts): never scanned or synced again. */
  readonly #sealed = new Set<string>();
  /** Fetches of a file the archive has, compared with it once per stream (sameBinlogFile). */
  readonly #identityChecked = new Set<string>();
  /** The server's files and sizes at the last poll: a file the server moved on from is complete. */
  #serverLogs: readonly ArchivedFile[] = [];
  /** Bytes of each archived file known to be on disk for good. */
  readonly #synced = new Map<string, number>();
  #archive: ArchivedFile[] = [];
  #fetchedBytes = 0;
  #lastGrowthMs = Date.now();
  #lastPollOkMs = Date.now();
  #caughtUpAtMs: number | null = null;
  #committedAtMs: number | null = null;
  #status: BinlogStatus = { up: false, sinceMs: Date.now(), problem: 'not started yet', archivedBytes: 0, lagBytes: null, lastEventAtMs: null, recoverableUntilMs: null };

  constructor(options: BinlogStreamerOptions) {
    this.#options = options;
  }

  get status(): BinlogStatus {
    return this.#status;
  }

  start(): void {
    this.#loop ??= this.#supervise();
  }

  /** Ends the stream and syncs what it wrote; the files stay for the next start to resume. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#child?.kill('SIGTERM');
    await this.#loop;
    await this.#sync().catch(() => undefined);
    this.#options.emit({ type: 'binlog.stopped', dir: this.#options.dir, archivedBytes: this.#status.archivedBytes });
  }

  async #supervise(): Promise<void> {
    const signal = this.#stopping.signal;
    let delayMs = FIRST_RETRY_MS;
    let lastRefusal: string | undefined;
    while (!signal.aborted) {
      const began = Date.now();
      const end = await this.#streamOnce().catch((error: unknown): StreamEnd => ({ kind: 'interrupted', reason: 'failed', cause: this.#describe(error) }));
      if (signal.aborted) break;
      this.#setDown(end.cause);
      if (Date.now() - began > STEADY_MS) delayMs = FIRST_RETRY_MS;
      if (end.kind === 'refused') {
        // Said once per cause, loudly; the daemon keeps backing up meanwhile.
        if (end.cause !== lastRefusal) this.#options.emit({ type: 'binlog.refused', cause: end.cause, ...(end.hint ? { hint: end.hint } : {}), retryInMs: RECHECK_MS });
        lastRefusal = end.cause;
        await sleep(RECHECK_MS, undefined, { signal }).catch(() => undefined);
        continue;
      }
      lastRefusal = undefined;
      this.#options.emit({ type: 'binlog.interrupted', reason: end.reason, cause: end.cause, retryInMs: delayMs });
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
      delayMs = Math.min(delayMs * 2, MAX_RETRY_MS);
    }
  }

  /** One connection's worth of streaming: checks, where to start, then mysqlbinlog until it ends. */
  async #streamOnce(): Promise<StreamEnd> {
    const { source, dir } = this.#options;
    let connection: Connection;
    try {
      connection = await waitForServer(source, { timeoutMs: CONNECT_WAIT_MS, signal: this.#stopping.signal });
    } catch (error) {
      if (error instanceof UserError && /refused user/.test(error.message)) return { kind: 'refused', cause: error.message, ...(error.hint ? { hint: error.hint } : {}) };
      return { kind: 'interrupted', reason: 'connection-lost', cause: this.#describe(error) };
    }
    try {
      const info = await readServerInfo(connection);
      const where = `MySQL at ${describeAddress(source)}`;
      if (!info.logBin) return { kind: 'refused', cause: `${where} writes no binary log (log_bin is OFF): there is nothing to archive`, hint: 'Start the server with --log-bin, or unset BINLOG_ARCHIVE.' };
      let tool: ClientTool;
      try {
        tool = await findClientTool('mysqlbinlog', this.#options.clientDir);
        assertSameFamily(tool, info, where);
      } catch (error) {
        return { kind: 'refused', cause: (error as Error).message, ...(error instanceof UserError && error.hint ? { hint: error.hint } : {}) };
      }
      const missing = missingArchivePrivileges(info);
      if (missing.length > 0) {
        return {
          kind: 'refused',
          cause: `the account ${info.account} lacks ${missing.map((m) => `${m.privilege} (${m.consequence})`).join('; ')}`,
          hint: `${grantStatement(missing, info.account)}; the binlog archive needs it, backups do not.`,
        };
      }
      const state = await readSourceState(connection, info.flavour);
      const collision = serverIdCollision(this.#options.serverId, state);
      if (collision) return { kind: 'refused', cause: collision, hint: 'Set BINLOG_SERVER_ID to a number no server or replica in the topology uses.' };

      await prepareArchiveDir(dir);
      await removeFetches(dir);
      await this.#sync();
      this.#serverLogs = state.binaryLogs;
      const archive = this.#archive.map((file) => ({ ...file, finished: this.#sealed.has(file.name) || (this.#scanners.get(file.name)?.position.finished ?? false) }));
      const chosen = chooseStart(archive, state.binaryLogs, await this.#options.newestDumpFile());
      if (!chosen) return { kind: 'interrupted', reason: 'failed', cause: `${where} lists no binary log files` };
      const identity = { serverId: state.serverId, serverUuid: state.serverUuid };
      const changed = archive.length > 0 ? identityChange(await readSourceIdentity(dir), identity) : null;
      // Another server's log cannot continue this one's, whatever its files are called; that is
      // the cause to name, even when its files also start over.
      // A restore into this server changed its data outside the log: a new epoch from its newest file.
      const restored = archive.length > 0 && !changed ? await readRestoreMarker(dir) : null;
      const start: StartPoint = changed
        ? { file: state.binaryLogs[0]!.name, gap: changed }
        : restored
          ? { file: state.binaryLogs.at(-1)!.name, gap: `${restored.what} at ${new Date(restored.atMs).toISOString()} changed the server's data outside its binary log` }
          : chosen;
      if (start.gap) await this.#declareGap(start);
      await removeRestoreMarker(dir);
      await writeSourceIdentity(dir, identity);
      return await withDefaultsFile(source, info.flavour, (defaultsFile) => this.#runChild(tool, info.flavour, defaultsFile, start.file, connection));
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  /** The files before a gap cannot be rolled forward across it: they move aside, as an epoch of their own. */
  async #declareGap(start: StartPoint): Promise<void> {
    const { dir } = this.#options;
    let epochDir: string | null = null;
    const files = await listArchive(dir);
    if (files.length > 0) {
      epochDir = path.join(dir, `epoch-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`);
      await mkdir(epochDir, { mode: 0o700 });
      for (const file of files) {
        await rename(path.join(dir, file.name), path.join(epochDir, file.name));
        await rename(path.join(dir, indexFileName(file.name)), path.join(epochDir, indexFileName(file.name))).catch(() => undefined);
      }
      await fsyncPath(dir);
      this.#archive = [];
      this.#scanners.clear();
      this.#synced.clear();
      this.#sealed.clear();
      this.#committedAtMs = null;
    }
    this.#options.emit({ type: 'binlog.gap', cause: start.gap!, resumeAt: start.file, previousEpoch: epochDir });
    this.#options.onGap();
  }

  async #runChild(tool: ClientTool, flavour: Flavour, defaultsFile: string, startFile: string, connection: Connection): Promise<StreamEnd> {
    const { dir, serverId, source } = this.#options;
    const child = execa(
      tool.binary,
      [
        `--defaults-file=${defaultsFile}`,
        '--read-from-remote-server',
        '--raw',
        '--stop-never',
        // MySQL renamed the option; MariaDB kept the old name.
        flavour === 'mysql' ? `--connection-server-id=${serverId}` : `--stop-never-slave-server-id=${serverId}`,
        `--result-file=${path.join(dir, FETCH_PREFIX)}`,
        startFile,
      ],
      { extendEnv: false, env: childEnvironment(), stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', reject: false, forceKillAfterDelay: 5_000 },
    );
    this.#child = child;
    this.#stallKill = undefined;
    this.#identityChecked.clear();
    this.#lastGrowthMs = Date.now();
    this.#lastPollOkMs = Date.now();
    this.#options.emit({ type: 'binlog.streaming', server: describeAddress(source), from: startFile, dir, serverId, client: tool.binary });
    this.#setUp();

    let ticking = false;
    const syncTimer = setInterval(() => {
      if (ticking) return;
      ticking = true;
      this.#sync()
        .catch((error: unknown) => this.#kill(`the archive could not be synced: ${this.#describe(error)}`))
        .finally(() => (ticking = false));
    }, SYNC_INTERVAL_MS);
    let polling = false;
    const pollTimer = setInterval(() => {
      if (polling) return;
      polling = true;
      this.#poll(connection).finally(() => (polling = false));
    }, POLL_INTERVAL_MS);
    try {
      const result = await child;
      if (this.#stopping.signal.aborted) return { kind: 'interrupted', reason: 'exited', cause: 'stopped' };
      await this.#sync();
      const stderr = redact(result.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / '), source.password);
      if (this.#stallKill) return { kind: 'interrupted', reason: 'stalled', cause: this.#stallKill };
      if (result.exitCode === 0) return { kind: 'interrupted', reason: 'exited', cause: `${tool.binary} exited without an error${stderr ? `: ${stderr}` : ''}` };
      const lost = /lost connection|gone away|can't connect|connection refused|reading packet|shutdown/i.test(stderr);
      return { kind: 'interrupted', reason: lost ? 'connection-lost' : 'failed', cause: `${tool.binary} ended (${result.signal ?? `exit code ${result.exitCode}`}): ${stderr || 'no message'}` };
    } finally {
      clearInterval(syncTimer);
      clearInterval(pollTimer);
      this.#child = undefined;
    }
  }

  #kill(cause: string): void {
    if (!this.#child || this.#stallKill) return;
    this.#stallKill = cause;
    this.#child.kill('SIGTERM');
  }

  /**
   * Adopts finished fetches, fsyncs every file that grew, and scans the synced bytes for the
   * recovery point. Serialised by the caller (one tick at a time).
   */
  async #sync(): Promise<void> {
    const { dir } = this.#options;
    const archived = new Map((await listArchive(dir)).map((file) => [file.name, file.size]));
    let fetched = 0;
    for (const fetch of await listFetches(dir)) {
      const have = archived.get(fetch.name);
      if (have !== undefined && !(await this.#sameFile(fetch, have))) {
        // The server's file of this name is another file: a new or restored server.
        await this.#declareGap({ file: fetch.name, gap: `the server's ${fetch.name} is not the file archived under that name (a new or restored server, or RESET MASTER)` });
        return this.#sync();
      }
      if (have === undefined || fetch.size >= have) {
        await adoptFetch(dir, fetch.name);
        archived.set(fetch.name, fetch.size);
        // Another inode now: what was synced of the old copy says nothing about it.
        this.#synced.delete(fetch.name);
        this.#sealed.delete(fetch.name);
      } else fetched += fetch.size;
    }
    let total = 0;
    for (const [name, size] of archived) {
      total += size;
      if (this.#sealed.has(name) || this.#synced.get(name) === size) continue;
      const file = path.join(dir, name);
      // After a restart, a sealed file is known from its index: it is not read again.
      const index = this.#scanners.has(name) ? null : await readIndex(dir, name, size);
      if (index) {
        this.#sealed.add(name);
        this.#synced.set(name, size);
        if (index.committedAt) this.#committedAtMs = Math.max(this.#committedAtMs ?? 0, Date.parse(index.committedAt));
        continue;
      }
      await fsyncPath(file);
      this.#synced.set(name, size);
      const scanner = this.#scanners.get(name) ?? new BinlogEventScanner();
      this.#scanners.set(name, scanner);
      const wasFinished = scanner.position.finished;
      const position = await scanFile(file, scanner, size);
      if (position.committedAtMs !== null) this.#committedAtMs = Math.max(this.#committedAtMs ?? 0, position.committedAtMs);
      if (position.finished && !wasFinished && this.#child) this.#options.emit({ type: 'binlog.rotated', file: name, bytes: position.scannedBytes });
      if (position.finished || this.#serverMovedOn(name, size)) {
        await sealFile(dir, name, size, position, scanner.facts);
        this.#sealed.add(name);
        this.#scanners.delete(name);
      }
    }
    if (total + fetched !== this.#archivedAndFetched()) this.#lastGrowthMs = Date.now();
    this.#fetchedBytes = fetched;
    this.#archive = [...archived].map(([name, size]) => ({ name, size })).sort((a, b) => sequenceOf(a.name) - sequenceOf(b.name));
    const newest = this.#archive.at(-1);
    this.#status = {
      ...this.#status,
      archivedBytes: total,
      lastEventAtMs: (newest && this.#scanners.get(newest.name)?.position.lastEventAtMs) ?? this.#status.lastEventAtMs,
      recoverableUntilMs: Math.max(this.#committedAtMs ?? 0, this.#caughtUpAtMs ?? 0) || null,
    };
  }

  /**
   * Compares a fetch with the archived copy of its name, once, as soon as it holds the copy's
   * opening event, whose server id and creation time tell one server's file from another's.
   */
  async #sameFile(fetch: ArchivedFile, haveBytes: number): Promise<boolean> {
    if (this.#identityChecked.has(fetch.name) || fetch.size < Math.min(haveBytes, OPENING_BYTES)) return true;
    this.#identityChecked.add(fetch.name);
    const { dir } = this.#options;
    return sameBinlogFile(path.join(dir, fetch.name), path.join(dir, FETCH_PREFIX + fetch.name));
  }

  /** The server lists a later file and this one at the size archived: nothing more will come to it (a crash ends a file without a rotate). */
  #serverMovedOn(name: string, size: number): boolean {
    const index = this.#serverLogs.findIndex((log) => log.name === name);
    return index !== -1 && index < this.#serverLogs.length - 1 && this.#serverLogs[index]!.size === size;
  }

  #archivedAndFetched(): number {
    return this.#status.archivedBytes + this.#fetchedBytes;
  }

  /** Compares the archive with the server's own list: the lag, and the watchdog's evidence. */
  async #poll(connection: Connection): Promise<void> {
    const pollAtMs = Date.now();
    let serverLogs: ArchivedFile[];
    try {
      serverLogs = await readBinaryLogs(connection);
      this.#serverLogs = serverLogs;
      this.#lastPollOkMs = pollAtMs;
    } catch (error) {
      this.#status = { ...this.#status, lagBytes: null };
      // Measured when the poll gave up (a frozen server takes the query timeout to), not when it began.
      const silentMs = Date.now() - this.#lastPollOkMs;
      if (silentMs > STALL_MS) this.#kill(`the server has not answered for ${Math.round(silentMs / 1000)} s (${this.#describe(error)})`);
      return;
    }
    const local = new Map(this.#archive.map((file) => [file.name, this.#synced.get(file.name) ?? 0]));
    const fromSequence = sequenceOf(this.#archive.at(-1)?.name ?? serverLogs[0]?.name ?? '');
    let lag = 0;
    for (const log of serverLogs) {
      if (sequenceOf(log.name) >= fromSequence) lag += Math.max(0, log.size - (local.get(log.name) ?? 0));
    }
    this.#status = { ...this.#status, lagBytes: lag };
    if (lag === 0) this.#caughtUpAtMs = pollAtMs;
    else if (pollAtMs - this.#lastGrowthMs > STALL_MS) {
      this.#kill(`the server wrote ${lag} bytes the archive does not have, and nothing arrived for ${Math.round((pollAtMs - this.#lastGrowthMs) / 1000)} s`);
    }
  }

  #setUp(): void {
    this.#status = { ...this.#status, up: true, sinceMs: Date.now(), problem: null };
  }

  #setDown(cause: string): void {
    this.#status = this.#status.up ? { ...this.#status, up: false, sinceMs: Date.now(), problem: cause } : { ...this.#status, problem: cause };
  }

  #describe(error: unknown): string {
    return redact(error instanceof UserError ? error.message : describeDriverError(error), this.#options.source.password);
  }
}
