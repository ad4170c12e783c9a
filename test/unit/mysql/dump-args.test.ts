import { describe, expect, it } from 'vitest';
import { type DumpOptions, parseClientBanner } from '../../../src/mysql/client-tools.js';
import { dumpArgs, dumpFlags, type DumpSettings } from '../../../src/mysql/dump-args.js';
import type { BinlogAccess, CoordinatesPlan } from '../../../src/mysql/coordinates-plan.js';

const mysql8040 = parseClientBanner('mysqldump', 'mysqldump  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)');
const mysql8025 = parseClientBanner('mysqldump', 'mysqldump  Ver 8.0.25 for Linux on x86_64 (MySQL Community Server - GPL)');
const mysql97 = parseClientBanner('mysqldump', 'mysqldump  Ver 9.7.4-2 for Linux on x86_64 ((Debian))');
const mariadb = parseClientBanner('mysqldump', 'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)');

const EVERY_OPTION: DumpOptions = { gtidPurgedCommented: true, initCommand: true };
const NO_OPTION: DumpOptions = { gtidPurgedCommented: false, initCommand: false };

const NOTHING: CoordinatesPlan = { binlog: { state: 'off' }, gtidSet: 'none', globalReadLock: false };
const settings = (
  over: Partial<Omit<DumpSettings, 'plan'>> & Pick<DumpSettings, 'client'> & { plan?: Partial<CoordinatesPlan> },
): DumpSettings => ({
  options: EVERY_OPTION,
  lockWaitSeconds: 5,
  ...over,
  plan: { ...NOTHING, ...over.plan },
});

describe('mysqldump flags', () => {
  const base = ['--all-databases', '--single-transaction', '--quick', '--lock-tables=false', '--routines', '--events', '--triggers'];

  it('always asks for a consistent, complete, streamed dump', () => {
    expect(dumpFlags(settings({ client: mariadb }))).toEqual(expect.arrayContaining(base));
  });

  it.each([
    ['MySQL >= 8.0.26', mysql8040, ['--source-data=2']],
    ['MySQL < 8.0.26', mysql8025, ['--master-data=2']],
    ['MariaDB', mariadb, ['--master-data=2', '--gtid']],
  ] as const)('records binlog coordinates the way %s spells it', (_name, client, flags) => {
    expect(dumpFlags(settings({ client, plan: { binlog: { state: 'readable' } } }))).toEqual(expect.arrayContaining([...flags]));
    for (const binlog of [{ state: 'off' }, { state: 'declined' }, { state: 'unreadable', reason: 'no RELOAD' }] as BinlogAccess[]) {
      expect(dumpFlags(settings({ client, plan: { binlog } })).some((f) => /master-data|source-data|--gtid$/.test(f))).toBe(false);
    }
  });

  it('records a MySQL GTID set as a comment, for restore to decide, when the client can; leaves it out when told to', () => {
    const withGtids = settings({ client: mysql97, plan: { gtidSet: 'recorded' } });
    expect(dumpFlags(withGtids)).toContain('--set-gtid-purged=COMMENTED');
    expect(dumpFlags({ ...withGtids, options: NO_OPTION }).some((f) => f.startsWith('--set-gtid-purged'))).toBe(false);
    expect(dumpFlags(settings({ client: mysql97 })).some((f) => f.startsWith('--set-gtid-purged'))).toBe(false);
    expect(dumpFlags(settings({ client: mysql97, plan: { gtidSet: 'omitted' } }))).toContain('--set-gtid-purged=OFF');
  });

  it("bounds the dump session's lock wait when it takes a global read lock and the client has --init-command", () => {
    const locking = settings({ client: mysql97, lockWaitSeconds: 10, plan: { globalReadLock: true } });
    expect(dumpFlags(locking)).toContain('--init-command=SET SESSION lock_wait_timeout=10');
    expect(dumpFlags({ ...locking, options: NO_OPTION }).some((f) => f.startsWith('--init-command'))).toBe(false);
    expect(dumpFlags(settings({ client: mysql97 })).some((f) => f.startsWith('--init-command'))).toBe(false);
  });

  it('puts the defaults file first, where mysqldump requires it', () => {
    expect(dumpArgs('/tmp/x/client.cnf', ['--quick'])).toEqual(['--defaults-file=/tmp/x/client.cnf', '--quick']);
  });
});
