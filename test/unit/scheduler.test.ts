import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SidecarEvent } from '../../src/events.js';
import { BackupScheduler } from '../../src/scheduler.js';

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** A scheduler on a controlled clock whose runs finish at once; what it ran, and said, when. */
function scheduled(expression: string, timeZone: string) {
  const ranAt: string[] = [];
  const events: SidecarEvent[] = [];
  const scheduler = new BackupScheduler({
    expression,
    timeZone,
    emit: (event) => events.push(event),
    run: async () => void ranAt.push(iso(Date.now())),
  });
  return { scheduler, ranAt, events };
}

describe('the scheduler on a controlled clock', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs a nightly 02:30 backup once on the night the clock skips 02:00-03:00 (Europe/Berlin, 2027-03-28)', async () => {
    vi.setSystemTime(Date.parse('2027-03-27T12:00:00Z'));
    const { scheduler, ranAt } = scheduled('30 2 * * *', 'Europe/Berlin');
    scheduler.start();
    await vi.advanceTimersByTimeAsync(48 * HOUR);
    await scheduler.stop(0);
    expect(ranAt).toEqual(['2027-03-28T01:00:00Z', '2027-03-29T00:30:00Z']);
  });

  it('runs it once on the night 02:00-03:00 happens twice (2027-10-31)', async () => {
    vi.setSystemTime(Date.parse('2027-10-30T12:00:00Z'));
    const { scheduler, ranAt } = scheduled('30 2 * * *', 'Europe/Berlin');
    scheduler.start();
    await vi.advanceTimersByTimeAsync(48 * HOUR);
    await scheduler.stop(0);
    expect(ranAt).toEqual(['2027-10-31T00:30:00Z', '2027-11-01T01:30:00Z']);
  });

  it('runs a half-hourly job by elapsed time through that night: every 30 minutes, none twice', async () => {
    vi.setSystemTime(Date.parse('2027-10-30T23:10:00Z'));
    const { scheduler, ranAt } = scheduled('*/30 * * * *', 'Europe/Berlin');
    scheduler.start();
    await vi.advanceTimersByTimeAsync(3 * HOUR);
    await scheduler.stop(0);
    expect(ranAt).toEqual(Array.from({ length: 6 }, (_, i) => iso(Date.parse('2027-10-30T23:30:00Z') + i * HOUR / 2)));
  });

  it('a tick that comes late runs once, and the ticks due meanwhile merge into it', async () => {
    vi.setSystemTime(Date.parse('2027-01-10T10:59:00Z'));
    const { scheduler, ranAt, events } = scheduled('0 * * * *', 'UTC');
    scheduler.start();
    // The event loop blocked (or the machine suspended) from 10:59:59 for three and a half hours:
    // the wall clock moves on, the timer does not fire meanwhile.
    await vi.advanceTimersByTimeAsync(59_000);
    vi.setSystemTime(Date.parse('2027-01-10T14:30:00Z'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ranAt).toEqual(['2027-01-10T14:30:01Z']);
    expect(events).toContainEqual({
      type: 'schedule.late',
      duty: 'backup',
      dueAt: '2027-01-10T11:00:00.000Z',
      lateMs: 3.5 * HOUR + 1_000,
      mergedTicks: 4,
      nextRun: '2027-01-10T15:00:00.000Z',
    });
    expect(scheduler.nextRun?.toISOString()).toBe('2027-01-10T15:00:00.000Z');
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    await scheduler.stop(0);
    expect(ranAt).toEqual(['2027-01-10T14:30:01Z', '2027-01-10T15:00:00Z']);
    expect(events.filter((e) => e.type === 'schedule.late')).toHaveLength(1);
  });

  it('notices a wall clock that jumped ahead within a minute, though its timer was set for hours', async () => {
    vi.setSystemTime(Date.parse('2027-01-10T10:00:00Z'));
    const { scheduler, ranAt } = scheduled('0 */3 * * *', 'UTC');
    scheduler.start();
    // A suspend: monotonic timers stop, the wall clock does not.
    vi.setSystemTime(Date.parse('2027-01-10T13:10:00Z'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ranAt).toEqual(['2027-01-10T13:11:00Z']);
    await scheduler.stop(0);
  });

  it('a tick while a run is in flight is skipped and counted, not queued', async () => {
    vi.setSystemTime(Date.parse('2027-01-10T10:00:00Z'));
    const events: SidecarEvent[] = [];
    let finish: () => void = () => undefined;
    let runs = 0;
    const scheduler = new BackupScheduler({
      expression: '* * * * *',
      timeZone: 'UTC',
      emit: (event) => events.push(event),
      run: () => {
        runs++;
        return new Promise<void>((resolve) => (finish = resolve));
      },
    });
    scheduler.start();
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    expect(runs).toBe(1);
    expect(events.filter((e) => e.type === 'schedule.skipped')).toHaveLength(2);
    finish();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toBe(2);
    finish();
    await scheduler.stop(0);
  });
});
