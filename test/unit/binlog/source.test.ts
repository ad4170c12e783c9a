import { describe, expect, it } from 'vitest';
import { chooseStart, identityChange, missingArchivePrivileges, serverIdCollision } from '../../../src/binlog/source.js';

const server = (...files: Array<[string, number]>) => files.map(([name, size]) => ({ name, size }));
const archived = (name: string, finished: boolean) => ({ name, size: 100, finished });

describe('where the binlog archive starts', () => {
  const logs = server(['binlog.000003', 500], ['binlog.000004', 900], ['binlog.000005', 200]);

  it('at the newest dump\'s file when the archive is empty, else at the oldest file the server has', () => {
    expect(chooseStart([], logs, 'binlog.000004')).toEqual({ file: 'binlog.000004' });
    expect(chooseStart([], logs, null)).toEqual({ file: 'binlog.000003' });
  });

  it('again at its newest file, unless that copy is complete: then at the one after', () => {
    expect(chooseStart([archived('binlog.000003', true), archived('binlog.000004', false)], logs, null)).toEqual({ file: 'binlog.000004' });
    expect(chooseStart([archived('binlog.000004', true)], logs, null)).toEqual({ file: 'binlog.000005' });
    expect(chooseStart([archived('binlog.000005', true)], logs, null)).toEqual({ file: 'binlog.000005' });
  });

  it('past a complete copy the server has purged since, without a gap when the next file follows it', () => {
    expect(chooseStart([archived('binlog.000002', true)], logs, null)).toEqual({ file: 'binlog.000003' });
  });

  it('with a gap, named, when what comes next is gone, the logs started over, or the dump cannot be rolled forward', () => {
    expect(chooseStart([archived('binlog.000002', false)], logs, null)).toMatchObject({ file: 'binlog.000003', gap: expect.stringMatching(/part of binlog.000002/) });
    expect(chooseStart([archived('binlog.000001', true)], logs, null)).toMatchObject({ file: 'binlog.000003', gap: expect.stringMatching(/after binlog.000001 \(complete\)/) });
    expect(chooseStart([archived('binlog.000009', true)], server(['binlog.000001', 300]), null)).toMatchObject({
      file: 'binlog.000001',
      gap: expect.stringMatching(/start over at binlog.000001/),
    });
    expect(chooseStart([], logs, 'binlog.000001')).toMatchObject({ file: 'binlog.000003', gap: expect.stringMatching(/cannot be rolled forward/) });
  });
});

describe('the archiver\'s checks', () => {
  it('names the grants each family needs', () => {
    expect(missingArchivePrivileges({ flavour: 'mysql', privileges: new Set(['SELECT']) }).map((m) => m.grant)).toEqual(['REPLICATION SLAVE', 'REPLICATION CLIENT']);
    expect(missingArchivePrivileges({ flavour: 'mariadb', privileges: new Set(['REPLICATION SLAVE']) }).map((m) => m.grant)).toEqual(['BINLOG MONITOR']);
    expect(missingArchivePrivileges({ flavour: 'mariadb', privileges: new Set(['ALL PRIVILEGES']) })).toEqual([]);
  });

  it('refuses a server id the server or one of its replicas uses', () => {
    const source = { serverId: 1, serverUuid: null, binaryLogs: [], replicaServerIds: [{ serverId: 7, host: 'replica1:3306' }] };
    expect(serverIdCollision(1, source)).toMatch(/server's own @@server_id/);
    expect(serverIdCollision(7, source)).toMatch(/replica at replica1:3306/);
    expect(serverIdCollision(4_000_000_001, source)).toBeNull();
    expect(serverIdCollision(7, { ...source, replicaServerIds: null })).toBeNull();
  });
});

describe('the server the archive streams from', () => {
  it('is the same one by server_uuid on MySQL, by server_id on MariaDB, and anything at first', () => {
    const mysqlA = { serverId: 1, serverUuid: 'aaaaaaaa-0000-0000-0000-000000000001' };
    expect(identityChange(null, mysqlA)).toBeNull();
    expect(identityChange(mysqlA, { ...mysqlA })).toBeNull();
    // A restored server keeps its server_id from the configuration, not its uuid.
    expect(identityChange(mysqlA, { serverId: 1, serverUuid: 'bbbbbbbb-0000-0000-0000-000000000002' })).toMatch(/server_uuid bbbbbbbb-.*, was aaaaaaaa-/);
    expect(identityChange({ serverId: 1, serverUuid: null }, { serverId: 1, serverUuid: null })).toBeNull();
    expect(identityChange({ serverId: 1, serverUuid: null }, { serverId: 2, serverUuid: null })).toMatch(/server_id 2, was 1/);
  });
});
