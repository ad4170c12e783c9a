import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { makeTempDir } from './cli.js';

export interface TestCertificates {
  /** The CA that signed `server`. */
  readonly ca: string;
  /** Signed by `ca`, naming 127.0.0.1 and localhost. */
  readonly server: { readonly cert: string; readonly key: string };
  /** Signed by nobody but itself, naming 127.0.0.1: what a server's auto-generated certificate is. */
  readonly selfSigned: { readonly cert: string; readonly key: string };
}

/** Certificates made with openssl for this test run, valid for two days. */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await makeTempDir('mbs-tls-');
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execa('openssl', args, { cwd: dir });
  const names = 'subjectAltName=IP:127.0.0.1,DNS:localhost';
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=mysql-backup-sidecar test CA');
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  await writeFile(file('server.ext'), `${names}\n`);
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', names);
  return {
    ca: file('ca.pem'),
    server: { cert: file('server.pem'), key: file('server.key') },
    selfSigned: { cert: file('self.pem'), key: file('self.key') },
  };
}
