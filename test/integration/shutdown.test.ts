import { readdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, makeTempDir, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { DUMP_PROGRAMS, listProcesses, runsProgram } from '../support/processes.js';
import { HOLDABLE_DUMPS, holdDumpMidway } from '../support/stalled-dump.js';

const PASSWORD = 'shutdown-pw';
const NEVER = { BACKUP_SCHEDULE: '0 0 1 1 *' };

/** The mysqldump processes a given daemon started. */
const mysqldumpPids = async (daemonPid: number | undefined) =>
  (await listProcesses()).filter((p) => p.ppid === daemonPid && runsProgram(p, DUMP_PROGRAMS)).map((p) => p.pid);

describe('run: stopping', () => {
  const fixture = useBackupServer({ password: PASSWORD, ...HOLDABLE_DUMPS });

  /** A daemon whose first run is held mid-dump by a table lock. */
  async function daemonMidDump(extra: Record<string, string> = {}) {
    const dir = await makeTempDir();
    const stall = await holdDumpMidway(fixture.server);
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { ...NEVER, ...extra }));
    await stall.waitUntilDumpWaits('backup');
    return { dir, stall, daemon, log: path.join(dir, 'backup.log') };
  }

  it('SIGTERM within the grace time lets the run finish, then exits 0', async () => {
    const { dir, stall, daemon, log } = await daemonMidDump({ BACKUP_STOP_GRACE: '30s' });
    daemon.kill('SIGTERM');
    await waitForLog(log, (e) => countEvents(e, 'daemon.stopping') === 1);
    await sleep(500);
    await stall.release();
    const result = await daemon;
    expect(result.exitCode, result.stderr).toBe(0);
    const events = await waitForLog(log, (e) => countEvents(e, 'daemon.stopped') === 1);
    expect(events.find((e) => e.event === 'daemon.stopped')).toMatchObject({ outcome: 'finished' });
    const checksum = (await readdir(dir)).find((n) => n.endsWith('.sha256'))!;
    await execa('sha256sum', ['-c', checksum], { cwd: dir });
  });

  it('SIGTERM beyond the grace time abandons the run cleanly: mysqldump stopped, partial removed, exit 0', async () => {
    const { dir, stall, daemon, log } = await daemonMidDump({ BACKUP_STOP_GRACE: '2s' });
    const dumpsBefore = await mysqldumpPids(daemon.pid);
    expect(dumpsBefore.length).toBeGreaterThan(0);
    const sentAt = Date.now();
    daemon.kill('SIGTERM');
    const result = await daemon;
    const stoppedAfterMs = Date.now() - sentAt;
    await stall.release();
    expect(result.exitCode, result.stderr).toBe(0);
    // The grace, then mysqldump's SIGTERM and the cleanup; well under the 10 s compose default.
    expect(stoppedAfterMs).toBeGreaterThanOrEqual(2_000);
    expect(stoppedAfterMs).toBeLessThan(9_000);
    const events = await waitForLog(log, (e) => countEvents(e, 'daemon.stopped') === 1);
    expect(events.find((e) => e.event === 'backup.failed')?.cause).toMatch(/cancelled/);
    expect(events.find((e) => e.event === 'daemon.stopped')).toMatchObject({ outcome: 'abandoned' });
    // Besides the log, only the daemon's state: the abandoned run counted, none left in flight.
    expect((await readdir(dir)).sort()).toEqual(['.mysql-backup-sidecar.state.json', 'backup.log']);
    expect(JSON.parse(await readFile(path.join(dir, '.mysql-backup-sidecar.state.json'), 'utf8'))).toMatchObject({ consecutiveFailures: 1, runInFlight: null });
    const alive = (await listProcesses()).map((p) => p.pid);
    for (const pid of dumpsBefore) expect(alive).not.toContain(pid);
  });

  it('a second signal abandons the run at once', async () => {
    const { dir, stall, daemon, log } = await daemonMidDump({ BACKUP_STOP_GRACE: '5m' });
    const sentAt = Date.now();
    daemon.kill('SIGTERM');
    await waitForLog(log, (e) => countEvents(e, 'daemon.stopping') === 1);
    daemon.kill('SIGINT');
    const result = await daemon;
    await stall.release();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    const events = await waitForLog(log, (e) => countEvents(e, 'daemon.stopped') === 1);
    expect(countEvents(events, 'daemon.aborting')).toBe(1);
    expect(events.find((e) => e.event === 'daemon.stopped')).toMatchObject({ outcome: 'abandoned' });
    // Besides the log, only the daemon's state: the abandoned run counted, none left in flight.
    expect((await readdir(dir)).sort()).toEqual(['.mysql-backup-sidecar.state.json', 'backup.log']);
    expect(JSON.parse(await readFile(path.join(dir, '.mysql-backup-sidecar.state.json'), 'utf8'))).toMatchObject({ consecutiveFailures: 1, runInFlight: null });
  });

  it('kill -9 mid-run leaves only what the next start cleans up, and its next run succeeds', async () => {
    const { dir, stall, daemon, log } = await daemonMidDump();
    const partial = (await readdir(dir)).find((n) => n.endsWith('.partial'));
    expect(partial).toBeDefined();
    const credentials = (await readdir(os.tmpdir())).filter((n) => n.startsWith(`mysql-backup-sidecar-${daemon.pid}-`));
    expect(credentials).toHaveLength(1);

    daemon.kill('SIGKILL');
    await daemon;
    await stall.release(); // the orphaned mysqldump then dies writing to a pipe nobody reads

    const restarted = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, NEVER));
    const events = await waitForLog(log, (e) => countEvents(e, 'backup.succeeded') === 1);
    restarted.kill('SIGTERM');
    expect((await restarted).exitCode).toBe(0);

    const removed = events.filter((e) => e.event === 'cleanup.removed').map((e) => String(e.path));
    expect(removed).toContain(path.join(dir, partial!));
    expect(removed).toContain(path.join(os.tmpdir(), credentials[0]!));
    await expect(stat(path.join(os.tmpdir(), credentials[0]!))).rejects.toThrow(/ENOENT/);
    const names = await readdir(dir);
    expect(names.filter((n) => n.endsWith('.partial'))).toEqual([]);
    const checksum = names.find((n) => n.endsWith('.sha256'))!;
    await execa('sha256sum', ['-c', checksum], { cwd: dir });
  });
});
