import { describe, expect, it } from 'vitest';
import { parseTargetTime } from '../../../src/restore/target-time.js';

describe('--to', () => {
  it('reads a time with an offset as that instant, whatever TZ says', () => {
    expect(parseTargetTime('2026-03-29 02:30:00+02:00', 'America/New_York')).toBe(Date.parse('2026-03-29T00:30:00Z'));
    expect(parseTargetTime('2026-03-29 00:30:00Z', undefined)).toBe(Date.parse('2026-03-29T00:30:00Z'));
    expect(parseTargetTime('2026-03-29T00:30:00-0130', 'UTC')).toBe(Date.parse('2026-03-29T02:00:00Z'));
  });

  it('reads a time without an offset in TZ, on either side of a daylight-saving change', () => {
    expect(parseTargetTime('2026-03-28 12:00:00', 'Europe/Berlin')).toBe(Date.parse('2026-03-28T11:00:00Z'));
    expect(parseTargetTime('2026-03-29 12:00:00', 'Europe/Berlin')).toBe(Date.parse('2026-03-29T10:00:00Z'));
    expect(parseTargetTime('2026-12-06 09:15:00', 'UTC')).toBe(Date.parse('2026-12-06T09:15:00Z'));
  });

  it('refuses a wall time the clocks jumped over, naming the offsets', () => {
    expect(() => parseTargetTime('2026-03-29 02:30:00', 'Europe/Berlin')).toThrow(/does not exist in Europe\/Berlin .* 2026-03-29 02:30:00\+02:00 or 2026-03-29 02:30:00\+01:00/);
  });

  it('refuses a wall time that happens twice, naming both offsets', () => {
    expect(() => parseTargetTime('2026-10-25 02:30:00', 'Europe/Berlin')).toThrow(/happens twice in Europe\/Berlin.*\+02:00 or .*\+01:00/);
    expect(parseTargetTime('2026-10-25 02:30:00+01:00', 'Europe/Berlin')).toBe(Date.parse('2026-10-25T01:30:00Z'));
  });

  it('names what is wrong with a malformed time or zone', () => {
    expect(() => parseTargetTime('yesterday', 'UTC')).toThrow(/--to "yesterday": expected "YYYY-MM-DD HH:MM:SS"/);
    expect(() => parseTargetTime('2026-02-30 10:00:00', 'UTC')).toThrow(/no such date or time/);
    expect(() => parseTargetTime('2026-02-03 24:00:00', 'UTC')).toThrow(/no such date or time/);
    expect(() => parseTargetTime('2026-02-03 10:00:00', 'Mars/Olympus')).toThrow(/TZ=Mars\/Olympus is not a time zone/);
  });
});
