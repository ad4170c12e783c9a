import { afterAll, beforeAll } from 'vitest';
import { startTestServer, type TestServer, type TestServerOptions } from './mysql-server.js';
import { createBackupAccount, loadSampleData } from './sample-data.js';

export const BACKUP_USER = 'backup';

/**
 * For a describe block: a throwaway server started before its tests (with the least-privilege
 * account `backup` identified by `password`, and the sample data if asked) and stopped after.
 */
export function useBackupServer(options: { password: string; sampleData?: boolean } & TestServerOptions): { readonly server: TestServer } {
  const handle = {} as { server: TestServer };
  beforeAll(async () => {
    handle.server = await startTestServer(options);
    if (options.sampleData) await loadSampleData(handle.server);
    await createBackupAccount(handle.server, BACKUP_USER, options.password);
  });
  afterAll(async () => {
    await handle.server?.stop();
  });
  return handle;
}
