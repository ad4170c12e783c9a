import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { dumpLikeEntries, isDumpName, makeTempDir, readLogEvents, runCli, startCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { HOLDABLE_DUMPS, holdDumpMidway } from '../support/stalled-dump.js';

const PASSWORD = 'killed-mid-dump';

describe('the server killed with SIGKILL in the middle of a dump', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true, ...HOLDABLE_DUMPS });
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    dir = await makeTempDir();
    env = sidecarEnv(fixture.server, PASSWORD, dir, { MYSQL_WAIT_TIMEOUT: '5s' });
  });

  it('fails within seconds with mysqldump\'s cause, leaves only the log, and the next backup succeeds', async () => {
    const stall = await holdDumpMidway(fixture.server);
    const cli = startCli(['backup'], env);
    await stall.waitUntilDumpWaits('backup');
    // Some of the dump is already written when the server dies.
    const partial = (await readdir(dir)).find((n) => n.endsWith('.partial'));
    expect(partial).toBeDefined();

    await fixture.server.kill();
    const killedAt = Date.now();
    const result = await cli;
    const secondsToExit = (Date.now() - killedAt) / 1000;
    await stall.release();

    expect(result.exitCode, result.stderr).toBe(1);
    expect(secondsToExit).toBeLessThan(15);
    expect(result.stderr).toMatch(/backup failed: mysqldump exited with code \d+/);
    expect(result.stderr).toMatch(/Lost connection|server has gone away|Can't connect/i);
    expect(await readdir(dir)).toEqual(['backup.log']);
    const failure = (await readLogEvents(path.join(dir, 'backup.log'))).find((e) => e.event === 'backup.failed');
    expect(failure?.cause).toMatch(/mysqldump exited with code/);
    expect(String(failure?.stderr)).toMatch(/Lost connection|server has gone away/i);

    await fixture.server.restart();
    const next = await runCli(['backup'], env);
    expect(next.exitCode, next.stderr).toBe(0);
    const stored = await dumpLikeEntries(dir);
    expect(stored).toHaveLength(3);
    const dump = stored.find(isDumpName)!;
    await execa('sha256sum', ['-c', `${dump}.sha256`], { cwd: dir });
  });
});
