import { describe, expect, it } from 'vitest';
import { formatDuration, formatElapsed, parseDuration } from '../../../src/config/duration.js';

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['3h', 10_800_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
  ])('reads %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  it.each(['', '7', 'd', '0d', '-1d', '1.5h', '7 days', '7D', '1h30m', '01d'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('prints the largest exact unit', () => {
    expect(formatDuration(7 * 86_400_000)).toBe('1w');
    expect(formatDuration(36 * 3_600_000)).toBe('36h');
    expect(formatDuration(1_500)).toBe('1500ms');
  });
});

describe('measured spans', () => {
  it.each([
    [3_011, '3s'],
    [120_000, '2m'],
    [10_793_000, '2h59m53s'],
    [200, '1s'],
  ])('%i ms reads %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });
});
