import { execa } from 'execa';
import { childEnvironment } from '../child-env.js';
import { UserError } from '../errors.js';
import type { Flavour } from './server-info.js';

export interface DumpClient {
  readonly binary: string;
  readonly flavour: Flavour;
  /** The release the client belongs to, e.g. "8.0.40" or "10.11.19". */
  readonly version: string;
  /** The first line of `--version`, for the manifest. */
  readonly banner: string;
}

export const DUMP_BINARY = 'mysqldump';

export async function readDumpClient(binary: string = DUMP_BINARY): Promise<DumpClient> {
  const result = await execa(binary, ['--version'], { extendEnv: false, env: childEnvironment(), reject: false });
  if (result.failed) {
    const missing = (result as { code?: string }).code === 'ENOENT';
    throw new UserError(
      missing ? `${binary} was not found on PATH` : `${binary} --version failed: ${result.stderr || result.shortMessage}`,
      { hint: 'Install the client tools that match the server: mysql-client for MySQL, mariadb-client for MariaDB.' },
    );
  }
  return parseDumpClientBanner(binary, result.stdout.split('\n')[0] ?? '');
}

/**
 * MySQL:   "mysqldump  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)"
 * MariaDB: "mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)"
 *          "mariadb-dump from 11.4.2-MariaDB, client 10.19 for debian-linux-gnu (x86_64)"
 */
export function parseDumpClientBanner(binary: string, banner: string): DumpClient {
  const mariadb = /(\d+\.\d+\.\d+)-MariaDB/i.exec(banner);
  if (mariadb) return { binary, flavour: 'mariadb', version: mariadb[1]!, banner };
  const mysql = /Ver (\d+\.\d+\.\d+)/.exec(banner);
  if (mysql) return { binary, flavour: 'mysql', version: mysql[1]!, banner };
  throw new UserError(`cannot tell which mysqldump this is from its version line: ${JSON.stringify(banner)}`);
}
