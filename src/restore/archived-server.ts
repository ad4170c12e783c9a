import type { Connection } from 'mysql2/promise';
import { readSourceIdentity } from '../binlog/archive-dir.js';
import { queryWithTimeout } from '../mysql/connect.js';
import type { ServerInfo } from '../mysql/server-info.js';

/**
 * Whether a restore target is the server BINLOG_DIR holds the log of: restored into, its data
 * changes outside its binary log, and the archive must start a new epoch (archive-dir.ts
 * writeRestoreMarker). MySQL tells by server_uuid. MariaDB has none, and servers often share
 * server_id 1 (and with it GTIDs 0-1-N of their own): there the id must match and the target must
 * be the server the sidecar is configured for (MYSQL_HOST, MYSQL_PORT).
 */
export async function isArchivedServer(
  connection: Connection,
  server: ServerInfo,
  binlogDir: string,
  isConfiguredServer: boolean,
): Promise<boolean> {
  const archived = await readSourceIdentity(binlogDir);
  if (!archived) return false;
  if (server.flavour === 'mysql') {
    const [rows] = await queryWithTimeout(connection, 'SELECT @@GLOBAL.server_uuid AS uuid');
    return archived.serverUuid !== null && archived.serverUuid === String(rows[0]?.uuid);
  }
  const [rows] = await queryWithTimeout(connection, 'SELECT @@GLOBAL.server_id AS id');
  return archived.serverId === Number(rows[0]?.id) && isConfiguredServer;
}
