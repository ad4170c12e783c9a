import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { UserError } from '../errors.js';
import type { EventSink } from '../events.js';
import { describeAddress, waitForServer } from '../mysql/connect.js';
import { withDefaultsFile } from '../mysql/defaults-file.js';
import { dumpArgs, dumpFlags } from '../mysql/dump-args.js';
import { DUMP_BINARY, type DumpClient, readDumpClient } from '../mysql/dump-client.js';
import { readServerInfo, type ServerInfo } from '../mysql/server-info.js';
import { redact } from '../secret.js';
import { checkCompressorAvailable } from './compression.js';
import { checkFreeSpace, SPACE_REFUSE_FACTOR } from './hygiene.js';
import { readInventory } from './inventory.js';
import { buildManifest, type Manifest } from './manifest.js';
import { dumpFileName } from './naming.js';
import { runDumpPipeline } from './pipeline.js';
import { assertWritableDirectory, createPartialDump, discardPartialDump, type Leftover, publishDump } from './store.js';
import { judgePipeline } from './verdict.js';

export interface RunDependencies {
  readonly emit: EventSink;
  readonly now?: () => Date;
  /** Aborting it stops mysqldump and abandons the run cleanly. */
  readonly signal?: AbortSignal;
  readonly dumpBinary?: string;
  /** The scheduler names runs itself so that a skipped tick can say which run it waited for. */
  readonly runId?: string;
}

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

  const fail = (cause: string, extra: { stderr?: string; hint?: string; leftover?: Leftover } = {}): RunOutcome => {
    const { leftover } = extra;
    const clean = {
      cause: redact(leftover ? `${cause}; ${describeLeftover(leftover)}` : cause, config.mysql.password),
      ...(extra.stderr ? { stderr: redact(extra.stderr, config.mysql.password) } : {}),
      ...(extra.hint ? { hint: extra.hint } : {}),
      ...(leftover ? { leftover: leftover.path } : {}),
    };
    deps.emit({ type: 'backup.failed', runId, ...clean, durationMs: elapsed() });
    return { ok: false, runId, ...clean };
  };

  deps.emit({ type: 'run.started', runId });
  try {
    await assertWritableDirectory(config.backup.dir);
    const spaceWarning = await assertEnoughSpace(config.backup.dir);
    if (spaceWarning) deps.emit({ type: 'backup.warning', runId, warning: spaceWarning });
    await checkCompressorAvailable(config.backup.compression);
    const client = await readDumpClient(deps.dumpBinary ?? DUMP_BINARY);
    const server = await probeServer(config, runId, deps);
    for (const warning of compatibilityWarnings(client, server)) deps.emit({ type: 'backup.warning', runId, warning });

    const flags = dumpFlags(client, server);
    const dumpStartedAt = now();
    const { dumpName, partial } = await createPartialDump(config.backup.dir, dumpStartedAt, (at) =>
      dumpFileName(at, config.backup.compression, config.schedule.timeZone),
    );
    deps.emit({ type: 'backup.started', runId, file: dumpName, compression: config.backup.compression, flags });

    try {
      const { outcome, sha256, storedBytes } = await withDefaultsFile(config.mysql, (defaultsFile) =>
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
  } catch (error) {
    return failWith(error);
  }

  function failWith(error: unknown, extra: { leftover?: Leftover } = {}): RunOutcome {
    if (error instanceof UserError) return fail(error.message, { ...(error.hint ? { hint: error.hint } : {}), ...extra });
    if (deps.signal?.aborted) return fail('the run was cancelled (shutdown)', extra);
    return fail(`unexpected error: ${(error as Error).message ?? String(error)}`, extra);
  }
}

const describeLeftover = (leftover: Leftover) =>
  `its partial file ${path.basename(leftover.path)} could not be removed (${leftover.reason}); ` +
  'it is not a backup, and the daemon removes it once it can';

/** Fails at once when the last dump would not fit again; returns a warning when it barely would. */
async function assertEnoughSpace(dir: string): Promise<string | undefined> {
  const { backups } = await readInventory(dir);
  const space = await checkFreeSpace(dir, backups[0]?.size);
  if (space.state !== 'low' && space.state !== 'insufficient') return undefined;
  const facts = `${formatMiB(space.freeBytes)} free in BACKUP_DIR ${dir}, and the last dump took ${formatMiB(space.lastDumpBytes)}`;
  if (space.state === 'insufficient') {
    throw new UserError(`not enough space: ${facts}; a run needs at least ${SPACE_REFUSE_FACTOR} times that`, {
      hint: 'Free space on the backup volume, or shorten BACKUP_RETENTION.',
    });
  }
  return `space is running low: ${facts}`;
}

const formatMiB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function probeServer(config: Config, runId: string, deps: RunDependencies): Promise<ServerInfo> {
  const target = describeAddress(config.mysql);
  const connection = await waitForServer(config.mysql, {
    timeoutMs: config.mysql.waitTimeoutMs,
    ...(deps.signal ? { signal: deps.signal } : {}),
    onWaiting: (progress) => deps.emit({ type: 'mysql.waiting', runId, target, ...progress }),
  });
  try {
    const info = await readServerInfo(connection);
    deps.emit({ type: 'mysql.ready', runId, target, serverVersion: info.version, flavour: info.flavour });
    return info;
  } finally {
    await connection.end().catch(() => undefined);
  }
}

function compatibilityWarnings(client: DumpClient, server: ServerInfo): string[] {
  const warnings: string[] = [];
  if (client.flavour !== server.flavour) {
    warnings.push(
      `${client.binary} is ${client.flavour} ${client.version} but the server is ${server.flavour} ${server.version}; ` +
        'dumps are only trustworthy with the client tools of the server they dump',
    );
  }
  if (server.binlog.state === 'unreadable') {
    warnings.push(`binary logging is on, but this dump records no binlog coordinates: ${server.binlog.reason}`);
  }
  return warnings;
}
