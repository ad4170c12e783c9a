import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { isDumpName, makeTempDir, readLogEvents, runCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { startTestServer, type TestServer, testFlavour } from '../support/mysql-server.js';
import { adminCnf } from '../support/restore.js';

const PASSWORD = 'gtid-pw';
const flavour = testFlavour();
/** MariaDB's dump records its GTID position only as a comment: there is nothing to decide there. */
const mysqlOnly = it.skipIf(flavour !== 'mysql');

const gtidExecuted = async (server: TestServer) =>
  String((await server.query('SELECT @@GLOBAL.gtid_executed AS e'))[0]!.e).replace(/\s+/g, '');
const decompress = async (file: string) => Buffer.from((await execa('zstd', ['-dcq', file], { encoding: 'buffer' })).stdout);
const hasExecuted = async (server: TestServer, set: string) =>
  Number((await server.query('SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed) AS s', [set]))[0]!.s) === 1;

describe(`restore and the dump's GTIDs (${flavour})`, () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });
  let dir: string;
  let env: Record<string, string>;
  let dump: string;
  let dumpSet: string | null;

  beforeAll(async () => {
    dir = await makeTempDir();
    env = sidecarEnv(fixture.server, PASSWORD, dir);
    expect((await runCli(['backup'], env)).exitCode).toBe(0);
    dump = (await readdir(dir)).find(isDumpName)!;
    dumpSet = JSON.parse(await readFile(path.join(dir, `${dump}.manifest.json`), 'utf8')).binlog?.gtid ?? null;
  });

  mysqlOnly('the dump records the GTID set as a comment, for restore to decide', async () => {
    expect(dumpSet).toMatch(/^[0-9a-f-]{36}:1-\d+$/);
    const sql = (await decompress(path.join(dir, dump))).subarray(0, 64 * 1024).toString();
    expect(sql).toContain(`/* SET @@GLOBAL.GTID_PURGED='+${dumpSet}';*/`);
    expect(sql).toContain('SET @@SESSION.SQL_LOG_BIN= 0;');
  });

  mysqlOnly('into the server it came from, after a DROP TABLE: restored, its GTID state left as it is, and says replicas miss it', async () => {
    const { server } = fixture;
    await server.query('DROP TABLE `inventory`.`stock`');
    const before = await gtidExecuted(server);
    const restore = await runCli(['restore', 'latest', '--yes', '--defaults-file', await adminCnf(server)], env);
    expect(restore.stderr).not.toContain('ERROR 3546');
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stderr).toContain(`GTIDs: the target has already executed ${dumpSet} of the dump's set`);
    expect(restore.stderr).toContain('replicas of this server do not receive it');
    expect(await server.query("SHOW TABLES FROM `inventory` LIKE 'stock'")).toHaveLength(1);
    // Nothing of the restore reached the binary log: no new GTIDs either.
    expect(await gtidExecuted(server)).toBe(before);
    const decision = (await readLogEvents(path.join(dir, 'backup.log'))).filter((e) => e.event === 'restore.gtid').at(-1);
    expect(decision).toMatchObject({ action: 'skip', gtidSet: dumpSet, overlap: dumpSet });
  });

  mysqlOnly('--gtid-purged=apply into that same server is refused before anything is written', async () => {
    const { server } = fixture;
    const cnf = await adminCnf(server);
    await server.query('DROP TABLE `inventory`.`stock`');
    try {
      const restore = await runCli(['restore', 'latest', '--yes', '--gtid-purged=apply', '--defaults-file', cnf], env);
      expect(restore.exitCode, restore.stderr).toBe(2);
      expect(restore.stderr).toContain(`--gtid-purged=apply, but the target has already executed ${dumpSet}`);
      // The dump holds the table: had the restore written anything, it would be back.
      expect(await server.query("SHOW TABLES FROM `inventory` LIKE 'stock'")).toHaveLength(0);
    } finally {
      expect((await runCli(['restore', 'latest', '--yes', '--defaults-file', cnf], env)).exitCode).toBe(0);
    }
  });

  mysqlOnly("into a new server: the data, and the dump's GTID set as executed and purged", async () => {
    const scratch = await startTestServer();
    try {
      expect(await gtidExecuted(scratch)).toBe('');
      const restore = await runCli(['restore', 'latest', '--yes', '--defaults-file', await adminCnf(scratch)], env);
      expect(restore.exitCode, restore.stderr).toBe(0);
      expect(restore.stderr).toContain(`GTIDs: the target has executed none of the dump's set ${dumpSet}`);
      expect(await gtidExecuted(scratch)).toBe(dumpSet);
      expect(String((await scratch.query('SELECT @@GLOBAL.gtid_purged AS p'))[0]!.p).replace(/\s+/g, '')).toBe(dumpSet);
    } finally {
      await scratch.stop();
    }
  });

  mysqlOnly('--gtid-purged=skip into a new server leaves its GTID state empty', async () => {
    const scratch = await startTestServer();
    try {
      const restore = await runCli(['restore', 'latest', '--yes', '--gtid-purged=skip', '--defaults-file', await adminCnf(scratch)], env);
      expect(restore.exitCode, restore.stderr).toBe(0);
      expect(await gtidExecuted(scratch)).toBe('');
    } finally {
      await scratch.stop();
    }
  });

  mysqlOnly('two drills into one scratch server both pass: the second finds the set there and leaves it', async () => {
    const scratch = await startTestServer();
    try {
      const cnf = await adminCnf(scratch);
      for (const round of [1, 2]) {
        const drill = await runCli(['drill', 'latest', '--defaults-file', cnf], env);
        expect(drill.stdout, `drill ${round}: ${drill.stderr}`).toMatch(/drill passed/);
        expect(drill.exitCode, drill.stderr).toBe(0);
      }
      expect(await hasExecuted(scratch, dumpSet!)).toBe(true);
    } finally {
      await scratch.stop();
    }
  });

  mysqlOnly('a dump of an earlier release, with an active SET @@GLOBAL.GTID_PURGED, restores into the server it came from', async () => {
    const { server } = fixture;
    // What the sidecar wrote before --set-gtid-purged=COMMENTED: mysqldump's default statement.
    const legacy = 'full_dump_20200101_000000.sql.zst';
    const sql = await decompress(path.join(dir, dump));
    const active = Buffer.from(sql.toString('latin1').replace(`/* SET @@GLOBAL.GTID_PURGED='+${dumpSet}';*/`, `SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '${dumpSet}';`), 'latin1');
    expect(active.equals(sql)).toBe(false);
    const stored = Buffer.from((await execa('zstd', ['-q', '-c'], { input: active, encoding: 'buffer' })).stdout);
    await writeFile(path.join(dir, legacy), stored);
    const sha256 = createHash('sha256').update(stored).digest('hex');
    await writeFile(path.join(dir, `${legacy}.sha256`), `${sha256}  ${legacy}\n`);
    const manifest = JSON.parse(await readFile(path.join(dir, `${dump}.manifest.json`), 'utf8'));
    await writeFile(
      path.join(dir, `${legacy}.manifest.json`),
      JSON.stringify({ ...manifest, file: legacy, sha256, storedBytes: (await stat(path.join(dir, legacy))).size, rawBytes: active.length }),
    );

    await server.query('DROP TABLE `inventory`.`stock`');
    const restore = await runCli(['restore', legacy, '--yes', '--defaults-file', await adminCnf(server)], env);
    expect(restore.stderr).not.toContain('ERROR 3546');
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(await server.query("SHOW TABLES FROM `inventory` LIKE 'stock'")).toHaveLength(1);
  });

  it.skipIf(flavour !== 'mariadb')('MariaDB: --gtid-purged=skip is refused as meaningless, and nothing is written', async () => {
    const restore = await runCli(['restore', 'latest', '--yes', '--gtid-purged=skip', '--defaults-file', await adminCnf(fixture.server)], env);
    expect(restore.exitCode, restore.stderr).toBe(2);
    expect(restore.stderr).toContain('--gtid-purged is for MySQL targets');
    const events = (await readLogEvents(path.join(dir, 'backup.log'))).map((e) => e.event);
    expect(events).not.toContain('restore.started');
  });
});
