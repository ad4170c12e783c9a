import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { assertSameFamily, parseClientBanner } from '../../../src/mysql/client-tools.js';

const mysql8040 = parseClientBanner('mysqldump', 'mysqldump  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)');
const mysql97 = parseClientBanner('mysqldump', 'mysqldump  Ver 9.7.4-2 for Linux on x86_64 ((Debian))');
const mariadb = parseClientBanner('mysqldump', 'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)');

describe('the client banner', () => {
  it('tells MySQL from MariaDB and finds the release', () => {
    expect(mysql8040).toMatchObject({ flavour: 'mysql', version: '8.0.40' });
    expect(mysql97).toMatchObject({ flavour: 'mysql', version: '9.7.4' });
    expect(mariadb).toMatchObject({ flavour: 'mariadb', version: '10.11.19' });
    expect(parseClientBanner('mariadb-dump', 'mariadb-dump from 11.4.2-MariaDB, client 10.19 for debian-linux-gnu (x86_64)')).toMatchObject({
      flavour: 'mariadb',
      version: '11.4.2',
    });
    expect(parseClientBanner('mysql', 'mysql  Ver 15.1 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64) using  EditLine wrapper')).toMatchObject({
      flavour: 'mariadb',
    });
  });
});

describe('the same-family rule', () => {
  it('lets a client work with a server of its own family, whatever the releases', () => {
    expect(() => assertSameFamily(mysql97, { flavour: 'mysql', version: '8.4.3' }, 'the server')).not.toThrow();
  });

  it('refuses another family as a configuration error (exit 2) naming both', () => {
    const refuse = () => assertSameFamily(mariadb, { flavour: 'mysql', version: '9.7.4-2' }, 'the server at db:3306');
    expect(refuse).toThrow(UserError);
    expect(refuse).toThrow("mysqldump is MariaDB's (10.11.19), but the server at db:3306 is MySQL 9.7.4-2");
    try {
      refuse();
    } catch (error) {
      expect((error as UserError).exitCode).toBe(2);
    }
  });
});
