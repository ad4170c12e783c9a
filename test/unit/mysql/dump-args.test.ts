import { describe, expect, it } from 'vitest';
import { dumpArgs, dumpFlags } from '../../../src/mysql/dump-args.js';
import { parseDumpClientBanner } from '../../../src/mysql/dump-client.js';
import type { ServerInfo } from '../../../src/mysql/server-info.js';

const mysql8040 = parseDumpClientBanner('mysqldump', 'mysqldump  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)');
const mysql8025 = parseDumpClientBanner('mysqldump', 'mysqldump  Ver 8.0.25 for Linux on x86_64 (MySQL Community Server - GPL)');
const mariadb = parseDumpClientBanner('mysqldump', 'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)');

const server = (flavour: 'mysql' | 'mariadb', binlog: ServerInfo['binlog']): ServerInfo => ({ version: 'x', flavour, binlog });

describe('the dump client banner', () => {
  it('tells MySQL from MariaDB and finds the release', () => {
    expect(mysql8040).toMatchObject({ flavour: 'mysql', version: '8.0.40' });
    expect(mariadb).toMatchObject({ flavour: 'mariadb', version: '10.11.19' });
    expect(parseDumpClientBanner('mariadb-dump', 'mariadb-dump from 11.4.2-MariaDB, client 10.19 for debian-linux-gnu (x86_64)')).toMatchObject({
      flavour: 'mariadb',
      version: '11.4.2',
    });
  });
});

describe('mysqldump flags', () => {
  const base = ['--all-databases', '--single-transaction', '--quick', '--lock-tables=false', '--routines', '--events', '--triggers'];

  it('always asks for a consistent, complete, streamed dump', () => {
    expect(dumpFlags(mariadb, server('mariadb', { state: 'off' }))).toEqual(expect.arrayContaining(base));
  });

  it.each([
    ['MySQL >= 8.0.26', mysql8040, 'mysql', ['--source-data=2']],
    ['MySQL < 8.0.26', mysql8025, 'mysql', ['--master-data=2']],
    ['MariaDB', mariadb, 'mariadb', ['--master-data=2', '--gtid']],
  ] as const)('records binlog coordinates the way %s spells it', (_name, client, flavour, flags) => {
    const withBinlog = dumpFlags(client, server(flavour, { state: 'readable' }));
    expect(withBinlog).toEqual(expect.arrayContaining([...flags]));
    for (const state of [{ state: 'off' as const }, { state: 'unreadable' as const, reason: 'no RELOAD' }]) {
      const without = dumpFlags(client, server(flavour, state));
      expect(without.some((f) => /master-data|source-data|--gtid/.test(f))).toBe(false);
    }
  });

  it('puts the defaults file first, where mysqldump requires it', () => {
    expect(dumpArgs('/tmp/x/client.cnf', ['--quick'])).toEqual(['--defaults-file=/tmp/x/client.cnf', '--quick']);
  });
});
