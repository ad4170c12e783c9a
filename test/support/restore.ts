import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { makeTempDir } from './cli.js';
import type { TestServer } from './mysql-server.js';

/** Restores a dump file the way a person does by hand: decompress | mysql. */
export async function restoreWithMysqlClient(server: TestServer, dumpPath: string): Promise<void> {
  const admin = server.adminClient();
  const mysqlOptions = { env: admin.env };
  if (dumpPath.endsWith('.gz')) {
    await execa('gzip', ['-dc', dumpPath]).pipe(admin.command, admin.args, mysqlOptions);
  } else if (dumpPath.endsWith('.zst')) {
    await execa('zstd', ['-dcq', dumpPath]).pipe(admin.command, admin.args, mysqlOptions);
  } else {
    await execa(admin.command, admin.args, { ...mysqlOptions, inputFile: dumpPath });
  }
}

/** A .my.cnf for the fixture's admin account over TCP: what a person passes to restore. */
export async function adminCnf(server: TestServer): Promise<string> {
  const { user, password } = server.adminOverTcp();
  const file = path.join(await makeTempDir('mbs-admin-'), 'admin.cnf');
  await writeFile(file, `[client]\nuser=${user}\npassword="${password}"\nhost=${server.host}\nport=${server.port}\n`, { mode: 0o600 });
  return file;
}
