import type { TestServer } from './mysql-server.js';

/**
 * Test daemons listen below Linux's ephemeral range (32768 and up), where freePort() and every
 * outgoing connection take theirs, in a block of 1,000 ports per vitest worker: two daemons of
 * parallel test files on the default 8437 would make one exit 2 ("HTTP_PORT is taken").
 */
const workerBlock = 10_000 + (Number(process.env.VITEST_POOL_ID ?? 0) % 22) * 1_000;
let daemonsStarted = 0;
const nextHttpPort = () => workerBlock + (daemonsStarted++ % 1_000);

/**
 * The environment of a sidecar pointed at `server` as the fixture's backup account, with the
 * client tools of the server's own family (MYSQL_CLIENT_DIR), as a user sets them up, and an
 * HTTP port of its own on loopback unless `extra` names one.
 */
export function sidecarEnv(server: TestServer, password: string, dir: string, extra: Record<string, string> = {}) {
  return {
    MYSQL_HOST: server.host,
    MYSQL_PORT: String(server.port),
    MYSQL_USER: 'backup',
    MYSQL_PASSWORD: password,
    BACKUP_DIR: dir,
    MYSQL_CLIENT_DIR: server.clientDir,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(nextHttpPort()),
    ...extra,
  };
}
