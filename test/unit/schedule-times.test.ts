import { describe, expect, it } from 'vitest';
import { CronTimes } from '../../src/schedule-times.js';

/** The next `count` runs after `from`, as UTC instants ("2027-03-28T01:00:00Z"). */
const runs = (expression: string, timeZone: string, from: string, count: number) =>
  new CronTimes(expression, timeZone).upcoming(Date.parse(from), count).map((d) => d.toISOString().replace('.000Z', 'Z'));

// Europe/Berlin: on 2027-03-28 the clock jumps from 02:00 CET (01:00Z) to 03:00 CEST; on
// 2027-10-31 it goes back from 03:00 CEST (01:00Z) to 02:00 CET, so 02:00-02:59 happens twice.
const BERLIN = 'Europe/Berlin';

describe('when a schedule fires across daylight-saving changes (the Vixie cron rule)', () => {
  it('a job at a fixed time the clock skips runs right after the jump, once', () => {
    expect(runs('30 2 * * *', BERLIN, '2027-03-27T12:00:00Z', 3)).toEqual([
      '2027-03-28T01:00:00Z', // 03:00 CEST, the first moment after the skipped 02:30
      '2027-03-29T00:30:00Z',
      '2027-03-30T00:30:00Z',
    ]);
    // A weekly job on that Sunday too; and several skipped times of one job make one run.
    expect(runs('15 2 * * 0', BERLIN, '2027-03-20T12:00:00Z', 3)).toEqual(['2027-03-21T01:15:00Z', '2027-03-28T01:00:00Z', '2027-04-04T00:15:00Z']);
    expect(runs('0,30 2 * * *', BERLIN, '2027-03-27T12:00:00Z', 2)).toEqual(['2027-03-28T01:00:00Z', '2027-03-29T00:00:00Z']);
  });

  it('a job at a fixed time that happens twice runs at its first occurrence only', () => {
    expect(runs('30 2 * * *', BERLIN, '2027-10-30T12:00:00Z', 3)).toEqual([
      '2027-10-31T00:30:00Z', // 02:30 CEST; 02:30 CET an hour later does not run
      '2027-11-01T01:30:00Z',
      '2027-11-02T01:30:00Z',
    ]);
    // Asked from inside the repeated hour, after the first occurrence: the next day.
    expect(runs('30 2 * * *', BERLIN, '2027-10-31T01:10:00Z', 1)).toEqual(['2027-11-01T01:30:00Z']);
  });

  it('a job with a wildcard minute follows elapsed time: nothing for the skipped hour, both passes of the repeated one', () => {
    expect(runs('*/30 * * * *', BERLIN, '2027-03-28T00:00:00Z', 3)).toEqual(['2027-03-28T00:30:00Z', '2027-03-28T01:00:00Z', '2027-03-28T01:30:00Z']);
    expect(runs('*/30 * * * *', BERLIN, '2027-10-30T23:30:00Z', 5)).toEqual([
      '2027-10-31T00:00:00Z', // 02:00 CEST
      '2027-10-31T00:30:00Z',
      '2027-10-31T01:00:00Z', // 02:00 CET
      '2027-10-31T01:30:00Z',
      '2027-10-31T02:00:00Z', // 03:00 CET
    ]);
    // Asked in the first pass, after its last slot: the second pass is next, not 03:00.
    expect(runs('*/30 * * * *', BERLIN, '2027-10-31T00:45:00Z', 1)).toEqual(['2027-10-31T01:00:00Z']);
    expect(runs('*/2 * * * * *', BERLIN, '2027-10-31T00:59:57Z', 3)).toEqual(['2027-10-31T00:59:58Z', '2027-10-31T01:00:00Z', '2027-10-31T01:00:02Z']);
  });

  it('a job with a wildcard hour (the default, every 3 hours) follows the clock it finds', () => {
    expect(runs('0 */3 * * *', BERLIN, '2027-03-27T20:00:00Z', 3)).toEqual(['2027-03-27T23:00:00Z', '2027-03-28T01:00:00Z', '2027-03-28T04:00:00Z']);
    expect(runs('0 */3 * * *', BERLIN, '2027-10-30T20:00:00Z', 3)).toEqual(['2027-10-30T22:00:00Z', '2027-10-31T02:00:00Z', '2027-10-31T05:00:00Z']);
    expect(runs('@hourly', BERLIN, '2027-10-31T00:30:00Z', 3)).toEqual(['2027-10-31T01:00:00Z', '2027-10-31T02:00:00Z', '2027-10-31T03:00:00Z']);
  });

  it('in a zone without DST, and in UTC, it is plain cron', () => {
    expect(runs('30 2 * * *', 'UTC', '2027-03-27T12:00:00Z', 2)).toEqual(['2027-03-28T02:30:00Z', '2027-03-29T02:30:00Z']);
    expect(runs('0 0 1 1 *', 'Asia/Tokyo', '2027-06-01T00:00:00Z', 2)).toEqual(['2027-12-31T15:00:00Z', '2028-12-31T15:00:00Z']);
    expect(runs('0 9 * * 1-5', 'UTC', '2027-01-01T10:00:00Z', 3)).toEqual(['2027-01-04T09:00:00Z', '2027-01-05T09:00:00Z', '2027-01-06T09:00:00Z']);
  });

  it("keeps node-cron's day forms: the last day of the month and the nth weekday", () => {
    expect(runs('0 1 L * *', 'UTC', '2027-02-01T00:00:00Z', 2)).toEqual(['2027-02-28T01:00:00Z', '2027-03-31T01:00:00Z']);
    expect(runs('0 1 * * 1#2', 'UTC', '2027-02-01T00:00:00Z', 1)).toEqual(['2027-02-08T01:00:00Z']);
  });

  it('America/New_York changes at 02:00 local too: a 02:30 job runs at 03:00 EDT in March, once in November', () => {
    expect(runs('30 2 * * *', 'America/New_York', '2027-03-13T12:00:00Z', 2)).toEqual(['2027-03-14T07:00:00Z', '2027-03-15T06:30:00Z']);
    expect(runs('30 1 * * *', 'America/New_York', '2027-11-06T12:00:00Z', 2)).toEqual(['2027-11-07T05:30:00Z', '2027-11-08T06:30:00Z']);
  });
});
