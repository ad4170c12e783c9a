import { Transform, type TransformCallback } from 'node:stream';
import { execa } from 'execa';
import type { Connection } from 'mysql2/promise';
import { childEnvironment } from '../child-env.js';
import { UserError } from '../errors.js';
import { assertSameFamily, type ClientTool, findClientTool } from '../mysql/client-tools.js';
import { queryWithTimeout } from '../mysql/connect.js';
import type { ServerInfo } from '../mysql/server-info.js';
import type { ReplayPlan } from './replay-plan.js';

/** How the replayed transactions meet the target's GTID state; decided before anything is written. */
export interface ReplayGtids {
  /** mysqlbinlog's flags for it. */
  readonly flags: readonly string[];
  /** For the person restoring: what happens, and what it costs. */
  readonly reason: string;
  /** The target has run the replayed transactions before: it is the server they came from (or a replica of it). */
  readonly sameServer: boolean;
}

const NOT_LOGGED =
  "the replay is not written to the target's binary log (mysqlbinlog --disable-log-bin), as the dump restore is not either: " +
  'replicas of this server receive neither, so rebuild them from it afterwards';

/**
 * MySQL skips, silently, every transaction whose GTID the server has already executed: replayed
 * into the server it came from, a roll-forward would apply nothing. There the GTIDs are stripped
 * (--skip-gtids) and the replay is not logged: the server's gtid_executed keeps the original
 * GTIDs, which now stand for transactions that were rolled back and applied again without one.
 * A server that has run none of them takes them with their GTIDs, as a replica would, and logs
 * them. MariaDB applies a transaction whatever its GTID; its replay is not logged, since
 * sequence numbers from the past would go into the binary log out of order (gtid_strict_mode
 * refuses that).
 */
export async function decideReplayGtids(connection: Connection, server: ServerInfo, plan: ReplayPlan, oneDatabase?: string): Promise<ReplayGtids> {
  const whole = await decideWholeServerGtids(connection, server, plan);
  if (!oneDatabase || server.flavour === 'mariadb') return whole;
  // Applied in part, a transaction must not be recorded as executed under its GTID.
  const flags = whole.flags.includes('--skip-gtids') ? whole.flags : ['--skip-gtids', ...whole.flags];
  return { ...whole, flags, reason: `only database ${oneDatabase} is replayed, so the transactions apply in part and keep no GTIDs (--skip-gtids); ${whole.reason}` };
}

