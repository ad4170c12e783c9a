import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mergeGroups, parseOptionFile } from '../config/option-file.js';
import { UserError } from '../errors.js';
import { Secret } from '../secret.js';
import type { ServerAddress } from './connect.js';

/** Command-line choices of the server to restore into; the password only ever comes from a file. */
export interface TargetFlags {
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly user?: string | undefined;
  readonly 'password-file'?: string | undefined;
  readonly 'defaults-file'?: string | undefined;
}

export const TARGET_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
  'defaults-file': { type: 'string' },
} as const;

/**
 * The server `restore` and `drill` write to: the configured one, with a `.my.cnf` given by
 * --defaults-file ([client] then [mysql]) and then --host/--port/--user/--password-file on top.
 * Restoring needs an account that may create everything in the dump (usually root), which the
 * least-privilege backup account is not.
 */
export function resolveTarget(base: ServerAddress, flags: TargetFlags, cwd: string): ServerAddress {
  let { host, port, user, password } = base;
  const defaultsFile = flags['defaults-file'];
  if (defaultsFile) {
    let options: Map<string, string>;
    try {
      options = mergeGroups(parseOptionFile(readFileSync(path.resolve(cwd, defaultsFile), 'utf8')), ['client', 'mysql']);
    } catch (error) {
      throw new UserError(`--defaults-file ${defaultsFile} cannot be read: ${(error as Error).message}`, { exitCode: 2 });
    }
    host = options.get('host') ?? host;
    port = options.has('port') ? parsePort(options.get('port')!, `port in ${defaultsFile}`) : port;
    user = options.get('user') ?? user;
    password = options.has('password') ? new Secret(options.get('password')!) : password;
  }
  if (flags.host) host = flags.host;
  if (flags.port) port = parsePort(flags.port, '--port');
  if (flags.user) user = flags.user;
  const passwordFile = flags['password-file'];
  if (passwordFile) {
    try {
      password = new Secret(readFileSync(path.resolve(cwd, passwordFile), 'utf8').replace(/\r?\n$/, ''));
    } catch (error) {
      throw new UserError(`--password-file ${passwordFile} cannot be read: ${(error as NodeJS.ErrnoException).code}`, { exitCode: 2 });
    }
  }
  return { host, port, user, password };
}

function parsePort(text: string, where: string): number {
  const port = Number(text);
  if (!/^[0-9]+$/.test(text) || port < 1 || port > 65535) {
    throw new UserError(`${where}=${JSON.stringify(text)} expected a whole number from 1 to 65535`, { exitCode: 2 });
  }
  return port;
}
