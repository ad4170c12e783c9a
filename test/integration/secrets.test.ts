import { stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { makeTempDir, readLogEvents, startCli } from '../support/cli.js';
import { DUMP_PROGRAMS, listProcesses, runsProgram } from '../support/processes.js';
import { HOLDABLE_DUMPS, holdDumpMidway } from '../support/stalled-dump.js';

const PASSWORD = 'Sekr3t-only-in-the-env';

describe('the password during a backup', () => {
  const fixture = useBackupServer({ password: PASSWORD, ...HOLDABLE_DUMPS });

  it('is on no command line and in no child environment; its defaults file is private and removed', async () => {
    const dir = await makeTempDir();
    const stall = await holdDumpMidway(fixture.server);
    const cli = startCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir));
    let defaultsFile: string | undefined;
    try {
      await stall.waitUntilDumpWaits('backup');
      const processes = await listProcesses();
      const dump = processes.find((p) => p.ppid === cli.pid && runsProgram(p, DUMP_PROGRAMS));
      expect(dump, 'a mysqldump process is running').toBeDefined();

      for (const p of processes) expect(p.argv.join(' ')).not.toContain(PASSWORD);
      // Only the daemon itself holds it (it was given it); its children must not.
      const holders = processes.filter((p) => p.environ?.some((v) => v.includes(PASSWORD))).map((p) => p.pid);
      expect(holders).toEqual([cli.pid]);
      expect(dump!.environ).not.toBeNull();
      // LIBMYSQL_PLUGIN_DIR is the MySQL test root's wrapper's own (scripts/mysql-root.sh), not the sidecar's.
      expect(dump!.environ!.map((v) => v.split('=')[0]).filter((name) => name !== 'LIBMYSQL_PLUGIN_DIR')).toEqual(['PATH']);

      defaultsFile = dump!.argv.find((a) => a.startsWith('--defaults-file='))?.slice('--defaults-file='.length);
      expect(defaultsFile).toBeDefined();
      expect((await stat(defaultsFile!)).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(defaultsFile!))).mode & 0o777).toBe(0o700);
    } finally {
      await stall.release();
    }
    const result = await cli;
    expect(result.exitCode, result.stderr).toBe(0);
    await expect(stat(path.dirname(defaultsFile!))).rejects.toThrow(/ENOENT/);

    const log = (await readLogEvents(path.join(dir, 'backup.log'))).map((e) => JSON.stringify(e)).join('\n');
    expect(log).not.toContain(PASSWORD);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });
});
