import { mkdirSync, openSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestServer } from './mysql-server.js';

/**
 * Every test daemon gets an HTTP port no other test daemon of this run has: two on the default
 * 8437 at once (parallel test files, and the mariadb and mysql projects side by side) make one
 * exit 2 with HTTP_PORT taken. A port is claimed by creating a file named after it with O_EXCL in
 * a directory the whole run shares (test workers are separate processes); ports lie below
 * Linux's ephemeral range (32768 and up), where freePort() and every outgoing connection take theirs.
 */
const CLAIMS = path.join(os.tmpdir(), `mbs-http-ports-${process.env.MBS_TEST_RUN ?? 'shared'}`);
const FIRST_PORT = 10_000;
const PORTS = 22_000;

function claimHttpPort(): number {
  mkdirSync(CLAIMS, { recursive: true });
  for (;;) {
    const port = FIRST_PORT + Math.floor(Math.random() * PORTS);
    try {
      closeSync(openSync(path.join(CLAIMS, String(port)), 'wx'));
      return port;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

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
    HTTP_PORT: String(extra.HTTP_PORT ?? claimHttpPort()),
    ...extra,
  };
}
