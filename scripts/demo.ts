/**
 * The demo behind `npm run demo`: a throwaway server (the test fixture's), the sample data, a
 * least-privilege account whose credentials sit in a .my.cnf as they would in Docker secrets,
 * and the daemon run against it on a 15-second schedule, as a user would run it.
 * DEMO_SECONDS (default 45) is how long the daemon runs; 0 means until Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { CLI_PATH } from '../test/support/cli.js';
import { startTestServer } from '../test/support/mysql-server.js';
import { createBackupAccount, loadSampleData } from '../test/support/sample-data.js';

const root = path.resolve(import.meta.dirname, '..');
const backupDir = path.join(root, 'container-volumes/backup/mysql');
// .demo/ is gitignored: the demo's own credentials never sit where a real secret would.
const secretFile = path.join(root, '.demo/backup.my.cnf');
const seconds = Number(process.env.DEMO_SECONDS ?? 45);

const server = await startTestServer();
try {
  console.log(`demo: throwaway ${server.flavour} server on ${server.host}:${server.port}`);
  await loadSampleData(server);
  const password = randomBytes(12).toString('base64url');
  await createBackupAccount(server, 'backup', password);
  await mkdir(path.dirname(secretFile), { recursive: true, mode: 0o700 });
  await writeFile(
    secretFile,
    `[client]\nuser=backup\npassword="${password}"\nhost=${server.host}\nport=${server.port}\n`,
    { mode: 0o600 },
  );
  console.log(`demo: credentials in ${path.relative(root, secretFile)}; backups go to ${path.relative(root, backupDir)}`);
  console.log(`demo: the daemon backs up now and every 15 s${seconds ? ` for ${seconds} s` : ' until Ctrl-C'}`);

  const daemon = execa(process.execPath, [CLI_PATH, 'run'], {
    env: {
      PATH: process.env.PATH,
      MYSQL_DEFAULTS_FILE: secretFile,
      BACKUP_DIR: backupDir,
      BACKUP_SCHEDULE: '*/15 * * * * *',
    },
    extendEnv: false,
    stdio: 'inherit',
  });
  // Ctrl-C reaches the daemon too; let it stop gracefully while the demo waits for it.
  process.on('SIGINT', () => undefined);
  if (seconds > 0) setTimeout(() => daemon.kill('SIGTERM'), seconds * 1000).unref();
  await daemon;

  const files = (await readdir(backupDir)).filter((name) => name.startsWith('full_dump_')).sort();
  console.log(`demo: ${path.relative(root, backupDir)} now holds:\n  ${files.join('\n  ')}`);
  const checksums = files.filter((name) => name.endsWith('.sha256'));
  await execa('sha256sum', ['-c', ...checksums], { cwd: backupDir, stdio: 'inherit' });
} finally {
  await server.stop();
}
