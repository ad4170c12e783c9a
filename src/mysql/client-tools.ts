import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { childEnvironment } from '../child-env.js';
import { UserError } from '../errors.js';
import type { Flavour } from './server-info.js';

/** The client programs the sidecar runs, by their MySQL names; MariaDB 11 may ship only its own. */
const NAMES = {
  mysqldump: ['mysqldump', 'mariadb-dump'],
  mysql: ['mysql', 'mariadb'],
  mysqlbinlog: ['mysqlbinlog', 'mariadb-binlog'],
} as const;

type ClientToolRole = keyof typeof NAMES;

export interface ClientTool {
  readonly binary: string;
  readonly flavour: Flavour;
  /** The release the tool belongs to, e.g. "9.7.4" or "10.11.19". */
  readonly version: string;
  /** The first line of `--version`, for the manifest. */
  readonly banner: string;
}

const INSTALL_HINT =
  'Install the client tools of the server\'s own family (mysql-client for MySQL, mariadb-client for MariaDB), ' +
  'or point MYSQL_CLIENT_DIR at the directory that holds them.';

/**
 * Finds `role` (mysqldump, mysql or mysqlbinlog) in MYSQL_CLIENT_DIR, or on PATH when that is unset, and reads
 * which family and release it belongs to.
 */
export async function findClientTool(role: ClientToolRole, clientDir: string | undefined): Promise<ClientTool> {
  for (const name of NAMES[role]) {
    const binary = clientDir === undefined ? name : path.join(clientDir, name);
    if (clientDir !== undefined && !(await isExecutable(binary))) continue;
    // MariaDB's mysqlbinlog names only its own version ("Ver 3.5") on that line; its --help, which
    // starts with the same line, says whose it is.
    const flag = role === 'mysqlbinlog' ? '--help' : '--version';
    const result = await execa(binary, [flag], { extendEnv: false, env: childEnvironment(), reject: false });
    if ((result as { code?: string }).code === 'ENOENT') continue;
    if (result.failed) throw new UserError(`${binary} ${flag} failed: ${result.stderr || result.shortMessage}`, { hint: INSTALL_HINT });
    const [banner = '', ...rest] = result.stdout.split('\n');
    if (role === 'mysqlbinlog' && !/MariaDB/i.test(banner) && /MariaDB/.test(rest.slice(0, 5).join('\n'))) {
      return { binary, flavour: 'mariadb', version: /Ver (\d+(?:\.\d+)+)/.exec(banner)?.[1] ?? 'unknown', banner };
    }
    return parseClientBanner(binary, banner);
  }
  const where = clientDir === undefined ? 'on PATH' : `in MYSQL_CLIENT_DIR (${clientDir})`;
  throw new UserError(`${NAMES[role].join(' or ')} was not found ${where}`, { hint: INSTALL_HINT });
}

/**
 * MySQL:   "mysqldump  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)"
 *          "mysql  Ver 9.7.4-2 for Linux on x86_64 ((Debian))"
 * MariaDB: "mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)"
 *          "mariadb-dump from 11.4.2-MariaDB, client 10.19 for debian-linux-gnu (x86_64)"
 */
export function parseClientBanner(binary: string, banner: string): ClientTool {
  const mariadb = /(\d+\.\d+\.\d+)-MariaDB/i.exec(banner);
  if (mariadb) return { binary, flavour: 'mariadb', version: mariadb[1]!, banner };
  const mysql = /Ver (\d+\.\d+\.\d+)/.exec(banner);
  if (mysql) return { binary, flavour: 'mysql', version: mysql[1]!, banner };
  throw new UserError(`cannot tell which client ${binary} is from its version line: ${JSON.stringify(banner)}`, { hint: INSTALL_HINT });
}

/**
 * Rule: the sidecar talks to a server only with the client tools of that server's own family. A
 * MariaDB mysqldump against MySQL is a known source of dumps that do not restore (and a MySQL one
 * against MariaDB misses MariaDB's own syntax), so a mismatch is refused, not warned about. It
 * is a configuration error (exit 2): no retry can fix it.
 */
export function assertSameFamily(tool: ClientTool, server: { flavour: Flavour; version: string }, where: string): void {
  if (tool.flavour === server.flavour) return;
  throw new ClientFamilyMismatch(
    `${tool.binary} is ${FAMILY[tool.flavour]}'s (${tool.version}), but ${where} is ${FAMILY[server.flavour]} ${server.version}: ` +
      `refusing to use another family's client tools`,
    { hint: INSTALL_HINT, exitCode: 2 },
  );
}

/** Options of MySQL's mysqldump the sidecar uses when the installed release has them. */
export interface DumpOptions {
  /** `--set-gtid-purged=COMMENTED`: the GTID set recorded as a comment, for restore to apply or not. */
  readonly gtidPurgedCommented: boolean;
  /** `--init-command`: a statement for the dump's own session, used to bound its lock wait. */
  readonly initCommand: boolean;
}

/** Read from `--help`, which names both; older releases lack them and would refuse the flag. */
export async function readDumpOptions(tool: ClientTool): Promise<DumpOptions> {
  if (tool.flavour !== 'mysql') return { gtidPurgedCommented: false, initCommand: false };
  const result = await execa(tool.binary, ['--help'], { extendEnv: false, env: childEnvironment(), reject: false });
  if (result.failed) throw new UserError(`${tool.binary} --help failed: ${result.stderr || result.shortMessage}`, { hint: INSTALL_HINT });
  return { gtidPurgedCommented: /\bCOMMENTED\b/.test(result.stdout), initCommand: /--init-command\b/.test(result.stdout) };
}

/** The one run failure the daemon stops for: no later run can succeed until the configuration changes. */
export class ClientFamilyMismatch extends UserError {}

const FAMILY: Record<Flavour, string> = { mysql: 'MySQL', mariadb: 'MariaDB' };

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}
