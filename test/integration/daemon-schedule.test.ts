import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, makeTempDir, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { HOLDABLE_DUMPS, holdDumpMidway } from '../support/stalled-dump.js';

const PASSWORD = 'schedule-pw';

describe('run: the schedule', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true, ...HOLDABLE_DUMPS });

  it('every two seconds: several verified backups, never two at once, and a slow run makes ticks skip', async () => {
    const dir = await makeTempDir();
    const log = path.join(dir, 'backup.log');
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_SCHEDULE: '*/2 * * * * *' }));

    await waitForLog(log, (events) => countEvents(events, 'backup.succeeded') >= 3);
    // Hold the next run for several ticks.
    const stall = await holdDumpMidway(fixture.server);
    await stall.waitUntilDumpWaits('backup');
    // The held run is the one in flight now: the last to start.
    const held = String((await waitForLog(log, () => true)).filter((e) => e.event === 'run.started').at(-1)!.runId);
    await waitForLog(log, (events) => events.filter((e) => e.event === 'schedule.skipped' && e.runningRunId === held).length >= 2);
    await stall.release();
    const before = countEvents(await waitForLog(log, () => true), 'backup.succeeded');
    await waitForLog(log, (events) => countEvents(events, 'backup.succeeded') >= before + 2);
    daemon.kill('SIGTERM');
    const result = await daemon;
    expect(result.exitCode, result.stderr).toBe(0);

    const events = await waitForLog(log, (e) => countEvents(e, 'daemon.stopped') === 1);
    const started = events.findIndex((e) => e.event === 'daemon.started');
    expect(events[started]).toMatchObject({ event: 'daemon.started', schedule: '*/2 * * * * *', timeZone: 'UTC' });
    // Only the start-up sweep comes first: a test that killed its process may have left a
    // credentials directory in the shared temporary directory.
    expect(events.slice(0, started).map((e) => e.event)).toEqual(events.slice(0, started).map(() => 'cleanup.removed'));
    expect(countEvents(events, 'backup.failed')).toBe(0);

    // No overlap: every run ends before the next one starts.
    const runs = new Map<string, { start: number; end?: number }>();
    for (const e of events) {
      const at = Date.parse(String(e.time));
      if (e.event === 'mysql.ready') runs.set(String(e.runId), { start: at });
      if (e.event === 'backup.succeeded') runs.get(String(e.runId))!.end = at;
    }
    const ordered = [...runs.values()].sort((a, b) => a.start - b.start);
    for (let i = 1; i < ordered.length; i++) expect(ordered[i]!.start).toBeGreaterThanOrEqual(ordered[i - 1]!.end!);

    // The skips name the run they waited for and are counted. On a loaded machine an ordinary
    // run may overrun a 2 s tick too, so only the held run's skips are required.
    const skips = events.filter((e) => e.event === 'schedule.skipped');
    expect(skips.map((s) => s.skippedTotal)).toEqual(skips.map((_, i) => i + 1));
    expect(skips.filter((s) => s.runningRunId === held).length).toBeGreaterThanOrEqual(2);
    expect(events.some((e) => e.event === 'backup.succeeded' && e.runId === held)).toBe(true);
    // Each result says when the next run is due.
    for (const e of events.filter((x) => x.event === 'backup.succeeded')) expect(Date.parse(String(e.nextRun))).toBeGreaterThan(0);

    const checksums = (await readdir(dir)).filter((n) => n.endsWith('.sha256'));
    expect(checksums.length).toBe(countEvents(events, 'backup.succeeded'));
    await execa('sha256sum', ['-c', ...checksums], { cwd: dir });
  });
  it('a restart soon after a good backup takes no start-up backup and says why; one older than the interval does', async () => {
    const dir = await makeTempDir();
    const log = path.join(dir, 'backup.log');
    const hourly = { BACKUP_SCHEDULE: '0 * * * *' };
    const first = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, hourly));
    await waitForLog(log, (events) => countEvents(events, 'backup.succeeded') === 1);
    first.kill('SIGTERM');
    expect((await first).exitCode).toBe(0);

    // A redeploy a moment later: the newest good backup is seconds old, the interval an hour.
    const redeployed = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, hourly));
    const events = await waitForLog(log, (e) => countEvents(e, 'schedule.startSkipped') === 1);
    redeployed.kill('SIGTERM');
    expect((await redeployed).exitCode).toBe(0);
    const skipped = events.find((e) => e.event === 'schedule.startSkipped')!;
    expect(skipped.intervalMs).toBe(3_600_000);
    expect(Number(skipped.ageMs)).toBeLessThan(60_000);
    expect(String(skipped.msg)).toMatch(/start-up backup skipped: the newest good backup, full_dump_\d{8}_\d{6}\.sql\.zst, is \d+s old/);
    expect(countEvents(events, 'run.started')).toBe(1);

    // Every two seconds, the same backup is older than the interval: the start-up backup is taken.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const frequent = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_SCHEDULE: '*/2 * * * * *' }));
    const later = await waitForLog(log, (e) => countEvents(e, 'backup.succeeded') === 2);
    frequent.kill('SIGTERM');
    expect((await frequent).exitCode).toBe(0);
    expect(countEvents(later, 'schedule.startSkipped')).toBe(1);
    const started = later.filter((e) => e.event === 'daemon.started').at(-1)!;
    expect(started.onStart).toBe(true);
  });
});
