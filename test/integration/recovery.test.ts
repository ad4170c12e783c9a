import { copyFile, mkdir, readdir, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, isDumpName, makeTempDir, readLogEvents, runCli, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { fingerprint } from '../support/fingerprint.js';
import { adminCnf } from '../support/restore.js';
import { freePort, startTestServer } from '../support/mysql-server.js';

const PASSWORD = 'recovery-pw';

describe('recovery', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });
  let dir: string;
  let env: Record<string, string>;
  let atBackup: Record<string, unknown>;

  beforeAll(async () => {
    dir = await makeTempDir();
    env = sidecarEnv(fixture.server, PASSWORD, dir);
    atBackup = await fingerprint(fixture.server);
    const backup = await runCli(['backup'], env);
    expect(backup.exitCode, backup.stderr).toBe(0);
  });

  it('the disaster drill: kill -9 during a transaction, wipe the data directory, restore latest, all back', async () => {
    const { server } = fixture;
    // Work in flight when the server dies, never committed.
    const writer = await mysql.createConnection(server.adminConnection());
    await writer.query('BEGIN');
    await writer.query("INSERT INTO `app-data`.`customer list` (`full name`) VALUES ('uncommitted')");
    await writer.query('DELETE FROM `app-data`.`order lines` WHERE id < 5000');
    await server.kill();
    writer.destroy();

    // The runbook: the data directory is beyond saving; start from an empty one.
    await server.wipe();
    expect(await server.query("SHOW DATABASES LIKE 'app-data'")).toHaveLength(0);

    const restore = await runCli(['restore', 'latest', '--yes', '--defaults-file', await adminCnf(server)], env);
    expect(restore.stderr).toContain('verifying');
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/^restored full_dump_\d{8}_\d{6}\.sql\.zst into .* in [\d.]+ s$/m);
    expect(await fingerprint(server)).toEqual(atBackup);

    const events = (await readLogEvents(path.join(dir, 'backup.log'))).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['restore.started', 'restore.succeeded']));
  });

  it('restore returns a changed server to the state of the backup', async () => {
    const { server } = fixture;
    await server.query("INSERT INTO `app-data`.`customer list` (`full name`) VALUES ('added later'), ('and another')");
    await server.query('DROP TABLE inventory.stock');
    await server.query('DROP PROCEDURE `app-data`.`count customers`');
    expect(await fingerprint(server)).not.toEqual(atBackup);

    const restore = await runCli(['restore', 'latest', '--yes', '--defaults-file', await adminCnf(server)], env);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(await fingerprint(server)).toEqual(atBackup);
  });

  it('restore without --yes and without a terminal refuses and changes nothing', async () => {
    const { server } = fixture;
    await server.query("INSERT INTO `app-data`.`customer list` (`full name`) VALUES ('must survive')");
    const before = await fingerprint(server);
    const restore = await runCli(['restore', 'latest', '--defaults-file', await adminCnf(server)], env);
    expect(restore.exitCode, restore.stderr).toBe(2);
    expect(restore.stderr).toContain('refusing without --yes');
    expect(await fingerprint(server)).toEqual(before);
    await server.query("DELETE FROM `app-data`.`customer list` WHERE `full name` = 'must survive'");
  });

  it('drill restores into a scratch server and finds every table with its rows', async () => {
    const scratch = await startTestServer();
    try {
      const drill = await runCli(['drill', 'latest', '--defaults-file', await adminCnf(scratch)], env);
      expect(drill.exitCode, drill.stderr).toBe(0);
      expect(drill.stdout).toMatch(/drill passed: .* \d+ tables match the dump/);
      // Every user table of the sample data, with the very row counts the source holds.
      const tables = atBackup.tables as Record<string, { rows: number }>;
      for (const [name, { rows }] of Object.entries(tables)) {
        expect(drill.stdout).toContain(`ok    ${name}  ${rows}/${rows} rows  CHECK TABLE: OK`);
      }
    } finally {
      await scratch.stop();
    }
  });

  it('run drills the latest backup on DRILL_SCHEDULE and reports it in the log and the metrics', async () => {
    const scratch = await startTestServer();
    const port = await freePort();
    const log = path.join(await makeTempDir('mbs-log-'), 'drills.log');
    const daemon = startCli(['run'], {
      ...env,
      BACKUP_LOG_FILE: log,
      BACKUP_ON_START: 'false',
      DRILL_SCHEDULE: '*/2 * * * * *',
      DRILL_DEFAULTS_FILE: await adminCnf(scratch),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
    });
    try {
      const events = await waitForLog(log, (e) => countEvents(e, 'drill.succeeded') >= 1);
      expect(countEvents(events, 'drill.failed')).toBe(0);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^mysql_backup_drills_total\{result="success"\} [1-9]/m);
      expect(metrics).toMatch(/^mysql_backup_last_drill_success 1$/m);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
      await scratch.stop();
    }
  });

  it('run refuses a DRILL_DEFAULTS_FILE that names the server being backed up', async () => {
    const result = await runCli(['run'], {
      ...env,
      DRILL_SCHEDULE: '0 4 * * *',
      DRILL_DEFAULTS_FILE: await adminCnf(fixture.server),
      BACKUP_ON_START: 'false',
      HTTP_PORT: String(await freePort()),
    });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('the server being backed up; drills need a scratch server');
  });

  it('drill refuses the server being backed up', async () => {
    const drill = await runCli(['drill', '--host', fixture.server.host, '--port', String(fixture.server.port)], env);
    expect(drill.exitCode, drill.stderr).toBe(2);
    expect(drill.stderr).toContain('is the server being backed up');
  });

  describe('verify', () => {
    /** A copy of the newest backup and its sidecars in a directory of its own, to damage. */
    async function copyOfLatest(): Promise<{ dir: string; dump: string }> {
      const copy = await makeTempDir();
      const names = (await readdir(dir)).filter((n) => n.startsWith('full_dump_'));
      for (const name of names) await copyFile(path.join(dir, name), path.join(copy, name));
      const dump = names.find(isDumpName)!;
      return { dir: copy, dump: path.join(copy, dump) };
    }

    const verify = (backupDir: string, file = 'latest') => runCli(['verify', file], { ...env, BACKUP_DIR: backupDir });

    it('passes a good backup', async () => {
      const result = await verify(dir);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^OK /);
    });

    it('fails a dump with one flipped byte', async () => {
      const { dir: copy, dump } = await copyOfLatest();
      const bytes = await readFile(dump);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
      await writeFile(dump, bytes);
      const result = await verify(copy);
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stdout).toContain('the SHA-256 does not match');
    });

    it('fails a truncated dump even when its checksum file was rewritten to match', async () => {
      const { dir: copy, dump } = await copyOfLatest();
      const size = (await readFile(dump)).length;
      await truncate(dump, Math.floor(size * 0.6));
      const sha = createHash('sha256').update(await readFile(dump)).digest('hex');
      await writeFile(`${dump}.sha256`, `${sha}  ${path.basename(dump)}\n`);
      const result = await verify(copy);
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stdout).not.toContain('does not match full_dump');
      expect(result.stdout).toContain('cannot be read back whole');
      expect(result.stdout).toContain('does not match the manifest');
    });

    it('fails a dump whose checksum file is missing', async () => {
      const { dir: copy, dump } = await copyOfLatest();
      await unlink(`${dump}.sha256`);
      const result = await verify(copy, path.basename(dump));
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stdout).toContain(`${path.basename(dump)}.sha256 is missing`);
    });

    it('reaches outside BACKUP_DIR only through an absolute path given on purpose', async () => {
      const { dump } = await copyOfLatest();
      const elsewhere = await makeTempDir();
      await mkdir(path.join(elsewhere, 'sub'));
      const relative = await verify(elsewhere, path.relative(elsewhere, dump));
      expect(relative.exitCode, relative.stderr).toBe(1);
      expect(relative.stderr).toContain('is neither a backup name in BACKUP_DIR nor an absolute path');
      const absolute = await verify(elsewhere, dump);
      expect(absolute.exitCode, absolute.stderr).toBe(0);
    });
  });
});
