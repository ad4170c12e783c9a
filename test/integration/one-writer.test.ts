import { readdir, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, dumpLikeEntries, isDumpName, makeTempDir, runCli, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort } from '../support/mysql-server.js';
import { adminCnf } from '../support/restore.js';
import { HOLDABLE_DUMPS, holdDumpMidway } from '../support/stalled-dump.js';

const PASSWORD = 'one-writer-pw';
const NEVER = { BACKUP_SCHEDULE: '0 0 1 1 *' };
const http = async () => ({ HTTP_HOST: '127.0.0.1', HTTP_PORT: String(await freePort()) });
/** A daemon's lock file as another container writes it: same host name, another PID namespace. */
async function plantForeignDaemonLock(dir: string, timing: { heartbeatMs: number; staleAfterMs: number }): Promise<string> {
  const id = '00000000-0000-4000-8000-000000000001';
  const file = path.join(dir, `.mysql-backup-sidecar.daemon.${id}.lock`);
  const holder = { id, scope: 'daemon', purpose: 'the daemon (run)', host: os.hostname(), pid: 7, pidNamespace: 'pid:[1]', startedAt: new Date().toISOString(), ...timing };
  await writeFile(file, JSON.stringify(holder));
  return file;
}

const lockFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.startsWith('.mysql-backup-sidecar.') && n.endsWith('.lock'));

describe('one writer per BACKUP_DIR', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true, ...HOLDABLE_DUMPS });

  it('a second daemon on the same directory refuses to start, naming the first; the first goes on', async () => {
    const dir = await makeTempDir();
    const env = sidecarEnv(fixture.server, PASSWORD, dir, { ...NEVER, BACKUP_ON_START: 'false' });
    const first = startCli(['run'], { ...env, ...(await http()) });
    try {
      await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'daemon.started') === 1);
      const second = await runCli(['run'], { ...env, ...(await http()) });
      expect(second.exitCode, second.stderr).toBe(2);
      expect(second.stderr).toContain(`another daemon is already running on BACKUP_DIR ${dir}: the daemon (run), pid ${first.pid} on host ${os.hostname()}`);
      expect(second.stderr).toMatch(/Two daemons on one directory would both dump and both prune it/);
      // The first still holds its lock and still backs up by hand alongside: a manual backup is a writer, not a daemon.
      expect(first.exitCode).toBeNull();
      const manual = await runCli(['backup'], env);
      expect(manual.exitCode, manual.stderr).toBe(0);
    } finally {
      first.kill('SIGTERM');
      await first;
    }
    expect(await lockFiles(dir)).toEqual([]);
  });

  it('backup, prune and restore refuse while a run is in flight, naming it; the run finishes unharmed', async () => {
    // A dump to restore, from elsewhere: a recent one in the directory would make the daemon skip its start-up run.
    const elsewhere = await makeTempDir();
    expect((await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, elsewhere))).exitCode).toBe(0);
    const dumpElsewhere = path.join(elsewhere, (await readdir(elsewhere)).find(isDumpName)!);
    const dir = await makeTempDir();
    const env = sidecarEnv(fixture.server, PASSWORD, dir, NEVER);
    const stall = await holdDumpMidway(fixture.server);
    const daemon = startCli(['run'], { ...env, ...(await http()) });
    try {
      await stall.waitUntilDumpWaits('backup');
      const events = await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.started') === 1);
      const runId = String(events.find((e) => e.event === 'backup.started')!.runId);
      const holder = `scheduled backup run ${runId}, pid ${daemon.pid} on host ${os.hostname()}`;

      const backup = await runCli(['backup'], env);
      expect(backup.exitCode, backup.stderr).toBe(1);
      expect(backup.stderr).toContain(`BACKUP_DIR ${dir} is in use: ${holder}`);
      const prune = await runCli(['prune'], env);
      expect(prune.exitCode, prune.stderr).toBe(1);
      expect(prune.stderr).toContain(holder);
      const restore = await runCli(['restore', dumpElsewhere, '--yes', '--defaults-file', await adminCnf(fixture.server)], env);
      expect(restore.exitCode, restore.stderr).toBe(1);
      expect(restore.stderr).toContain(holder);
      expect(restore.stderr).not.toContain('verifying');

      await stall.release();
      await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.succeeded') === 1);
    } finally {
      await stall.release();
      daemon.kill('SIGTERM');
      await daemon;
    }
    const dumps = (await readdir(dir)).filter(isDumpName);
    expect(dumps).toHaveLength(1);
    for (const dump of dumps) await execa('sha256sum', ['-c', `${dump}.sha256`], { cwd: dir });
  });

  it('a daemon killed with SIGKILL mid-run leaves locks the next start takes over at once', async () => {
    const dir = await makeTempDir();
    const env = { ...sidecarEnv(fixture.server, PASSWORD, dir, NEVER), ...(await http()) };
    const stall = await holdDumpMidway(fixture.server);
    const killed = startCli(['run'], env);
    await stall.waitUntilDumpWaits('backup');
    killed.kill('SIGKILL');
    await killed;
    await stall.release();
    expect(await lockFiles(dir)).toHaveLength(2);

    const startedAt = Date.now();
    const restarted = startCli(['run'], env);
    try {
      const events = await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'backup.succeeded') === 1);
      // Same host and PID namespace with a dead pid: no wait for the heartbeat to go stale (60 s).
      expect(Date.now() - startedAt).toBeLessThan(45_000);
      const stale = events.filter((e) => e.event === 'lock.staleRemoved');
      expect(stale.map((e) => String(e.holder))).toEqual([
        expect.stringContaining(`the daemon (run), pid ${killed.pid}`),
        expect.stringContaining(`scheduled backup run`),
      ]);
      expect(events.some((e) => e.event === 'cleanup.removed' && String(e.path).endsWith('.partial'))).toBe(true);
    } finally {
      restarted.kill('SIGTERM');
      await restarted;
    }
    expect((await dumpLikeEntries(dir)).filter(isDumpName)).toHaveLength(1);
  });

  it('a restart in a new container waits for its predecessor to go stale, and refuses one whose heartbeat moves', async () => {
    const dir = await makeTempDir();
    const env = { ...sidecarEnv(fixture.server, PASSWORD, dir, { ...NEVER, BACKUP_ON_START: 'false' }), ...(await http()) };
    // Beating: a live daemon in another container; refused once its heartbeat is seen to move.
    const beating = await plantForeignDaemonLock(dir, { heartbeatMs: 500, staleAfterMs: 3_000 });
    const beat = setInterval(() => void utimes(beating, new Date(), new Date()).catch(() => undefined), 300);
    try {
      const refused = await runCli(['run'], env);
      expect(refused.exitCode, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(`another daemon is already running on BACKUP_DIR ${dir}: the daemon (run), pid 7 on host ${os.hostname()}`);
    } finally {
      clearInterval(beat);
    }
    // Silent since: a predecessor killed with its container; the new one waits for the stale time it declared.
    const startedAt = Date.now();
    const daemon = startCli(['run'], env);
    try {
      const events = await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'daemon.started') === 1, 30_000);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_000);
      const kinds = events.map((e) => e.event);
      expect(kinds.indexOf('lock.waiting')).toBeGreaterThan(-1);
      expect(kinds.indexOf('lock.waiting')).toBeLessThan(kinds.indexOf('lock.staleRemoved'));
      expect(events.find((e) => e.event === 'lock.staleRemoved')?.holder).toContain('pid 7');
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });
});
