import { readFileSync } from 'node:fs';
import type { SslOptions } from 'mysql2';
import type { Flavour } from './server-info.js';

/** MySQL's names for how much TLS a connection insists on; the sidecar's one vocabulary for both families. */
export const SSL_MODES = ['DISABLED', 'PREFERRED', 'REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** TLS to the server: MYSQL_SSL_MODE and the PEM files (paths) of MYSQL_SSL_CA, _CERT and _KEY. */
export interface Tls {
  readonly mode: SslMode;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/**
 * The same choice for the driver (mysql2), which takes an `ssl` object: REQUIRED encrypts without
 * checking the certificate, VERIFY_CA checks that MYSQL_SSL_CA signed it, VERIFY_IDENTITY also
 * that it names the host. Undefined: no TLS (DISABLED, and PREFERRED's plain attempt).
 */
export function driverSsl(tls: Tls | undefined): SslOptions | undefined {
  if (!tls || tls.mode === 'DISABLED') return undefined;
  const verify = tls.mode === 'VERIFY_CA' || tls.mode === 'VERIFY_IDENTITY';
  return {
    ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
    ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}),
    ...(tls.key ? { key: readFileSync(tls.key) } : {}),
    rejectUnauthorized: verify,
    verifyIdentity: tls.mode === 'VERIFY_IDENTITY',
  };
}

/**
 * The same choice as option-file lines for the client tools (mysqldump, mysql, mysqlbinlog), per
 * family: MySQL's take ssl-mode; MariaDB's take ssl (encrypt), ssl-verify-server-cert (check the
 * certificate and the host name; MariaDB has no CA-only check, so VERIFY_CA checks the name too)
 * and skip-ssl. Nothing for no setting: each client keeps its own default.
 */
export function clientTlsOptions(tls: Tls | undefined, flavour: Flavour): Array<[string, string | null]> {
  if (!tls) return [];
  type Line = [string, string | null];
  const files: Line[] = [];
  if (tls.ca) files.push(['ssl-ca', tls.ca]);
  if (tls.cert) files.push(['ssl-cert', tls.cert]);
  if (tls.key) files.push(['ssl-key', tls.key]);
  if (flavour === 'mysql') return [['ssl-mode', tls.mode], ...files];
  switch (tls.mode) {
    case 'DISABLED':
      return [['skip-ssl', null]];
    case 'PREFERRED':
      return files;
    case 'REQUIRED':
      return [['ssl', null], ...files, ['skip-ssl-verify-server-cert', null]];
    case 'VERIFY_CA':
    case 'VERIFY_IDENTITY':
      return [['ssl', null], ...files, ['ssl-verify-server-cert', null]];
  }
}

/**
 * A TLS failure of the driver, as a cause a person can act on; undefined for other errors.
 * `cause` is the driver's message with the password redacted, the only form of it quoted.
 */
export function describeTlsProblem(error: unknown, tls: Tls | undefined, cause: string): string | undefined {
  const e = error as { code?: string; errno?: number; message?: string; syscall?: string };
  // A PEM file that cannot be read is a file problem, whatever its name says.
  if (e.syscall === 'open' || e.code === 'ENOENT' || e.code === 'EACCES') return undefined;
  const text = `${e.code ?? ''} ${e.message ?? ''}`;
  if (e.errno === 3159 || /insecure transport|require_secure_transport/i.test(text)) {
    return 'the server accepts only TLS connections: set MYSQL_SSL_MODE (REQUIRED, or VERIFY_CA or VERIFY_IDENTITY with MYSQL_SSL_CA)';
  }
  if (/does not support secure connection|HANDSHAKE_NO_SSL_SUPPORT/i.test(text)) {
    return `MYSQL_SSL_MODE is ${tls?.mode ?? 'set'} but the server does not offer TLS: configure TLS on the server, or set MYSQL_SSL_MODE=PREFERRED (or DISABLED)`;
  }
  if (/self[- ]signed|unable to (get|verify)|certificate|CERT_|ERR_TLS_CERT_ALTNAME/i.test(text)) {
    return (
      `the server's certificate was not accepted (${cause}): MYSQL_SSL_CA must be the CA that signed it` +
      `${tls?.mode === 'VERIFY_IDENTITY' ? ', and the certificate must name MYSQL_HOST' : ''}; ` +
      'MYSQL_SSL_MODE=REQUIRED encrypts without checking it, on purpose only'
    );
  }
  return undefined;
}

/**
 * The TLS settings of a `.my.cnf` group, in MySQL's words and MariaDB's: ssl-mode, ssl-ca,
 * ssl-cert, ssl-key; ssl (REQUIRED), skip-ssl or ssl=0 (DISABLED), ssl-verify-server-cert
 * (VERIFY_IDENTITY). As the variables they feed: MYSQL_SSL_MODE, _CA, _CERT, _KEY.
 */
export function tlsSettingsOfOptionFile(options: ReadonlyMap<string, string>): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [key, variable] of [['ssl-ca', 'MYSQL_SSL_CA'], ['ssl-cert', 'MYSQL_SSL_CERT'], ['ssl-key', 'MYSQL_SSL_KEY']] as const) {
    const value = options.get(key);
    if (value !== undefined) settings[variable] = value;
  }
  const on = (key: string) => options.has(key) && !['0', 'false', 'off'].includes(options.get(key)!.toLowerCase());
  const mode = options.get('ssl-mode');
  if (mode !== undefined) settings.MYSQL_SSL_MODE = mode;
  else if (on('skip-ssl') || (options.has('ssl') && !on('ssl'))) settings.MYSQL_SSL_MODE = 'DISABLED';
  else if (on('ssl-verify-server-cert')) settings.MYSQL_SSL_MODE = 'VERIFY_IDENTITY';
  else if (on('ssl')) settings.MYSQL_SSL_MODE = 'REQUIRED';
  return settings;
}

/**
 * TLS from the MYSQL_SSL_* settings (mode already checked), paths resolved by `file`: a CA alone
 * means verifying against it, as MySQL's clients take --ssl-ca; nothing set: no TLS settings at all.
 */
export function tlsFromSettings(settings: Readonly<Record<string, string | undefined>>, file: (value: string) => string): Tls | undefined {
  const { MYSQL_SSL_MODE: mode, MYSQL_SSL_CA: ca, MYSQL_SSL_CERT: cert, MYSQL_SSL_KEY: key } = settings;
  if (mode === undefined && ca === undefined && cert === undefined) return undefined;
  return {
    mode: (mode ?? (ca !== undefined ? 'VERIFY_CA' : 'PREFERRED')) as SslMode,
    ca: ca === undefined ? undefined : file(ca),
    cert: cert === undefined ? undefined : file(cert),
    key: key === undefined ? undefined : file(key),
  };
}
