import { execa } from 'execa';
import type { TestServer } from './mysql-server.js';

/** Restores a dump file the way a person does by hand: decompress | mysql. */
export async function restoreWithMysqlClient(server: TestServer, dumpPath: string): Promise<void> {
  const admin = server.adminClient();
  const mysqlOptions = { env: admin.env };
  if (dumpPath.endsWith('.gz')) {
    await execa('gzip', ['-dc', dumpPath]).pipe('mysql', admin.args, mysqlOptions);
  } else if (dumpPath.endsWith('.zst')) {
    await execa('zstd', ['-dcq', dumpPath]).pipe('mysql', admin.args, mysqlOptions);
  } else {
    await execa('mysql', admin.args, { ...mysqlOptions, inputFile: dumpPath });
  }
}
