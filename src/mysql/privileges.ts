import type { CoordinatesPlan } from './coordinates-plan.js';
import { quoteAccount, type ServerInfo } from './server-info.js';

export interface MissingPrivilege {
  /** As a GRANT names it, e.g. "TRIGGER", or "RELOAD (or FLUSH_TABLES)". */
  readonly privilege: string;
  readonly grant: string;
  /** What the dump would do without it. */
  readonly consequence: string;
}

type Facts = Pick<ServerInfo, 'flavour' | 'privileges'>;

/**
 * Rule: a run never degrades silently. Either the account may do everything the dump needs, or
 * the run refuses before it starts, naming each missing grant and what it would cost. Measured
 * with MySQL 9.7 and MariaDB 10.11 (README, "The backup account"): without TRIGGER both dumps
 * leave every trigger out and still exit 0; the others make mysqldump fail, later and one at a
 * time. Binlog coordinates alone may be missing: that run goes on, with a warning.
 */
export function missingDumpPrivileges(facts: Facts, plan: CoordinatesPlan): MissingPrivilege[] {
  const has = (privilege: string) => hasPrivilege(facts.privileges, privilege);
  const missing: MissingPrivilege[] = [];
  const need = (privilege: string, consequence: string) => {
    if (!has(privilege)) missing.push({ privilege, grant: privilege, consequence });
  };
  need('SELECT', 'mysqldump cannot read the tables');
  need('SHOW VIEW', 'mysqldump fails on the first view');
  need('TRIGGER', 'mysqldump leaves every trigger out of the dump without a word, and exits 0');
  need('EVENT', 'mysqldump fails at SHOW EVENTS');
  if (facts.flavour === 'mysql') {
    need('PROCESS', "MySQL's mysqldump cannot read tablespace information (it prints an error, and the run fails), and the long-query guard cannot see other sessions");
    if (plan.gtidSet === 'recorded' && !has('RELOAD') && !has('FLUSH_TABLES')) {
      missing.push({
        privilege: 'RELOAD (or FLUSH_TABLES)',
        grant: 'FLUSH_TABLES',
        consequence: "with gtid_mode ON, MySQL's mysqldump takes FLUSH TABLES WITH READ LOCK for a consistent GTID set and cannot dump without it",
      });
    }
  }
  return missing;
}

export const hasPrivilege = (privileges: ReadonlySet<string>, privilege: string) =>
  privileges.has(privilege) || privileges.has('ALL PRIVILEGES');

/** The statement that fixes it, for the hint: `GRANT TRIGGER, EVENT ON *.* TO 'backup'@'%'`. */
export function grantStatement(missing: readonly MissingPrivilege[], account: string): string {
  return `GRANT ${missing.map((m) => m.grant).join(', ')} ON *.* TO ${quoteAccount(account)}`;
}

/**
 * The global privileges in `SHOW GRANTS` of the session: its account's and, on both MySQL and
 * MariaDB, those of its enabled roles, nested ones included (information_schema.USER_PRIVILEGES
 * has no rows for roles on MariaDB). "ALL PRIVILEGES" stands for every one.
 */
export function parseGlobalGrants(lines: readonly string[]): ReadonlySet<string> {
  const privileges = new Set<string>();
  for (const line of lines) {
    const grant = /^GRANT (.+?) ON \*\.\* TO /.exec(line);
    if (!grant) continue;
    for (const privilege of grant[1]!.split(',').map((p) => p.trim().toUpperCase())) {
      privileges.add(privilege === 'ALL' ? 'ALL PRIVILEGES' : privilege);
    }
  }
  return privileges;
}
