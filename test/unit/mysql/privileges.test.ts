import { describe, expect, it } from 'vitest';
import { planCoordinates } from '../../../src/mysql/coordinates-plan.js';
import { grantStatement, missingDumpPrivileges, parseGlobalGrants } from '../../../src/mysql/privileges.js';
import { serverFacts as facts, README_GRANTS, without } from './server-facts.js';

const missing = (f: ReturnType<typeof facts>, wanted = true) => missingDumpPrivileges(f, planCoordinates(f, wanted)).map((m) => m.privilege);

describe('the privileges a dump needs', () => {
  it.each(['mysql', 'mariadb'] as const)("the README's grants for %s are enough", (flavour) => {
    expect(missing(facts(flavour, README_GRANTS[flavour]))).toEqual([]);
  });

  it.each(['mysql', 'mariadb'] as const)('refuses without TRIGGER on %s, since the dump would silently lose every trigger', (flavour) => {
    const f = facts(flavour, without(README_GRANTS[flavour], 'TRIGGER'));
    const found = missingDumpPrivileges(f, planCoordinates(f, true));
    expect(found.map((m) => m.privilege)).toEqual(['TRIGGER']);
    expect(found[0]!.consequence).toMatch(/leaves every trigger out/);
  });

  it('needs RELOAD or FLUSH_TABLES on MySQL while it records a GTID set, and neither when it does not', () => {
    const noFlush = without(README_GRANTS.mysql, 'FLUSH_TABLES');
    expect(missing(facts('mysql', noFlush))).toEqual(['RELOAD (or FLUSH_TABLES)']);
    expect(missing(facts('mysql', [...noFlush, 'RELOAD']))).toEqual([]);
    expect(missing(facts('mysql', noFlush, { gtidMode: false }))).toEqual([]);
    expect(missing(facts('mysql', noFlush), false)).toEqual([]);
  });

  it('needs PROCESS on MySQL only', () => {
    expect(missing(facts('mysql', without(README_GRANTS.mysql, 'PROCESS')))).toEqual(['PROCESS']);
    expect(missing(facts('mariadb', README_GRANTS.mariadb))).toEqual([]);
  });

  it('names every missing grant at once, in a GRANT statement for the account', () => {
    const f = facts('mysql', ['SELECT']);
    const found = missingDumpPrivileges(f, planCoordinates(f, true));
    expect(found.map((m) => m.privilege)).toEqual(['SHOW VIEW', 'TRIGGER', 'EVENT', 'PROCESS', 'RELOAD (or FLUSH_TABLES)']);
    expect(grantStatement(found, 'backup@%')).toBe("GRANT SHOW VIEW, TRIGGER, EVENT, PROCESS, FLUSH_TABLES ON *.* TO 'backup'@'%'");
  });
});

describe('the privileges SHOW GRANTS gives', () => {
  it("reads global grants, MySQL's split ones and MariaDB's roles alike, and nothing narrower", () => {
    const mysql = parseGlobalGrants([
      'GRANT SELECT, PROCESS, SHOW VIEW, EVENT, TRIGGER ON *.* TO `u`@`%`',
      'GRANT FLUSH_TABLES ON *.* TO `u`@`%`',
      'GRANT `r_outer`@`%` TO `u`@`%`',
      'GRANT INSERT ON `app`.* TO `u`@`%`',
    ]);
    expect([...mysql].sort()).toEqual(['EVENT', 'FLUSH_TABLES', 'PROCESS', 'SELECT', 'SHOW VIEW', 'TRIGGER']);
    const mariadb = parseGlobalGrants([
      'GRANT `r_outer` TO `u`@`%`',
      "GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*D821809F681A40A6E379B50D0463EFAE20BDD122'",
      'GRANT `r_inner` TO `r_outer`',
      'GRANT EVENT ON *.* TO `r_outer`',
      'GRANT SELECT, SHOW VIEW, TRIGGER ON *.* TO `r_inner`',
    ]);
    expect(missingDumpPrivileges({ flavour: 'mariadb', privileges: mariadb }, planCoordinates(facts('mariadb', []), true))).toEqual([]);
  });

  it('takes ALL PRIVILEGES for every one', () => {
    const all = parseGlobalGrants(['GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION']);
    expect(missingDumpPrivileges({ flavour: 'mysql', privileges: all }, planCoordinates(facts('mysql', ['ALL PRIVILEGES']), true))).toEqual([]);
  });
});
