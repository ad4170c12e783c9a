import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { isDumpName, makeTempDir, readLogEvents, runCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { type Flavour, testFlavour } from '../support/mysql-server.js';
import { BACKUP_GRANTS } from '../support/sample-data.js';

const PASSWORD = 'privileges-pw';
const flavour = testFlavour();
const readmeGrants = BACKUP_GRANTS[flavour].split(', ');
const without = (privilege: string) => readmeGrants.filter((p) => p !== privilege);

type Expected = { ok: true; coordinates: 'full' | 'gtid only' } | { ok: false; names: string };

/**
 * The README's grants table, run: each row an account with the README's grants but one, backing
 * up the sample data (a view, triggers, an event, routines) on a server with a binary log (and,
 * on MySQL, GTIDs).
 */
const ROWS: Record<Flavour, Array<[string, string[], Expected]>> = {
  mysql: [
    ["the README's grants", readmeGrants, { ok: true, coordinates: 'full' }],
    ['RELOAD instead of FLUSH_TABLES', [...without('FLUSH_TABLES'), 'RELOAD'], { ok: true, coordinates: 'full' }],
    ['without SELECT', without('SELECT'), { ok: false, names: 'SELECT' }],
    ['without SHOW VIEW', without('SHOW VIEW'), { ok: false, names: 'SHOW VIEW' }],
    ['without TRIGGER', without('TRIGGER'), { ok: false, names: 'TRIGGER (mysqldump leaves every trigger out' }],
    ['without EVENT', without('EVENT'), { ok: false, names: 'EVENT' }],
    ['without PROCESS', without('PROCESS'), { ok: false, names: 'PROCESS' }],
    ['without FLUSH_TABLES or RELOAD', without('FLUSH_TABLES'), { ok: false, names: 'RELOAD (or FLUSH_TABLES)' }],
    ['without REPLICATION CLIENT', without('REPLICATION CLIENT'), { ok: true, coordinates: 'gtid only' }],
  ],
  mariadb: [
    ["the README's grants", readmeGrants, { ok: true, coordinates: 'full' }],
    ['without SELECT', without('SELECT'), { ok: false, names: 'SELECT' }],
    ['without SHOW VIEW', without('SHOW VIEW'), { ok: false, names: 'SHOW VIEW' }],
    ['without TRIGGER', without('TRIGGER'), { ok: false, names: 'TRIGGER (mysqldump leaves every trigger out' }],
    ['without EVENT', without('EVENT'), { ok: false, names: 'EVENT' }],
  ],
};

describe(`the backup account's privileges (${flavour})`, () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });

  it.each(ROWS[flavour])('%s', async (name, grants, expected) => {
    const { server } = fixture;
    const user = `p_${name.replace(/\W+/g, '_').slice(0, 24)}`;
    await server.query('DROP USER IF EXISTS ?@?', [user, '%']);
    await server.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', PASSWORD]);
    await server.query(`GRANT ${grants.join(', ')} ON *.* TO ?@?`, [user, '%']);
    const dir = await makeTempDir();
    const result = await runCli(['backup'], sidecarEnv(server, PASSWORD, dir, { MYSQL_USER: user }));

    if (!expected.ok) {
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toContain(`the account ${user}@% lacks ${expected.names}`);
      expect(result.stderr).toContain(`ON *.* TO '${user}'@'%'`);
      expect((await readdir(dir)).filter(isDumpName)).toEqual([]);
      const events = (await readLogEvents(path.join(dir, 'backup.log'))).map((e) => e.event);
      expect(events, 'refused before mysqldump started').not.toContain('backup.started');
      return;
    }
    expect(result.stderr).toBe('');
    expect(result.exitCode, result.stderr).toBe(0);
    const dump = (await readdir(dir)).find(isDumpName)!;
    const manifest = JSON.parse(await readFile(path.join(dir, `${dump}.manifest.json`), 'utf8'));
    if (expected.coordinates === 'full') {
      expect(manifest.binlog.file).toMatch(/binlog\.\d+$/);
    } else {
      expect(manifest.binlog.file).toBeNull();
      const warning = (await readLogEvents(path.join(dir, 'backup.log'))).find((e) => e.event === 'backup.warning');
      expect(warning?.warning).toContain('records no binlog coordinates: the account lacks REPLICATION CLIENT');
    }
    if (flavour === 'mysql') expect(manifest.binlog.gtid).toMatch(/^[0-9a-f-]{36}:1-\d+$/);
  });

  it('privileges held through a role, and a role within it, count as the account\'s own', async () => {
    const { server } = fixture;
    const [inner, outer] = [readmeGrants.slice(0, 3), readmeGrants.slice(3)];
    await server.query('DROP USER IF EXISTS ?@?', ['p_roles', '%']);
    await server.query('DROP ROLE IF EXISTS r_inner, r_outer');
    if (flavour === 'mysql') {
      await server.query('CREATE ROLE r_inner, r_outer');
    } else {
      await server.query('CREATE ROLE r_inner');
      await server.query('CREATE ROLE r_outer');
    }
    await server.query(`GRANT ${inner.join(', ')} ON *.* TO r_inner`);
    await server.query(`GRANT ${outer.join(', ')} ON *.* TO r_outer`);
    await server.query('GRANT r_inner TO r_outer');
    await server.query('CREATE USER ?@? IDENTIFIED BY ?', ['p_roles', '%', PASSWORD]);
    await server.query("GRANT r_outer TO 'p_roles'@'%'");
    await server.query(flavour === 'mysql' ? "SET DEFAULT ROLE r_outer TO 'p_roles'@'%'" : "SET DEFAULT ROLE r_outer FOR 'p_roles'@'%'");
    const dir = await makeTempDir();
    const result = await runCli(['backup'], sidecarEnv(server, PASSWORD, dir, { MYSQL_USER: 'p_roles' }));
    expect(result.stderr).toBe('');
    expect(result.exitCode, result.stderr).toBe(0);
  });

  it('the refusal without TRIGGER is needed: mysqldump itself leaves the triggers out and exits 0', async () => {
    const { server } = fixture;
    await server.query('DROP USER IF EXISTS ?@?', ['no_trigger', '%']);
    await server.query('CREATE USER ?@? IDENTIFIED BY ?', ['no_trigger', '%', PASSWORD]);
    await server.query(`GRANT ${without('TRIGGER').join(', ')} ON *.* TO ?@?`, ['no_trigger', '%']);
    const [[triggers]] = [await server.query("SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'app-data'")];
    expect(Number(triggers!.n)).toBeGreaterThan(0);
    const cnf = path.join(await makeTempDir('mbs-cnf-'), 'no-trigger.cnf');
    await writeFile(cnf, `[client]\nuser=no_trigger\npassword=${PASSWORD}\nhost=127.0.0.1\nport=${server.port}\n`, { mode: 0o600 });
    const dump = await execa(path.join(server.clientDir, 'mysqldump'), [`--defaults-file=${cnf}`, '--single-transaction', '--databases', 'app-data', '--triggers']);
    expect(dump.exitCode, dump.stderr).toBe(0);
    expect(dump.stdout).toContain('CREATE TABLE `customer list`');
    expect(dump.stdout).not.toMatch(/CREATE\*\/ .*TRIGGER/i);
  });
});
