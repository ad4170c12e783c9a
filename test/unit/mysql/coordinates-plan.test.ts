import { describe, expect, it } from 'vitest';
import { planCoordinates } from '../../../src/mysql/coordinates-plan.js';
import { serverFacts as facts, README_GRANTS, without } from './server-facts.js';


describe('binlog coordinates and the global read lock', () => {
  it('has no position without a binary log', () => {
    expect(planCoordinates(facts('mysql', README_GRANTS.mysql, { logBin: false }), true).binlog).toEqual({ state: 'off' });
  });

  it("reads MariaDB's position from its consistent snapshot, without any privilege or lock", () => {
    expect(planCoordinates(facts('mariadb', README_GRANTS.mariadb), true)).toEqual({ binlog: { state: 'readable' }, gtidSet: 'none', globalReadLock: false });
    expect(planCoordinates(facts('mariadb', ['RELOAD', 'BINLOG MONITOR'], { snapshotPosition: false }), true).globalReadLock).toBe(true);
  });

  it('records position and GTID set on MySQL under a global read lock, and says which privilege a missing position lacks', () => {
    expect(planCoordinates(facts('mysql', README_GRANTS.mysql), true)).toEqual({ binlog: { state: 'readable' }, gtidSet: 'recorded', globalReadLock: true });
    const noPosition = planCoordinates(facts('mysql', without(README_GRANTS.mysql, 'REPLICATION CLIENT')), true);
    expect(noPosition.binlog).toEqual({ state: 'unreadable', reason: 'the account lacks REPLICATION CLIENT to read binlog coordinates' });
    expect(noPosition).toMatchObject({ gtidSet: 'recorded', globalReadLock: true });
    const gtidOffNoPosition = planCoordinates(facts('mysql', without(README_GRANTS.mysql, 'REPLICATION CLIENT'), { gtidMode: false }), true);
    expect(gtidOffNoPosition).toMatchObject({ gtidSet: 'none', globalReadLock: false });
  });

  it('with BACKUP_BINLOG_COORDINATES=off records neither on MySQL, and takes no lock', () => {
    expect(planCoordinates(facts('mysql', README_GRANTS.mysql), false)).toEqual({ binlog: { state: 'declined' }, gtidSet: 'omitted', globalReadLock: false });
  });
});
