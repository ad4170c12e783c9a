import { readdir, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { isDumpName, makeTempDir, readLogEvents, runCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { adminCnf } from '../support/restore.js';

const PASSWORD = 'suspect-pw';

/** Dump names in `dir`, oldest first (names sort by time). */
const dumpsIn = async (dir: string) => (await readdir(dir)).filter(isDumpName).sort();

/** Every file in `dir` made `byMs` older, keeping the time between them. */
async function moveBack(dir: string, byMs: number): Promise<void> {
  for (const name of await readdir(dir)) {
    const file = path.join(dir, name);
    const when = new Date((await stat(file)).mtimeMs - byMs);
    await utimes(file, when, when);
  }
}

describe('restore after a disaster does not restore the disaster', () => {
  const fixture = useBackupServer({ password: PASSWORD });

  it('restore latest refuses a dump of the emptied server without --force, and the real one restores by name', async () => {
    const { server } = fixture;
    // Enough rows that the application's data, not the server's own schemas, makes up most of a dump.
    await server.query('CREATE DATABASE shop');
    await server.query('CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(1000))');
    for (let batch = 0; batch < 8; batch++) {
      await server.query(`INSERT INTO shop.orders (note) SELECT REPEAT('x', 1000) FROM information_schema.COLUMNS LIMIT 500`);
    }
    const rows = (await server.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shop.orders'))[0]?.n;
    expect(Number(rows)).toBeGreaterThanOrEqual(2000);

    const dir = await makeTempDir();
    const env = sidecarEnv(server, PASSWORD, dir);
    for (let i = 0; i < 3; i++) expect((await runCli(['backup'], env)).exitCode).toBe(0);
    const [, , lastReal] = await dumpsIn(dir);

    // The disaster: the data is gone, and the sidecar, still running, dumps what is left.
    await server.query('DROP DATABASE shop');
    expect((await runCli(['backup'], env)).exitCode).toBe(0);
    const small = (await dumpsIn(dir)).at(-1)!;
    const events = await readLogEvents(path.join(dir, 'backup.log'));
    expect(events.filter((e) => e.event === 'backup.warning').map((e) => e.warning)).toContainEqual(
      expect.stringMatching(new RegExp(`^${small.replace(/\./g, '\\.')} is far smaller than the good dumps before it: .* % of the median of the 3 good dumps before it`)),
    );

    const list = await runCli(['list'], env);
    expect(list.stdout.split('\n').find((line) => line.startsWith(small))).toContain('(!)');
    expect(list.stdout.split('\n').find((line) => line.startsWith(lastReal!))).not.toContain('(!)');

    const cnf = await adminCnf(server);
    const refused = await runCli(['restore', 'latest', '--yes', '--defaults-file', cnf], env);
    expect(refused.exitCode, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`${small.replace(/\./g, '\\.')}: stored \\d+m? ?\\S* ago; [\\d.]+ MiB uncompressed, [\\d.]+ % of the median of the 3 good dumps before it`));
    expect(refused.stderr).toContain(`refusing to restore ${small}, the latest backup: it is far smaller than the good dumps before it`);
    expect(refused.stderr).not.toContain('verifying');
    const schemas = await server.query<RowDataPacket[]>("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'");
    expect(schemas).toHaveLength(0);

    const restored = await runCli(['restore', lastReal!, '--yes', '--defaults-file', cnf], env);
    expect(restored.exitCode, restored.stderr).toBe(0);
    const back = (await server.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shop.orders'))[0]?.n;
    expect(Number(back)).toBe(Number(rows));

    // Suspects do not count towards BACKUP_KEEP_MIN: with every dump expired, the newest real ones stay.
    // Expired by moving every file two hours back rather than by a retention of seconds: the
    // retention is also the suspect rule's baseline window, and MySQL's dumps are more than a
    // second apart, so a 1 s retention would leave the small dump nothing to compare with.
    await moveBack(dir, 2 * 3600_000);
    const prune = await runCli(['prune', '--dry-run'], { ...env, BACKUP_RETENTION: '1h', BACKUP_KEEP_MIN: '2' });
    expect(prune.exitCode, prune.stderr).toBe(0);
    const [first, second] = await dumpsIn(dir);
    expect(prune.stdout).toContain(`would delete ${first}`);
    expect(prune.stdout).toMatch(new RegExp(`kept ${second!.replace(/\./g, '\\.')}`));
    expect(prune.stdout).toMatch(new RegExp(`kept ${lastReal!.replace(/\./g, '\\.')}`));
    expect(prune.stdout).toMatch(new RegExp(`kept ${small.replace(/\./g, '\\.')} .*not counted towards BACKUP_KEEP_MIN`));
  });
});
