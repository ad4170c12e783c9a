import type { TestServer } from './mysql-server.js';

/**
 * The environment of a sidecar pointed at `server` as the fixture's backup account, with the
 * client tools of the server's own family (MYSQL_CLIENT_DIR), as a user sets them up.
 */
export function sidecarEnv(server: TestServer, password: string, dir: string, extra: Record<string, string> = {}) {
  return {
    MYSQL_HOST: server.host,
    MYSQL_PORT: String(server.port),
    MYSQL_USER: 'backup',
    MYSQL_PASSWORD: password,
    BACKUP_DIR: dir,
    MYSQL_CLIENT_DIR: server.clientDir,
    ...extra,
  };
}