async function decideWholeServerGtids(connection: Connection, server: ServerInfo, plan: ReplayPlan): Promise<ReplayGtids> {
  const first = plan.firstGtid;
  if (server.flavour === 'mariadb') {
    const [rows] = await queryWithTimeout(connection, 'SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    const sameServer = first !== null && hasRunMariadb(String(rows[0]?.pos ?? ''), first);
    return {
      flags: ['--disable-log-bin'],
      sameServer,
      reason: `${sameServer ? `the target has already run ${first} and what follows (it is the server the archive is of): its rows are replaced; ` : ''}${NOT_LOGGED}`,
    };
  }
  const [rows] = await queryWithTimeout(connection, 'SELECT @@GLOBAL.gtid_mode AS mode, GTID_SUBSET(?, @@GLOBAL.gtid_executed) AS ran', [first ?? '']);
  const gtidMode = String(rows[0]?.mode ?? 'OFF').toUpperCase() !== 'OFF';
  if (!gtidMode) {
    if (first === null && plan.withoutGtid === plan.transactions) return { flags: [], sameServer: false, reason: 'the replayed transactions have no GTIDs' };
    return { flags: ['--skip-gtids'], sameServer: false, reason: "the target's gtid_mode is OFF: the transactions are replayed without their GTIDs" };
  }
  if (first !== null && Number(rows[0]?.ran) === 1) {
    return {
      flags: ['--skip-gtids', '--disable-log-bin'],
      sameServer: true,
      reason:
        `the target has already executed ${first} (it is the server the archive is of, or a replica of it), and would skip every replayed transaction: ` +
        'they are replayed without their GTIDs, so gtid_executed keeps the original ones; ' +
        NOT_LOGGED,
    };
  }
  if (plan.withoutGtid > 0) {
    // Anonymous ones (from a server with gtid_mode OFF) a gtid_mode ON target refuses (ERROR 1782),
    // and a tagged one is not read here, so whether it ran cannot be told.
    return {
      flags: ['--skip-gtids'],
      sameServer: false,
      reason:
        `${plan.withoutGtid} of the ${plan.transactions} replayed transactions have no GTID this restore can carry over (anonymous, or MySQL 8.3+ tagged): ` +
        'all are replayed without their GTIDs, and the target gives them new ones and logs them',
    };
  }
  return { flags: [], sameServer: false, reason: 'the target has executed none of the replayed transactions: they keep their GTIDs and go into its binary log, as on a replica' };
}

/** The same, with the replay kept out of the binary log: for a database that is not to last (`into`). */
export function notLogged(gtids: ReplayGtids, into: string): ReplayGtids {
  if (gtids.flags.includes('--disable-log-bin')) return gtids;
  return { ...gtids, flags: [...gtids.flags, '--disable-log-bin'], reason: `${gtids.reason}; the replay into ${into} is not written to the binary log (--disable-log-bin)` };
}

/** The mysqlbinlog of the target's family, found before anything is written: a replay that cannot start must not follow a dump. */
export async function findReplayTool(server: ServerInfo, clientDir: string | undefined): Promise<ClientTool> {
  const tool = await findClientTool('mysqlbinlog', clientDir);
  assertSameFamily(tool, server, 'the target');
  return tool;
}

/** MariaDB's gtid_binlog_pos holds the last GTID per domain and server: "0-1-57,1-2-9". */
function hasRunMariadb(binlogPos: string, gtid: string): boolean {
  const [domain, serverId, sequence] = gtid.split('-');
  return binlogPos.split(',').some((item) => {
    const [d, s, n] = item.trim().split('-');
    return d === domain && s === serverId && Number(n) >= Number(sequence);
  });
}

/**
 * The SQL of the plan's binary logs, from one mysqlbinlog over all of them (so that a temporary
 * table lives across file boundaries): from the dump's position in the first file to the stop
 * position in the last. It follows the dump into the same mysql client (restore.ts): a dump
 * restores the accounts too, and a second login with the restorer's password may no longer
 * work. mysqlbinlog reads the archived files and needs no login. Throws when it fails.
 */
export async function* replaySql(
  plan: ReplayPlan,
  options: {
    binlogTool: ClientTool;
    gtids: ReplayGtids;
    oneDatabase?: string | undefined;
    /** The one database replayed into another of this name (checked first: replay-plan.ts renameProblem). */
    as?: string | undefined;
    onBytes?: (bytes: number) => void;
    signal?: AbortSignal;
  },
): AsyncGenerator<Buffer> {
  const { binlogTool } = options;
  const args = [
    '--no-defaults',
    `--start-position=${plan.dump.binlogPosition}`,
    `--stop-position=${plan.stopPosition}`,
    ...options.gtids.flags,
    ...databaseFilter(binlogTool, options.oneDatabase, options.as),
    ...plan.files.map((file) => file.path),
  ];
  // The child's comments and any time it prints are in UTC, as every time in the plan.
  const binlog = execa(binlogTool.binary, args, {
    stdout: 'pipe',
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 1024 * 1024 },
    extendEnv: false,
    env: { ...childEnvironment(), TZ: 'UTC' },
    reject: false,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  // Piped at once, before the first yield: execa (buffer off) lets go of output nobody reads
  // while this generator waits to be resumed, and the replay would apply nothing, without an error.
  const progress = new ReplayProgress(plan, options.onBytes);
  const sql = binlog.stdout.pipe(progress) as AsyncIterable<Buffer>;
  let readToEnd = false;
  try {
    // The dump's last line may lack its newline: the replay's first statement must not join it.
    yield Buffer.from('\n');
    yield* sql;
    readToEnd = true;
  } finally {
    // Stopped early (the client failed): the child goes too. Read to the end, it exits by itself.
    if (!readToEnd) binlog.kill();
  }
  const result = await binlog;
  if (result.exitCode !== 0) {
    const stderr = String(result.stderr ?? '').trim();
    throw new UserError(`${binlogTool.binary} failed reading the archive (exit code ${result.exitCode})${stderr ? `:\n${stderr}` : ''}`);
  }
  // A replay that applied less than planned must not pass for a restore to the point.
  if (!progress.reachedLastApplied()) {
    const last = plan.lastApplied!;
    throw new UserError(`${binlogTool.binary} ended before the last transaction of the plan (${last.file}:${last.start}): the replay is incomplete, and the target is not at the point`);
  }
}

/**
 * mysqlbinlog's flags for one database, maybe under another name. --rewrite-db renames a table
 * map's database and a statement's USE; the two families then filter differently: MySQL's
 * --database picks by the name after the rewrite, MariaDB's by the name before it (a filter by
 * the new name there keeps nothing at all).
 */
function databaseFilter(tool: ClientTool, database: string | undefined, as: string | undefined): string[] {
  if (database === undefined) return [];
  if (as === undefined) return [`--database=${database}`];
  return [`--database=${tool.flavour === 'mysql' ? as : database}`, `--rewrite-db=${database}->${as}`];
}

/**
 * Follows the replay through the `# at N` line mysqlbinlog writes before every event: a
 * position that falls back is the next file's start (each begins at 4, with its header). It
 * counts bytes for the progress display, and tells whether the output reached the plan's last
 * transaction at all.
 */
class ReplayProgress extends Transform {
  readonly #plan: ReplayPlan;
  readonly #starts: number[];
  readonly #onBytes: ((bytes: number) => void) | undefined;
  #file = 0;
  #position = 0;
  #tail = '';

  constructor(plan: ReplayPlan, onBytes: ((bytes: number) => void) | undefined) {
    super();
    this.#plan = plan;
    // Bytes replayed before each file starts.
    let before = -plan.dump.binlogPosition;
    this.#starts = plan.files.map((file) => {
      const start = before;
      before += file.bytes;
      return start;
    });
    this.#onBytes = onBytes;
  }

  /** Whether the output got as far as the start of the last transaction the plan applies. */
  reachedLastApplied(): boolean {
    const last = this.#plan.lastApplied;
    if (!last) return true;
    const index = this.#plan.files.findIndex((file) => file.name === last.file);
    return this.#file > index || (this.#file === index && this.#position >= last.start);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    // Only whole lines: "# at 1234" cut after "# at 12" would read as a position that fell back.
    const text = this.#tail + chunk.toString('latin1');
    for (const match of text.matchAll(/^# at (\d+)\n/gm)) {
      const position = Number(match[1]);
      if (position < this.#position && this.#file < this.#starts.length - 1) this.#file++;
      this.#position = position;
    }
    const lastLine = text.slice(text.lastIndexOf('\n') + 1);
    this.#tail = lastLine.length < 32 ? lastLine : '';
    this.#onBytes?.(Math.max(0, this.#starts[this.#file]! + this.#position));
    done(null, chunk);
  }
}
