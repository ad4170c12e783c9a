import type { ClientTool, DumpOptions } from './client-tools.js';
import type { CoordinatesPlan } from './coordinates-plan.js';

/**
 * One consistent dump of everything without blocking writers: InnoDB tables are read in one
 * REPEATABLE READ snapshot (--single-transaction), rows are streamed instead of buffered (--quick),
 * and no LOCK TABLES is taken. Routines, events and triggers come along, binary columns are
 * written as hex so no client character set can mangle them, and utf8mb4 keeps 4-byte characters.
 */
const BASE_FLAGS = [
  '--all-databases',
  '--single-transaction',
  '--quick',
  '--lock-tables=false',
  '--routines',
  '--events',
  '--triggers',
  '--hex-blob',
  '--default-character-set=utf8mb4',
  // A restored mysql schema (accounts, grants) takes effect without a server restart.
  '--flush-privileges',
  // The client's default (16-24 MiB) fails any larger row with "Lost connection"; 1 GiB is the
  // protocol's ceiling, a limit rather than an allocation. The server's own limit still applies.
  '--max-allowed-packet=1073741824',
] as const;

export interface DumpSettings {
  readonly client: ClientTool;
  readonly options: DumpOptions;
  readonly plan: CoordinatesPlan;
  /** How long the dump's own session may wait for FLUSH TABLES WITH READ LOCK, when it takes one. */
  readonly lockWaitSeconds: number;
}

/** The flags recorded in the manifest: everything but where the credentials file lives. */
export function dumpFlags({ client, options, plan, lockWaitSeconds }: DumpSettings): string[] {
  const flags: string[] = [...BASE_FLAGS];
  if (plan.binlog.state === 'readable') flags.push(...binlogFlags(client));
  // The GTID set is written as a comment, and restore decides whether the target takes it: an
  // active SET @@GLOBAL.GTID_PURGED fails a restore into the very server it came from (3546).
  if (plan.gtidSet === 'recorded' && options.gtidPurgedCommented) flags.push('--set-gtid-purged=COMMENTED');
  if (plan.gtidSet === 'omitted') flags.push('--set-gtid-purged=OFF');
  if (plan.globalReadLock && options.initCommand) {
    // The server's default lock_wait_timeout is a year: a dump stuck behind a lock must fail instead.
    flags.push(`--init-command=SET SESSION lock_wait_timeout=${lockWaitSeconds}`);
  }
  return flags;
}

/** The full argv; --defaults-file must come first, and means no other option file is read. */
export function dumpArgs(defaultsFile: string, flags: readonly string[]): string[] {
  return [`--defaults-file=${defaultsFile}`, ...flags];
}

function binlogFlags(client: ClientTool): string[] {
  // Commented out (=2) in the dump, so a restore does not try to set up replication.
  if (client.flavour === 'mariadb') return ['--master-data=2', '--gtid'];
  // --master-data is deprecated from MySQL 8.0.26 and warns; --source-data replaces it.
  return atLeast(client.version, 8, 0, 26) ? ['--source-data=2'] : ['--master-data=2'];
}

function atLeast(version: string, major: number, minor: number, patch: number): boolean {
  const [a = 0, b = 0, c = 0] = version.split('.').map(Number);
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}
