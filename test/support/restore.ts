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

/** "2026-12-06 13:40:05" as `zone` shows the instant. */
export function wallTime(ms: number, zone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}
