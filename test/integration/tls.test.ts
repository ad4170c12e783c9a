import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { makeTempDir, runCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { adminCnf } from '../support/restore.js';
import { makeTestCertificates } from '../support/tls.js';

const PASSWORD = 'tls-pw';
const certs = await makeTestCertificates();

describe('a server that accepts TCP only over TLS, with a certificate of its own CA', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true, tls: { ca: certs.ca, ...certs.server } });
  const env = async (extra: Record<string, string>) => sidecarEnv(fixture.server, PASSWORD, await makeTempDir(), extra);

  it('backs up with MYSQL_SSL_MODE=VERIFY_IDENTITY and MYSQL_SSL_CA, and restores over TLS too', async () => {
    const settings = await env({ MYSQL_SSL_MODE: 'VERIFY_IDENTITY', MYSQL_SSL_CA: certs.ca });
    const backup = await runCli(['backup'], settings);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const restore = await runCli(['restore', 'latest', '--yes', '--defaults-file', await adminCnf(fixture.server)], settings);
    expect(restore.exitCode, restore.stderr).toBe(0);
  });

  it('a CA alone means VERIFY_CA, as the clients take --ssl-ca; the ssl options of MYSQL_DEFAULTS_FILE work the same', async () => {
    expect((await runCli(['backup'], await env({ MYSQL_SSL_CA: certs.ca }))).exitCode).toBe(0);
    // MariaDB's words, with a CA path relative to the file, as a .my.cnf beside its CA has it.
    const cnfDir = await makeTempDir('mbs-cnf-');
    await copyFile(certs.ca, path.join(cnfDir, 'ca.pem'));
    await writeFile(path.join(cnfDir, 'my.cnf'), '[client]\nssl\nssl-ca=ca.pem\nssl-verify-server-cert\n', { mode: 0o600 });
    const fromFile = await runCli(['backup'], await env({ MYSQL_DEFAULTS_FILE: path.join(cnfDir, 'my.cnf') }));
    expect(fromFile.exitCode, fromFile.stderr).toBe(0);
  });

  it('without TLS settings the refusal names the setting at once, instead of waiting for the server', async () => {
    const result = await runCli(['backup'], await env({}));
    expect(result.exitCode, result.stderr).toBe(1);
    // MySQL says why; MariaDB answers Access denied, so the hint says what else it may be.
    expect(result.stderr).toContain(
      fixture.server.flavour === 'mysql'
        ? 'the server accepts only TLS connections: set MYSQL_SSL_MODE (REQUIRED, or VERIFY_CA or VERIFY_IDENTITY with MYSQL_SSL_CA)'
        : 'If the server accepts only TLS connections, set MYSQL_SSL_MODE.',
    );
    expect(result.stderr).not.toContain(PASSWORD);
  });

  it('a CA that did not sign the certificate is a clear error; REQUIRED encrypts without checking, on purpose', async () => {
    const wrongCa = await runCli(['backup'], await env({ MYSQL_SSL_MODE: 'VERIFY_CA', MYSQL_SSL_CA: certs.selfSigned.cert }));
    expect(wrongCa.exitCode, wrongCa.stderr).toBe(1);
    expect(wrongCa.stderr).toMatch(/the server's certificate was not accepted \(.+\): MYSQL_SSL_CA must be the CA that signed it/);
    expect((await runCli(['backup'], await env({ MYSQL_SSL_MODE: 'REQUIRED' }))).exitCode).toBe(0);
  });

  it('names a CA file that is not there at start-up, and an unknown mode', async () => {
    const missing = await runCli(['backup'], await env({ MYSQL_SSL_CA: '/nonexistent/ca.pem' }));
    expect(missing.exitCode, missing.stderr).toBe(2);
    expect(missing.stderr).toContain('MYSQL_SSL_CA="/nonexistent/ca.pem" cannot be read: no such file');
    const mode = await runCli(['backup'], await env({ MYSQL_SSL_MODE: 'verify' }));
    expect(mode.exitCode, mode.stderr).toBe(2);
    expect(mode.stderr).toContain('MYSQL_SSL_MODE="verify" expected one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY');
  });
});

describe('a server with a self-signed certificate', () => {
  const fixture = useBackupServer({ password: PASSWORD, tls: { ca: certs.selfSigned.cert, ...certs.selfSigned } });
  const env = async (extra: Record<string, string>) => sidecarEnv(fixture.server, PASSWORD, await makeTempDir(), extra);

  it('is refused with a clear error when its certificate is to be verified, and taken when verification is relaxed on purpose', async () => {
    const verified = await runCli(['backup'], await env({ MYSQL_SSL_MODE: 'VERIFY_IDENTITY', MYSQL_SSL_CA: certs.ca }));
    expect(verified.exitCode, verified.stderr).toBe(1);
    expect(verified.stderr).toMatch(/the server's certificate was not accepted \(.*self[- ]signed.*\)/i);
    const withoutCa = await runCli(['backup'], await env({ MYSQL_SSL_MODE: 'VERIFY_CA' }));
    expect(withoutCa.exitCode, withoutCa.stderr).toBe(2);
    expect(withoutCa.stderr).toContain('MYSQL_SSL_MODE="VERIFY_CA" needs MYSQL_SSL_CA');
    expect((await runCli(['backup'], await env({ MYSQL_SSL_MODE: 'REQUIRED' }))).exitCode).toBe(0);
    // Trusting the certificate itself as the CA verifies it.
    expect((await runCli(['backup'], await env({ MYSQL_SSL_MODE: 'VERIFY_IDENTITY', MYSQL_SSL_CA: certs.selfSigned.cert }))).exitCode).toBe(0);
  });
});
