import { describe, expect, it } from 'vitest';
import { UsageError, UserError } from '../../../src/errors.js';
import { decideGtidPurged, type TargetGtidState } from '../../../src/restore/gtid.js';

const SET = '0a88d703-ec30-11f1-8c2b-02fc00000001:1-22';
const fresh: TargetGtidState = { flavour: 'mysql', gtidMode: true, overlap: '' };
const same: TargetGtidState = { flavour: 'mysql', gtidMode: true, overlap: SET };
const gtidOff: TargetGtidState = { flavour: 'mysql', gtidMode: false, overlap: '' };
const mariadb: TargetGtidState = { flavour: 'mariadb', gtidMode: false, overlap: '' };

describe('what restore does with the dump GTID set', () => {
  it('adds it to a target that has run none of it (a new server, a drill scratch server the first time)', () => {
    expect(decideGtidPurged(undefined, SET, fresh)).toMatchObject({ action: 'apply', gtidSet: SET });
    expect(decideGtidPurged('apply', SET, fresh)).toMatchObject({ action: 'apply', gtidSet: SET });
  });

  it('leaves the GTID state of a target that has run any of it (the same server after a mistake), saying replicas miss the restore', () => {
    const decision = decideGtidPurged(undefined, SET, same);
    expect(decision).toMatchObject({ action: 'skip', overlap: SET });
    expect(decision.reason).toContain('replicas of this server do not receive it');
  });

  it('refuses --gtid-purged=apply before writing anything when MySQL would refuse it (ERROR 3546)', () => {
    expect(() => decideGtidPurged('apply', SET, same)).toThrow(UserError);
    expect(() => decideGtidPurged('apply', SET, same)).toThrow(/already executed/);
  });

  it('skips when asked, whatever the target holds', () => {
    expect(decideGtidPurged('skip', SET, fresh)).toMatchObject({ action: 'skip' });
  });

  it('has nothing to do for a dump without GTIDs, or a target with gtid_mode OFF', () => {
    expect(decideGtidPurged(undefined, null, fresh)).toMatchObject({ action: 'none' });
    expect(decideGtidPurged(undefined, SET, gtidOff)).toMatchObject({ action: 'none' });
    expect(() => decideGtidPurged('apply', null, fresh)).toThrow(/holds no GTID set/);
    expect(() => decideGtidPurged('apply', SET, gtidOff)).toThrow(/gtid_mode is OFF/);
  });

  it('refuses apply and skip on MariaDB, whose dump only comments its position, and does nothing there otherwise', () => {
    expect(decideGtidPurged(undefined, '0-1-5', mariadb)).toMatchObject({ action: 'none' });
    expect(decideGtidPurged('auto', '0-1-5', mariadb)).toMatchObject({ action: 'none' });
    for (const mode of ['apply', 'skip'] as const) expect(() => decideGtidPurged(mode, '0-1-5', mariadb)).toThrow(UsageError);
  });

  it("takes a MariaDB dump's GTID position for no MySQL set", () => {
    expect(decideGtidPurged(undefined, '0-1-5', fresh)).toMatchObject({ action: 'none' });
    expect(() => decideGtidPurged('apply', '0-1-5', fresh)).toThrow(/MariaDB GTID position/);
  });
});
