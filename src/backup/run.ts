import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import { UserError } from '../errors.js';
import type { EventSink } from '../events.js';
import { describeAddress, waitForServer } from '../mysql/connect.js';
import { withDefaultsFile } from '../mysql/defaults-file.js';
import { assertSameFamily, type ClientTool, ClientFamilyMismatch, findClientTool, readDumpOptions } from '../mysql/client-tools.js';
import { dumpArgs, dumpFlags } from '../mysql/dump-args.js';
import { waitOutLongQueries } from '../mysql/long-query-guard.js';
import { type CoordinatesPlan, planCoordinates } from '../mysql/coordinates-plan.js';
import { grantStatement, missingDumpPrivileges } from '../mysql/privileges.js';
import { readServerInfo, type ServerInfo } from '../mysql/server-info.js';
import { redact } from '../secret.js';
import { checkCompressorAvailable } from './compression.js';
import { readInventory } from './inventory.js';
import { buildManifest, type Manifest } from './manifest.js';
import { dumpFileName } from './naming.js';
import { runDumpPipeline } from './pipeline.js';
import { makeRoom, planRoomForRun } from './room-for-run.js';
import { assessSizes, describeSize, sizePolicy } from './size-check.js';
import { assertWritableDirectory, createPartialDump, discardPartialDump, type Leftover, publishDump } from './store.js';
import { isGlobalReadLockTimeout, judgePipeline } from './verdict.js';

export interface RunDependencies {
  readonly emit: EventSink;
  readonly now?: () => Date;
  /** Aborting it stops mysqldump and abandons the run cleanly. */
  readonly signal?: AbortSignal;
  /** The scheduler names runs itself so that a skipped tick can say which run it waited for. */
  readonly runId?: string;
  /**
   * How long the long-query guard may hold the dump back: the daemon gives it the time to the next
   * scheduled run; by default MYSQL_WAIT_TIMEOUT.
   */
  readonly longQueryWaitMs?: number;
}

/**
 * Attempts of one run when mysqldump's global read lock times out, and the pause between them: a
 * busy moment should not cost a whole schedule interval (3 hours by default).
 */
const LOCK_ATTEMPTS = 3;
const LOCK_RETRY_PAUSE_MS = 2_000;

/** Resolves after `ms`, or at once when the run is aborted (the attempt after it sees that). */
const pause = (ms: number, signal?: AbortSignal) =>
  sleep(ms, undefined, signal ? { signal } : {}).catch(() => undefined);

export type RunOutcome =
  | { readonly ok: true; readonly runId: string; readonly file: string; readonly manifest: Manifest }
  | {
      readonly ok: false;
      readonly runId: string;
      readonly cause: string;
      readonly stderr?: string;
      readonly hint?: string;
      /** The run's partial file, when it could not be removed: a daemon removes it once it can. */
      readonly leftover?: string;
      /** No later run can succeed without a new configuration (client tools of another family). */
      readonly fatal?: boolean;
    };

/**
 * One backup run: check the target directory and tools, wait for the server, dump through the
 * pipeline into a partial file, and publish it only when the verdict is good. It never throws:
 * every failure becomes a `backup.failed` event and an outcome with the cause.
 */
