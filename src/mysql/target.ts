import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mergeGroups, parseOptionFile } from '../config/option-file.js';
import { UserError } from '../errors.js';
import { Secret } from '../secret.js';
import type { ServerAddress } from './connect.js';
import { SSL_MODES, tlsFromSettings, tlsSettingsOfOptionFile } from './tls.js';

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

/** A target, and where its account came from, for an error that must say which login was used. */
export interface Target extends ServerAddress {
  /** "MYSQL_USER", "--user", "--defaults-file F", or what the caller named its base. */
  readonly userFrom: string;
}

/**
 * The server `restore` and `drill` write to: the configured one, with a `.my.cnf` given by
 * --defaults-file ([client] then [mysql]) and then --host/--port/--user/--password-file on top.
 * Restoring needs an account that may create everything in the dump (usually root), which the
 * least-privilege backup account is not.
 */
export function resolveTarget(base: ServerAddress | Target, flags: TargetFlags, cwd: string): Target {
  let { host, port, user, password, tls } = base;
  let userFrom = 'userFrom' in base ? base.userFrom : 'MYSQL_USER';
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
    if (options.has('user')) [user, userFrom] = [options.get('user')!, `--defaults-file ${defaultsFile}`];
    password = options.has('password') ? new Secret(options.get('password')!) : password;
    // The file's TLS settings, if it has any, replace the base's: a scratch server has its own.
    const ssl = tlsSettingsOfOptionFile(options);
    if (Object.keys(ssl).length > 0) {
      const mode = ssl.MYSQL_SSL_MODE?.toUpperCase();
      if (mode !== undefined && !(SSL_MODES as readonly string[]).includes(mode)) {
        throw new UserError(`ssl-mode=${JSON.stringify(mode)} in ${defaultsFile} expected one of ${SSL_MODES.join(', ')}`, { exitCode: 2 });
      }
      tls = tlsFromSettings({ ...ssl, MYSQL_SSL_MODE: mode }, (file) => path.resolve(path.dirname(path.resolve(cwd, defaultsFile)), file));
    }
  }
  if (flags.host) host = flags.host;
  if (flags.port) port = parsePort(flags.port, '--port');
  if (flags.user) [user, userFrom] = [flags.user, '--user'];
  const passwordFile = flags['password-file'];
  if (passwordFile) {
    try {
      password = new Secret(readFileSync(path.resolve(cwd, passwordFile), 'utf8').replace(/\r?\n$/, ''));
    } catch (error) {
      throw new UserError(`--password-file ${passwordFile} cannot be read: ${(error as NodeJS.ErrnoException).code}`, { exitCode: 2 });
    }
  }
  return { host, port, user, password, tls, userFrom };
}

/**
 * The scratch server of drills: DRILL_DEFAULTS_FILE's when set (its account may restore, the
 * backup account may not), then the command's own flags on top.
 */
export function resolveDrillTarget(base: ServerAddress, drillDefaultsFile: string | undefined, flags: TargetFlags, cwd: string): Target {
  if (!drillDefaultsFile) return resolveTarget(base, flags, cwd);
  const scratch = resolveTarget(base, { 'defaults-file': drillDefaultsFile }, cwd);
  const userFrom = scratch.userFrom === 'MYSQL_USER' ? scratch.userFrom : 'DRILL_DEFAULTS_FILE';
  return resolveTarget({ ...scratch, userFrom }, flags, cwd);
}

function parsePort(text: string, where: string): number {
  const port = Number(text);
  if (!/^[0-9]+$/.test(text) || port < 1 || port > 65535) {
    throw new UserError(`${where}=${JSON.stringify(text)} expected a whole number from 1 to 65535`, { exitCode: 2 });
  }
  return port;
}
