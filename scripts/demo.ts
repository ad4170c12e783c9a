/**
 * The demo behind `npm run demo`: a throwaway server (the test fixture's), the sample data, a
 * least-privilege account whose credentials sit in a .my.cnf as they would in Docker secrets,
 * and the sidecar run against it as a user would run it.
 */
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { CLI_PATH } from '../test/support/cli.js';
import { startTestServer } from '../test/support/mysql-server.js';
import { createBackupAccount, loadSampleData } from '../test/support/sample-data.js';

const root = path.resolve(import.meta.dirname, '..');
const backupDir = path.join(root, 'container-volumes/backup/mysql');
const secretFile = path.join(root, 'container-volumes/docker-secrets/mysql/.my.cnf');

const server = await startTestServer();
try {
  console.log(`demo: throwaway ${server.flavour} server on ${server.host}:${server.port}`);
  await loadSampleData(server);
  const password = randomBytes(12).toString('base64url');
  await createBackupAccount(server, 'backup', password);
  await writeFile(
    secretFile,
    `[client]\nuser=backup\npassword="${password}"\nhost=${server.host}\nport=${server.port}\n`,
    { mode: 0o600 },
  );
  console.log(`demo: credentials in ${path.relative(root, secretFile)}; backups go to ${path.relative(root, backupDir)}`);

  const env = { PATH: process.env.PATH, MYSQL_DEFAULTS_FILE: secretFile, BACKUP_DIR: backupDir };
  await execa(process.execPath, [CLI_PATH, 'backup'], { env, extendEnv: false, stdio: 'inherit' });

  const files = (await readdir(backupDir)).filter((name) => name.startsWith('full_dump_')).sort();
  console.log(`demo: ${path.relative(root, backupDir)} now holds:\n  ${files.join('\n  ')}`);
  const checksums = files.filter((name) => name.endsWith('.sha256'));
  await execa('sha256sum', ['-c', ...checksums], { cwd: backupDir, stdio: 'inherit' });
} finally {
  await server.stop();
}