export async function runBackup(config: Config, deps: RunDependencies): Promise<RunOutcome> {
  const now = deps.now ?? (() => new Date());
  const runId = deps.runId ?? randomUUID().slice(0, 8);
  const startedAt = now();
  const elapsed = () => now().getTime() - startedAt.getTime();

  const fail = (cause: string, extra: { stderr?: string; hint?: string; leftover?: Leftover; fatal?: boolean } = {}): RunOutcome => {
    const { leftover } = extra;
    const clean = {
      cause: redact(leftover ? `${cause}; ${describeLeftover(leftover)}` : cause, config.mysql.password),
      ...(extra.stderr ? { stderr: redact(extra.stderr, config.mysql.password) } : {}),
      ...(extra.hint ? { hint: extra.hint } : {}),
      ...(leftover ? { leftover: leftover.path } : {}),
    };
    deps.emit({ type: 'backup.failed', runId, ...clean, durationMs: elapsed() });
    return { ok: false, runId, ...clean, ...(extra.fatal ? { fatal: true } : {}) };
  };

  deps.emit({ type: 'run.started', runId });
  try {
    await assertWritableDirectory(config.backup.dir);
    // Decided before the server is touched; expired dumps are deleted for room only once it has answered.
    const room = await planRoomForRun(config);
    if (room.warning) deps.emit({ type: 'backup.warning', runId, warning: room.warning });
    await checkCompressorAvailable(config.backup.compression);
    const client = await findClientTool('mysqldump', config.mysql.clientDir);
    const options = await readDumpOptions(client);
    // Last before the dump, so that the long-query guard's check is as close to mysqldump's lock as can be.
    const { server, plan } = await prepareServer(config, client, runId, deps);
    const flags = dumpFlags({ client, options, plan, lockWaitSeconds: lockWaitSeconds(config) });
    if (room.toDelete.length > 0) deps.emit({ type: 'backup.warning', runId, warning: await makeRoom(config, room, deps.emit, runId) });

    for (let attempt = 1; ; attempt++) {
      const dumpStartedAt = now();
      const { dumpName, partial } = await createPartialDump(config.backup.dir, dumpStartedAt, (at) =>
        dumpFileName(at, config.backup.compression, config.schedule.timeZone),
      );
      deps.emit({ type: 'backup.started', runId, file: dumpName, compression: config.backup.compression, flags });

      try {
        const { outcome, sha256, storedBytes } = await withDefaultsFile(config.mysql, client.flavour, (defaultsFile) =>
          runDumpPipeline(partial, {
            binary: client.binary,
            args: dumpArgs(defaultsFile, flags),
            compression: config.backup.compression,
            compressionLevel: config.backup.compressionLevel,
            timeoutMs: config.backup.timeoutMs,
            signal: deps.signal,
          }),
        );
        const verdict = judgePipeline(outcome);
        for (const warning of verdict.warnings) deps.emit({ type: 'backup.warning', runId, warning: `mysqldump: ${warning}` });
        if (!verdict.ok) {
          const leftover = await discardPartialDump(partial);
          if (isGlobalReadLockTimeout(verdict) && attempt < LOCK_ATTEMPTS && !leftover && !deps.signal?.aborted) {
            deps.emit({
              type: 'backup.warning',
              runId,
              warning:
                `mysqldump's global read lock was not granted within ${lockWaitSeconds(config)} s (transactions in flight held it off); ` +
                `${dumpName} discarded, attempt ${attempt + 1} of ${LOCK_ATTEMPTS} in ${LOCK_RETRY_PAUSE_MS / 1000} s`,
            });
            await pause(LOCK_RETRY_PAUSE_MS, deps.signal);
            if (deps.signal?.aborted) return fail(cancelledBecause(deps.signal));
            continue;
          }
          return fail(verdict.cause, {
            stderr: verdict.stderr,
            ...(verdict.hint ? { hint: verdict.hint } : {}),
            leftover,
          });
        }
        const manifest = buildManifest({
          file: dumpName,
          runId,
          startedAt: dumpStartedAt,
          finishedAt: now(),
          inspection: outcome.inspection,
          storedBytes,
          sha256,
          config,
          server,
          client,
          flags,
        });
        await publishDump(partial, config.backup.dir, dumpName, { sha256, manifest }).catch((error: Error) => {
          throw error instanceof UserError ? error : new UserError(`publishing ${dumpName} failed: ${error.message}`);
        });
        await warnIfSuspect(config, dumpName, (warning) => deps.emit({ type: 'backup.warning', runId, warning }));
        deps.emit({
          type: 'backup.succeeded',
          runId,
          file: dumpName,
          rawBytes: manifest.rawBytes,
          storedBytes,
          durationMs: manifest.durationMs,
          finishedAt: manifest.finishedAt,
          sha256,
          binlog: manifest.binlog,
        });
        return { ok: true, runId, file: dumpName, manifest };
      } catch (error) {
        const leftover = await discardPartialDump(partial);
        return failWith(error, { leftover });
      }
    }
  } catch (error) {
    return failWith(error);
  }

  function failWith(error: unknown, extra: { leftover?: Leftover } = {}): RunOutcome {
    if (error instanceof UserError) {
      return fail(error.message, { ...(error.hint ? { hint: error.hint } : {}), ...extra, fatal: error instanceof ClientFamilyMismatch });
    }
    if (deps.signal?.aborted) return fail(cancelledBecause(deps.signal), extra);
    return fail(`unexpected error: ${(error as Error).message ?? String(error)}`, extra);
  }
}

