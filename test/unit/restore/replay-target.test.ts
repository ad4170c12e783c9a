import { describe, expect, it } from 'vitest';
import { parseReplayTarget, reaches } from '../../../src/restore/replay-target.js';

const transaction = (start: number, end: number, extra: { committedAtMs?: number; gtid?: string | null } = {}) => ({
  start,
  end,
  committedAtMs: extra.committedAtMs ?? 0,
  gtid: extra.gtid ?? null,
  gtidUnread: false,
  statementLogged: false,
  databases: [],
  ddl: [],
  compressed: false,
});

describe('where a restore to a point stops', () => {
  it('stops at the transaction a position falls in, and at the next file when the position is past its file', () => {
    const target = parseReplayTarget({ 'to-position': 'binlog.000002:500' }, 'UTC')!;
    expect(reaches(target, 'binlog.000002', transaction(300, 450))).toBe(false);
    expect(reaches(target, 'binlog.000002', transaction(450, 520))).toBe(true);
    expect(reaches(target, 'binlog.000001', transaction(900, 1200))).toBe(false);
    expect(reaches(target, 'binlog.000003', transaction(160, 300))).toBe(true);
  });

  it('stops at the first transaction committed at or after a time, and at a GTID in the set', () => {
    const time = parseReplayTarget({ to: '2026-12-06 10:00:00Z' }, 'UTC')!;
    const at = Date.parse('2026-12-06T10:00:00Z');
    expect(reaches(time, 'binlog.000001', transaction(0, 1, { committedAtMs: at - 1000 }))).toBe(false);
    expect(reaches(time, 'binlog.000001', transaction(0, 1, { committedAtMs: at }))).toBe(true);
    const gtid = parseReplayTarget({ 'to-gtid': '3e11fa47-71ca-11e1-a9e5-000c29a5f0b1:5-7,0-1-9' }, 'UTC')!;
    expect(reaches(gtid, 'binlog.000001', transaction(0, 1, { gtid: '3e11fa47-71ca-11e1-a9e5-000c29a5f0b1:6' }))).toBe(true);
    expect(reaches(gtid, 'binlog.000001', transaction(0, 1, { gtid: '3e11fa47-71ca-11e1-a9e5-000c29a5f0b1:8' }))).toBe(false);
    expect(reaches(gtid, 'binlog.000001', transaction(0, 1, { gtid: '0-1-9' }))).toBe(true);
    expect(reaches(gtid, 'binlog.000001', transaction(0, 1))).toBe(false);
  });

  it('refuses two targets, and a position or GTID it cannot read', () => {
    expect(() => parseReplayTarget({ to: '2026-12-06 10:00:00', 'to-gtid': '0-1-2' }, 'UTC')).toThrow(/--to and --to-gtid: give one target/);
    expect(() => parseReplayTarget({ 'to-position': '1337' }, 'UTC')).toThrow(/expected FILE:POSITION/);
    expect(() => parseReplayTarget({ 'to-gtid': 'uuid:tag:5' }, 'UTC')).toThrow(/is not a GTID/);
  });
});
