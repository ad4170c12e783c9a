import { setTimeout as sleep } from 'node:timers/promises';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { formatDuration } from '../config/duration.js';
import { UserError } from '../errors.js';
import { redact, type Secret } from '../secret.js';
import { describeTlsProblem, driverSsl, type Tls } from './tls.js';

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: Secret;
  /** TLS settings (MYSQL_SSL_*); undefined: each client's default, the driver's being none. */
  readonly tls?: Tls | undefined;
}

export interface WaitProgress {
  attempt: number;
  retryInMs: number;
  cause: string;
}

/**
 * Errors that waiting cannot fix: the server answered and said no. Retrying a wrong password for
 * minutes would only hide the cause (and may lock the account).
 */
const REFUSALS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR
  1130, // ER_HOST_NOT_PRIVILEGED
  1251, // ER_NOT_SUPPORTED_AUTH_MODE
  3118, // ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
  4151, // ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
]);

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

export const describeAddress = (server: ServerAddress) => `${server.host}:${server.port}`;

/**
 * Connects once the server answers, retrying with exponential backoff until `timeoutMs` has
 * passed; replaces the fixed `sleep 30` of the bash loop. Refusals fail at once.
 */
export async function waitForServer(
  server: ServerAddress,
  options: { timeoutMs: number; onWaiting?: (progress: WaitProgress) => void; signal?: AbortSignal },
): Promise<Connection> {
  const deadline = Date.now() + options.timeoutMs;
  let delay = FIRST_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    try {
      return await connectOnce(server, Math.max(1_000, Math.min(10_000, remaining)));
    } catch (error) {
      const cause = redact(describeDriverError(error), server.password);
      // A TLS mismatch is a setting to change, not a server to wait for.
      const tlsProblem = describeTlsProblem(error, server.tls, cause);
      if (tlsProblem) throw new UserError(`MySQL at ${describeAddress(server)}: ${tlsProblem}`, { hint: `The driver said: ${cause}` });
      const errno = (error as { errno?: number }).errno;
      if (errno !== undefined && REFUSALS.has(errno)) {
        // MariaDB answers a plain connection to a server with require_secure_transport so, too.
        const tlsToo = server.tls === undefined && errno === 1045 ? ' If the server accepts only TLS connections, set MYSQL_SSL_MODE.' : '';
        throw new UserError(`MySQL at ${describeAddress(server)} refused user '${server.user}': ${cause}`, {
          hint: `Check MYSQL_USER and the password (MYSQL_PASSWORD, MYSQL_PASSWORD_FILE or MYSQL_DEFAULTS_FILE), and the account's host part.${tlsToo}`,
        });
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new UserError(
          `MySQL at ${describeAddress(server)} did not answer within ${formatDuration(options.timeoutMs)} (last error: ${cause})`,
          { hint: 'Check MYSQL_HOST and MYSQL_PORT and that the server is running; raise MYSQL_WAIT_TIMEOUT if it starts slowly.' },
        );
      }
      const retryInMs = Math.min(delay, left);
      options.onWaiting?.({ attempt, retryInMs, cause });
      await sleep(retryInMs, undefined, { signal: options.signal });
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}

/** One connection attempt; PREFERRED tries TLS first and, where the server offers none, plain. */
async function connectOnce(server: ServerAddress, connectTimeout: number): Promise<Connection> {
  const options = {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password.reveal(),
    connectTimeout,
    multipleStatements: false,
  };
  const ssl = driverSsl(server.tls);
  if (!ssl) return mysql.createConnection(options);
  try {
    return await mysql.createConnection({ ...options, ssl });
  } catch (error) {
    if (server.tls?.mode !== 'PREFERRED' || !/does not support secure connection/i.test(String((error as Error).message))) throw error;
    return mysql.createConnection(options);
  }
}

export function describeDriverError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  if (e.message && e.code && !e.message.includes(e.code)) return `${e.code}: ${e.message}`;
  return e.message || e.code || String(error);
}

/** The sidecar's own queries are tiny; a server that takes longer is frozen, and a run must not hang on it. */
const QUERY_TIMEOUT_MS = 30_000;

export const queryWithTimeout = (connection: Connection, sql: string, values?: unknown[]) =>
  connection.query<RowDataPacket[]>({ sql, timeout: QUERY_TIMEOUT_MS }, values);