/** A good dump far smaller than those before it is loud at once, not only when someone restores it. */
async function warnIfSuspect(config: Config, dumpName: string, warn: (warning: string) => void): Promise<void> {
  const { backups } = await readInventory(config.backup.dir);
  const verdict = (await assessSizes(backups, sizePolicy(config.retention))).get(dumpName);
  if (verdict?.suspect) {
    warn(
      `${dumpName} is far smaller than the good dumps before it: ${describeSize(verdict)}. A dropped database, or a server ` +
        'rebuilt empty? It is kept, but does not count towards BACKUP_KEEP_MIN, and restore latest asks for --force',
    );
  }
}

/** Why an aborted run stopped: a shutdown, or the reason given (a lost directory lock). */
const cancelledBecause = (signal: AbortSignal) =>
  signal.reason instanceof UserError ? signal.reason.message : 'the run was cancelled (shutdown)';

const describeLeftover = (leftover: Leftover) =>
  `its partial file ${path.basename(leftover.path)} could not be removed (${leftover.reason}); ` +
  'it is not a backup, and the daemon removes it once it can';

/**
 * Everything the dump needs from the server, checked before it starts: the server answers, the
 * client tools are of its family, the account may dump everything, and no long statement would
 * make mysqldump's global read lock stall the application.
 */
async function prepareServer(
  config: Config,
  client: ClientTool,
  runId: string,
  deps: RunDependencies,
): Promise<{ server: ServerInfo; plan: CoordinatesPlan }> {
  const target = describeAddress(config.mysql);
  const connection = await waitForServer(config.mysql, {
    timeoutMs: config.mysql.waitTimeoutMs,
    ...(deps.signal ? { signal: deps.signal } : {}),
    onWaiting: (progress) => deps.emit({ type: 'mysql.waiting', runId, target, ...progress }),
  });
  try {
    const server = await readServerInfo(connection);
    deps.emit({ type: 'mysql.ready', runId, target, serverVersion: server.version, flavour: server.flavour });
    assertSameFamily(client, server, `the server at ${target}`);
    const plan = planCoordinates(server, config.backup.binlogCoordinates);
    const missing = missingDumpPrivileges(server, plan);
    if (missing.length > 0) {
      throw new UserError(
        `the account ${server.account} lacks ${missing.map((m) => `${m.privilege} (${m.consequence})`).join('; ')}`,
        { hint: `As an administrator: ${grantStatement(missing, server.account)};` },
      );
    }
    if (plan.binlog.state === 'unreadable') {
      deps.emit({ type: 'backup.warning', runId, warning: `binary logging is on, but this dump records no binlog coordinates: ${plan.binlog.reason}` });
    }
    const guardMs = config.backup.longQueryGuardMs;
    if (guardMs !== undefined && plan.globalReadLock) {
      const waitLimitMs = deps.longQueryWaitMs ?? config.mysql.waitTimeoutMs;
      await waitOutLongQueries(connection, {
        thresholdSeconds: Math.ceil(guardMs / 1000),
        waitLimitMs,
        signal: deps.signal,
        onWaiting: (queries, waitedMs) => deps.emit({ type: 'backup.waiting', runId, queries, waitedMs, waitLimitMs }),
      });
    }
    return { server, plan };
  } finally {
    await connection.end().catch(() => undefined);
  }
}

/**
 * The dump's own session waits at most this long for its global read lock: as long as the guard
 * lets a statement run (BACKUP_LONG_QUERY_GUARD), or a minute with the guard off, instead of the
 * server's default of a year.
 */
function lockWaitSeconds(config: Config): number {
  return Math.ceil((config.backup.longQueryGuardMs ?? 60_000) / 1000);
}
