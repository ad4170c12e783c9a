import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatOption } from '../config/option-file.js';
import type { ServerAddress } from './connect.js';
import type { Flavour } from './server-info.js';
import { clientTlsOptions } from './tls.js';

/**
 * Rule: the password never reaches a command line or a child's environment. mysqldump reads it
 * from this file instead: in a fresh directory only we can enter (0700), created 0600 with O_EXCL
 * so nobody can plant it first, and removed when `use` settles, whether it succeeds or throws.
 * A kill -9 can leave it behind; the directory's name carries our pid so that start-up hygiene
 * can tell a dead process's directory from a live one's.
 */
export const DEFAULTS_DIR_PREFIX = 'mysql-backup-sidecar-';

export async function withDefaultsFile<T>(
  server: ServerAddress,
  flavour: Flavour,
  use: (defaultsFile: string) => Promise<T>,
  tmpDir: string = os.tmpdir(),
): Promise<T> {
  const dir = await mkdtemp(path.join(tmpDir, `${DEFAULTS_DIR_PREFIX}${process.pid}-`));
  try {
    const file = path.join(dir, 'client.cnf');
    await writeFile(file, renderDefaultsFile(server, flavour), { mode: 0o600, flag: 'wx' });
    return await use(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The [client] group for a client tool of `flavour` (TLS options differ by family: tls.ts). */
export function renderDefaultsFile(server: ServerAddress, flavour: Flavour): string {
  return [
    '[client]',
    formatOption('user', server.user),
    formatOption('password', server.password.reveal()),
    formatOption('host', server.host),
    formatOption('port', String(server.port)),
    // The probe connects over TCP; without this, host=localhost would make mysqldump look for a
    // Unix socket that a sidecar container does not have.
    formatOption('protocol', 'TCP'),
    ...clientTlsOptions(server.tls, flavour).map(([key, value]) => (value === null ? key : formatOption(key, value))),
    '',
  ].join('\n');
}
