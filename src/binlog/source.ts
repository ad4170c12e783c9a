import type { Connection } from 'mysql2/promise';
import { queryWithTimeout } from '../mysql/connect.js';
import { hasPrivilege, type MissingPrivilege } from '../mysql/privileges.js';
import type { ServerInfo } from '../mysql/server-info.js';
import { type ArchivedFile, sequenceOf as sequence } from './archive-dir.js';

/** What the archiver reads from the server it streams from, at every (re)connect and every poll. */
export interface SourceState {
  readonly serverId: number;
  /** MySQL's @@server_uuid, which a new or restored server does not share; null on MariaDB, which has none. */
  readonly serverUuid: string | null;
  /** SHOW BINARY LOGS: the files the server still has, oldest first, and their sizes now. */
  readonly binaryLogs: readonly ArchivedFile[];
  /** Server ids of the replicas registered with it; null: the account may not list them (MariaDB). */
  readonly replicaServerIds: readonly { serverId: number; host: string }[] | null;
}

export async function readBinaryLogs(connection: Connection): Promise<ArchivedFile[]> {
  const [rows] = await queryWithTimeout(connection, 'SHOW BINARY LOGS');
  return rows.map((row) => ({ name: String(row.Log_name), size: Number(row.File_size) }));
}

export async function readSourceState(connection: Connection, flavour: ServerInfo['flavour']): Promise<SourceState> {
  const [id] = await queryWithTimeout(connection, flavour === 'mysql' ? 'SELECT @@GLOBAL.server_id AS serverId, @@GLOBAL.server_uuid AS serverUuid' : 'SELECT @@GLOBAL.server_id AS serverId');
  const binaryLogs = await readBinaryLogs(connection);
  let replicaServerIds: SourceState['replicaServerIds'] = null;
  try {
    // MySQL: SHOW REPLICAS needs REPLICATION SLAVE, which the archiver has; MariaDB's SHOW SLAVE
    // HOSTS needs REPLICATION MASTER ADMIN, which it does not need otherwise.
    const [rows] = await queryWithTimeout(connection, flavour === 'mysql' ? 'SHOW REPLICAS' : 'SHOW SLAVE HOSTS');
    replicaServerIds = rows.map((row) => ({ serverId: Number(row.Server_id), host: `${String(row.Host ?? '') || '(no report_host)'}:${String(row.Port ?? '')}` }));
  } catch (error) {
    if ((error as { errno?: number }).errno !== 1227) throw error;
  }
  const serverUuid = id[0]?.serverUuid === undefined ? null : String(id[0].serverUuid);
  return { serverId: Number(id[0]?.serverId ?? 0), serverUuid, binaryLogs, replicaServerIds };
}

/** The grants the archiver needs: reading the stream, and listing the server's binary logs. */
export function missingArchivePrivileges(facts: Pick<ServerInfo, 'flavour' | 'privileges'>): MissingPrivilege[] {
  const missing: MissingPrivilege[] = [];
  if (!hasPrivilege(facts.privileges, 'REPLICATION SLAVE')) {
    missing.push({ privilege: 'REPLICATION SLAVE', grant: 'REPLICATION SLAVE', consequence: 'the server refuses to send its binary log' });
  }
  // MariaDB 10.5 renamed REPLICATION CLIENT to BINLOG MONITOR; SHOW GRANTS shows the new name.
  const monitor = facts.flavour === 'mariadb' ? 'BINLOG MONITOR' : 'REPLICATION CLIENT';
  if (!hasPrivilege(facts.privileges, monitor)) {
    missing.push({ privilege: monitor, grant: monitor, consequence: 'SHOW BINARY LOGS is refused: the archiver cannot tell where to start, what it lags or when a file is complete' });
  }
  return missing;
}

/**
 * A replication server id shared with another connection silently ends one of the two streams
 * (the server drops the older dump thread), so the archiver refuses one that collides with the
 * server's own or a registered replica's. Null: no collision seen.
 */
export function serverIdCollision(ourId: number, source: SourceState): string | null {
  if (ourId === source.serverId) return `BINLOG_SERVER_ID=${ourId} is the server's own @@server_id`;
  const replica = source.replicaServerIds?.find((r) => r.serverId === ourId);
  if (replica) return `BINLOG_SERVER_ID=${ourId} is the server id of the replica at ${replica.host}: one of the two streams would be cut off`;
  return null;
}

/** Where a stream starts, and the gap it leaves when the server no longer has what comes next. */
export interface StartPoint {
  readonly file: string;
  /** Why the archive cannot roll forward across this start; absent: it continues unbroken. */
  readonly gap?: string;
}

/**
 * The archive's newest file, unless the copy is finished (it ends with a rotate), then the one
 * after it; with an empty archive, the newest dump's file, so that it can be rolled forward, or
 * the oldest the server has. A file the server no longer has is a gap, never skipped quietly.
 */
export function chooseStart(
  archive: readonly (ArchivedFile & { finished: boolean })[],
  serverLogs: readonly ArchivedFile[],
  newestDumpFile: string | null,
): StartPoint | null {
  const oldest = serverLogs[0];
  if (!oldest) return null;
  const onServer = (name: string) => serverLogs.findIndex((log) => log.name === name);
  const last = archive.at(-1);
  if (last) {
    const index = onServer(last.name);
    if (index !== -1) {
      const next = serverLogs[index + 1];
      return last.finished && next ? { file: next.name } : { file: last.name };
    }
    const following = serverLogs.find((log) => sequence(log.name) > sequence(last.name));
    if (last.finished && following && sequence(following.name) === sequence(last.name) + 1) return { file: following.name };
    if (!following) {
      return { file: oldest.name, gap: `the server's binary logs start over at ${oldest.name} (RESET MASTER, or a new or restored server): the archive ended at ${last.name}` };
    }
    const copied = last.finished ? `${last.name} (complete)` : `part of ${last.name}`;
    return { file: following.name, gap: `the server no longer has what came after ${copied}: it resumes at ${following.name}` };
  }
  if (newestDumpFile !== null && onServer(newestDumpFile) === -1) {
    return { file: oldest.name, gap: `the newest dump's binary log ${newestDumpFile} is no longer on the server (it starts at ${oldest.name}): that dump cannot be rolled forward` };
  }
  return { file: newestDumpFile ?? oldest.name };
}

/** Who the archive streams from, kept in BINLOG_DIR/.source.json: MySQL by server_uuid, MariaDB by server_id. */
export interface SourceIdentity {
  readonly serverId: number;
  readonly serverUuid: string | null;
}

/**
 * Why the server answering now is not the one the archive holds the log of, or null: its files
 * may carry the same names (a new server in the old one's place), but they are another chain.
 */
export function identityChange(archived: SourceIdentity | null, now: SourceIdentity): string | null {
  if (!archived) return null;
  if (archived.serverUuid !== null && now.serverUuid !== null) {
    return archived.serverUuid === now.serverUuid ? null : `the server is another one than the archive holds the log of (server_uuid ${now.serverUuid}, was ${archived.serverUuid})`;
  }
  return archived.serverId === now.serverId ? null : `the server is another one than the archive holds the log of (server_id ${now.serverId}, was ${archived.serverId})`;
}
