import { describe, expect, it } from 'vitest';
import { renderDefaultsFile } from '../../../src/mysql/defaults-file.js';
import { clientTlsOptions, driverSsl, tlsSettingsOfOptionFile } from '../../../src/mysql/tls.js';
import { Secret } from '../../../src/secret.js';

const server = { host: 'db', port: 3306, user: 'backup', password: new Secret('pw') };

describe('TLS settings, mapped per client family', () => {
  it.each([
    ['DISABLED', ['ssl-mode="DISABLED"'], ['skip-ssl']],
    ['PREFERRED', ['ssl-mode="PREFERRED"', 'ssl-ca="/ca.pem"'], ['ssl-ca="/ca.pem"']],
    ['REQUIRED', ['ssl-mode="REQUIRED"', 'ssl-ca="/ca.pem"'], ['ssl', 'ssl-ca="/ca.pem"', 'skip-ssl-verify-server-cert']],
    ['VERIFY_CA', ['ssl-mode="VERIFY_CA"', 'ssl-ca="/ca.pem"'], ['ssl', 'ssl-ca="/ca.pem"', 'ssl-verify-server-cert']],
    ['VERIFY_IDENTITY', ['ssl-mode="VERIFY_IDENTITY"', 'ssl-ca="/ca.pem"'], ['ssl', 'ssl-ca="/ca.pem"', 'ssl-verify-server-cert']],
  ] as const)('%s: MySQL clients take ssl-mode, MariaDB clients ssl and ssl-verify-server-cert', (mode, mysql, mariadb) => {
    const tls = { mode, ca: mode === 'DISABLED' ? undefined : '/ca.pem' };
    const lines = (flavour: 'mysql' | 'mariadb') => renderDefaultsFile({ ...server, tls }, flavour).split('\n').slice(6).filter(Boolean);
    expect(lines('mysql')).toEqual(mysql);
    expect(lines('mariadb')).toEqual(mariadb);
  });

  it('leaves every client its own default when nothing is set', () => {
    expect(clientTlsOptions(undefined, 'mysql')).toEqual([]);
    expect(renderDefaultsFile(server, 'mariadb')).not.toMatch(/ssl/);
    expect(driverSsl(undefined)).toBeUndefined();
  });

  it('the driver checks the certificate from VERIFY_CA on, and the host name only with VERIFY_IDENTITY', () => {
    expect(driverSsl({ mode: 'REQUIRED' })).toMatchObject({ rejectUnauthorized: false, verifyIdentity: false });
    expect(driverSsl({ mode: 'VERIFY_CA' })).toMatchObject({ rejectUnauthorized: true, verifyIdentity: false });
    expect(driverSsl({ mode: 'VERIFY_IDENTITY' })).toMatchObject({ rejectUnauthorized: true, verifyIdentity: true });
    expect(driverSsl({ mode: 'DISABLED' })).toBeUndefined();
  });

  it("reads a .my.cnf's ssl options in both families' words", () => {
    const read = (entries: Array<[string, string]>) => tlsSettingsOfOptionFile(new Map(entries));
    expect(read([['ssl-mode', 'VERIFY_CA'], ['ssl-ca', 'ca.pem']])).toEqual({ MYSQL_SSL_MODE: 'VERIFY_CA', MYSQL_SSL_CA: 'ca.pem' });
    expect(read([['ssl', ''], ['ssl-verify-server-cert', '']])).toEqual({ MYSQL_SSL_MODE: 'VERIFY_IDENTITY' });
    expect(read([['ssl', '1']])).toEqual({ MYSQL_SSL_MODE: 'REQUIRED' });
    expect(read([['ssl', '0']])).toEqual({ MYSQL_SSL_MODE: 'DISABLED' });
    expect(read([['skip-ssl', '']])).toEqual({ MYSQL_SSL_MODE: 'DISABLED' });
    expect(read([['ssl-cert', 'c.pem'], ['ssl-key', 'k.pem']])).toEqual({ MYSQL_SSL_CERT: 'c.pem', MYSQL_SSL_KEY: 'k.pem' });
    expect(read([['user', 'x']])).toEqual({});
  });
});
