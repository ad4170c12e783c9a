/**
 * The compose stack, for real, once per server flavour: the README's setup, the image built by
 * `docker compose`, the first backup on the host volume, Prometheus scraping the sidecar, a stop
 * in the middle of a dump, and the README's restore runbook run exactly as written.
 *
 * `npm run test:compose` starts an engine when none answers and builds the local stand-in images
 * first (scripts/docker-engine.sh, scripts/compose-standins.sh); their names reach the stack
 * through `.env`, as a user's own image choices would.
 */
import { execFileSync } from 'node:child_process';
import { chown, cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/mysql-server.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SIDECAR_UID = 1000;

// Passwords a careless .env would break on: $, both quotes' cousins, #, \ and a space.
const ROOT_PASSWORD = 'r$oot "#\\pw`x';
const BACKUP_PASSWORD = 'b$ack#\\"pw y';

interface Flavour {
  readonly name: 'mysql' | 'mariadb';
  readonly serverImage: string;
  /** .env lines the README tells a MariaDB user to uncomment. */
  readonly composeFiles: readonly string[];
}

const FLAVOURS: readonly Flavour[] = [
  { name: 'mariadb', serverImage: 'mbs-standin/mariadb:10.11', composeFiles: ['docker-compose.yaml', 'docker-compose.mariadb.yaml'] },
  { name: 'mysql', serverImage: 'mbs-standin/mysql:9.7', composeFiles: ['docker-compose.yaml'] },
];

interface LogLine {
  readonly event?: string;
  readonly time: string;
  readonly file?: string;
  readonly cause?: string;
  readonly rawBytes?: number;
  readonly [key: string]: unknown;
}

describe.each(FLAVOURS)('the compose stack with $name', (flavour) => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let backupDir: string;
  let prometheusPort: number;

  const compose = (...args: string[]) => execa('docker', ['compose', ...args], { cwd: dir, env, all: true });
  const sh = (script: string) => execa('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env, all: true });
  const readLog = async (): Promise<LogLine[]> =>
    (await readFile(path.join(backupDir, 'backup.log'), 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LogLine);
  const containerIp = async (service: string) => {
    const id = (await compose('ps', '-q', service)).stdout.trim();
    const { stdout } = await execa('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id]);
    return stdout.trim();
  };
  const asRoot = async () =>
    mysql.createConnection({ host: await containerIp('mysql'), port: 3306, user: 'root', password: ROOT_PASSWORD, multipleStatements: true });

  beforeAll(async () => {
    // A copy of the project as a user would have it: what git tracks, plus what is not yet committed.
    dir = await mkdtemp(path.join(os.tmpdir(), `mbs-compose-${flavour.name}-`));
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f !== '' && !f.startsWith('test/') && !f.startsWith('bench/'));
    for (const file of files) await cp(path.join(REPO, file), path.join(dir, file), { preserveTimestamps: true });
    backupDir = path.join(dir, 'container-volumes/backup/mysql');

    // .env as the README says: copied from .env.example, passwords set, MariaDB's lines uncommented.
    prometheusPort = await freePort();
    let dotenv = (await readFile(path.join(dir, '.env.example'), 'utf8'))
      .replace(/^MYSQL_ROOT_PASSWORD=.*$/m, `MYSQL_ROOT_PASSWORD='${ROOT_PASSWORD}'`)
      .replace(/^BACKUP_DB_PASSWORD=.*$/m, `BACKUP_DB_PASSWORD='${BACKUP_PASSWORD}'`)
      // Often enough that a dump is running when the test stops the sidecar.
      .replace(/^BACKUP_SCHEDULE=.*$/m, `BACKUP_SCHEDULE='*/10 * * * * *'`);
    if (flavour.name === 'mariadb') dotenv = dotenv.replace(/^# (COMPOSE_FILE=.*)$/m, '$1').replace(/^# (MYSQL_IMAGE='mariadb.*)$/m, '$1');
    // This machine's own choices: stand-in images, a free Prometheus port, the build on the host network.
    const composeFiles = [...flavour.composeFiles, path.join(REPO, 'test/compose/this-machine.yaml')].join(':');
    dotenv = dotenv.replace(/^COMPOSE_FILE=.*$/m, '');
    dotenv += [
      `COMPOSE_FILE='${composeFiles}'`,
      `MYSQL_IMAGE='${flavour.serverImage}'`,
      `NODE_IMAGE='mbs-standin/node:20'`,
      `PROMETHEUS_IMAGE='mbs-standin/prometheus:2'`,
      `PROMETHEUS_PORT='${prometheusPort}'`,
      '',
    ].join('\n');
    await writeFile(path.join(dir, '.env'), dotenv);
    await chown(backupDir, SIDECAR_UID, SIDECAR_UID);
    // Another stack on this machine, a user's own included, keeps its name and its volumes.
    env = { ...process.env, COMPOSE_PROJECT_NAME: `mbs-compose-test-${flavour.name}` };
    for (const name of Object.keys(env)) if (/^(MYSQL|BACKUP|COMPOSE_FILE|PROMETHEUS|NODE_IMAGE|TZ$)/.test(name)) delete env[name];
  });

  afterAll(async () => {
    if (dir === undefined) return;
    await compose('down', '-v', '--remove-orphans').catch((error: unknown) => console.error(error));
    await rm(dir, { recursive: true, force: true });
  });

  it('has a clean configuration that holds no password', async () => {
    // The user's own files, without this machine's additions.
    const { stdout, all } = await compose(...flavour.composeFiles.flatMap((f) => ['-f', f]), '--profile', 'restore', 'config');
    expect(all).not.toMatch(/warn/i);
    // Fragments without `$`, quotes or `\`, which compose and JSON would print escaped.
    expect(stdout).not.toContain('pw`x');
    expect(stdout).not.toContain('pw y');
    const config = parseYaml(stdout) as { services: Record<string, { image: string; build?: { args: Record<string, string> } }> };
    expect(config.services.mysql!.image).toBe(flavour.serverImage);
    // One variable names the server image and so the sidecar's base.
    expect(config.services['mysql-backup']!.build!.args.MYSQL_IMAGE).toBe(flavour.serverImage);
    expect(config.services['mysql-restore']!.build!.args.MYSQL_IMAGE).toBe(flavour.serverImage);
    expect(config.services['mysql-backup']!.image).toBe(`mysql-backup-sidecar:local-${flavour.name}`);
    expect(config.services['mysql-restore']!.image).toBe(`mysql-backup-sidecar:local-${flavour.name}`);
  });

  it('comes up healthy in order and stores the first backup on the host volume', async () => {
    const up = await compose('up', '-d', '--wait');
    // Compose's own account: the server healthy before the sidecar starts.
    const lines = up.all!.split('\n');
    const serverHealthy = lines.findIndex((l) => /mysql-1\s+Healthy/.test(l));
    const sidecarStarted = lines.findIndex((l) => /mysql-backup-1\s+Started/.test(l));
    expect(serverHealthy, up.all).toBeGreaterThanOrEqual(0);
    expect(sidecarStarted, up.all).toBeGreaterThan(serverHealthy);

    const log = await waitFor(async () => {
      const entries = await readLog().catch(() => []);
      return entries.some((l) => l.event === 'backup.succeeded') ? entries : undefined;
    }, 60_000);
    const first = log.find((l) => l.event === 'backup.succeeded')!;
    const info = await stat(path.join(backupDir, first.file!));
    expect(info.uid).toBe(SIDECAR_UID);
    expect(info.mode & 0o777).toBe(0o600);
    expect(log.find((l) => l.event === 'mysql.ready')).toMatchObject({ flavour: flavour.name });
    // The sidecar's client tools are the server's own release.
    const version = (await compose('exec', '-T', 'mysql-backup', 'mysqldump', '--version')).stdout;
    const serverVersion = (await compose('exec', '-T', 'mysql', flavour.name === 'mysql' ? 'mysqld' : 'mariadbd', '--version')).stdout;
    expect(releaseOf(version)).toBe(releaseOf(serverVersion));
    // Each secret readable by its reader alone; no password in any container's environment.
    const owner = async (service: string, file: string) =>
      (await compose('exec', '-T', service, 'stat', '-c', '%u %a', `/run/secrets/${file}`)).stdout.trim();
    expect(await owner('mysql-backup', 'backup_db_password')).toBe('1000 400');
    expect(await owner('mysql', 'backup_db_password')).toBe('999 400');
    expect(await owner('mysql', 'mysql_root_password')).toBe('999 400');
    for (const service of ['mysql', 'mysql-backup']) {
      const id = (await compose('ps', '-q', service)).stdout.trim();
      const inspect = (await execa('docker', ['inspect', id])).stdout;
      expect(inspect).not.toContain('pw`x');
      expect(inspect).not.toContain('pw y');
    }
    // The image declares no volume of its own: only the server image's data directory is inherited.
    const image = JSON.parse((await execa('docker', ['image', 'inspect', `mbs-compose-test/sidecar:${env.COMPOSE_PROJECT_NAME}`])).stdout)[0] as {
      Config: { Volumes: Record<string, unknown> | null };
    };
    expect(Object.keys(image.Config.Volumes ?? {})).not.toContain('/backup/mysql');
  });

  it('answers /health and is scraped by the stack Prometheus with its rules loaded', async () => {
    const health = await fetch(`http://${await containerIp('mysql-backup')}:8437/health`);
    expect(health.status).toBe(200);

    const api = `http://127.0.0.1:${prometheusPort}/api/v1`;
    const target = await waitFor(async () => {
      const body = (await (await fetch(`${api}/targets`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string }[] } };
      const found = body.data.activeTargets.find((t) => t.labels.job === 'mysql-backup');
      return found?.health === 'up' ? found : undefined;
    }, 90_000);
    expect(target.health).toBe('up');
    const query = (await (await fetch(`${api}/query?query=mysql_backup_last_success_timestamp_seconds`)).json()) as {
      data: { result: { value: [number, string] }[] };
    };
    expect(Number(query.data.result[0]!.value[1])).toBeGreaterThan(Date.now() / 1000 - 3600);
    const rules = (await (await fetch(`${api}/rules`)).json()) as { data: { groups: { rules: unknown[] }[] } };
    const alerts = parseYaml(await readFile(path.join(REPO, 'config/alerts.yml'), 'utf8')) as { groups: { rules: unknown[] }[] };
    const expected = alerts.groups.reduce((n, g) => n + g.rules.length, 0);
    expect(rules.data.groups.reduce((n, g) => n + g.rules.length, 0)).toBe(expected);
  });

  let shopChecksum: string;

  it('leaves no partial file when stopped in the middle of a dump', async () => {
    const db = await asRoot();
    try {
      // The data the runbook must bring back, and a backup that holds it.
      await db.query(`CREATE DATABASE shop;
        CREATE TABLE shop.orders (id INT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(10,2));
        INSERT INTO shop.orders SELECT i, CONCAT('customer ', i), i * 1.25
          FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) SELECT i FROM n) AS seq`);
      shopChecksum = await checksum(db);
      const loaded = Date.now();
      await waitFor(async () => ((await readLog()).some((l) => l.event === 'backup.succeeded' && Date.parse(l.time) > loaded + 1000) ? true : undefined), 60_000);

      // Enough data that a dump takes seconds, so the stop lands inside one.
      await db.query(`CREATE DATABASE bulk;
        CREATE TABLE bulk.seq (i INT PRIMARY KEY);
        INSERT INTO bulk.seq SELECT i FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) SELECT i FROM n) AS seq;
        CREATE TABLE bulk.rows (id INT PRIMARY KEY, payload VARCHAR(200));
        INSERT INTO bulk.rows SELECT a.i * 1000 + b.i, REPEAT(SHA2(a.i * 1000 + b.i, 256), 3) FROM bulk.seq a, bulk.seq b`);
    } finally {
      await db.end();
    }
    const bulkLoaded = Date.now();
    const started = await waitFor(async () => {
      const line = (await readLog()).find((l) => l.event === 'backup.started' && Date.parse(l.time) > bulkLoaded);
      if (line === undefined) return undefined;
      const names = await readdir(backupDir);
      return names.some((n) => n.endsWith('.partial')) ? line : undefined;
    }, 60_000, 20);
    await compose('stop', 'mysql-backup');

    const log = await readLog();
    // The stop landed mid-dump: the daemon was told to stop before the dump's outcome.
    const outcome = log.find((l) => (l.event === 'backup.succeeded' || l.event === 'backup.failed') && l.file === started.file);
    const stopping = log.find((l) => l.event === 'daemon.stopping');
    expect(outcome, 'the interrupted dump has an outcome in backup.log').toBeDefined();
    expect(stopping!.runInFlight).toBe(started.runId);
    expect(Date.parse(stopping!.time)).toBeLessThanOrEqual(Date.parse(outcome!.time));
    expect(log.at(-1)!.event).toBe('daemon.stopped');
    const names = await readdir(backupDir);
    expect(names.filter((n) => n.includes('.partial'))).toEqual([]);
    // Within BACKUP_STOP_GRACE the daemon lets the dump finish, verified; past it, it aborts and
    // removes the partial file. Either way a file named like a backup is complete.
    if (outcome!.event === 'backup.failed') expect(names).not.toContain(started.file);
    for (const name of names.filter((n) => /^full_dump_\d{8}_\d{6}\.sql\.zst$/.test(n))) {
      expect(names).toContain(`${name}.manifest.json`);
      await execa('sha256sum', ['-c', `${name}.sha256`], { cwd: backupDir });
    }
  });

  it('brings the data back with the README runbook, run as written', async () => {
    const runbook = readmeRunbook(await readFile(path.join(REPO, 'README.md'), 'utf8'));
    const before = Date.now();
    const result = await sh(runbook);
    expect(result.exitCode, result.stderr).toBe(0);

    const db = await asRoot();
    try {
      expect(await checksum(db)).toBe(shopChecksum);
      // The broken data directory is kept aside, untouched.
      expect((await readdir(path.join(dir, 'container-volumes/mysql'))).sort()).toContain('data.broken');
    } finally {
      await db.end();
    }
    // The sidecar is back, and its next backup is of the restored server.
    await waitFor(async () => ((await readLog()).some((l) => l.event === 'backup.succeeded' && Date.parse(l.time) > before) ? true : undefined), 60_000);
  });
});

/** The first sh block under the README's runbook heading: the commands a user copies. */
function readmeRunbook(readme: string): string {
  const section = readme.split(/^### Runbook: /m)[1];
  if (section === undefined) throw new Error('README.md has no "### Runbook: " section');
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (block === null) throw new Error('the README runbook has no ```sh block');
  return block[1]!;
}

async function checksum(db: mysql.Connection): Promise<string> {
  const [rows] = await db.query('SELECT COUNT(*) AS n, SUM(CRC32(CONCAT_WS(\'|\', id, customer, total))) AS crc FROM shop.orders');
  const row = (rows as { n: number; crc: string }[])[0]!;
  return `${row.n}:${row.crc}`;
}

function releaseOf(versionLine: string): string {
  const match = /(\d+\.\d+\.\d+)/.exec(versionLine.replace(/Ver \d+\.\d+ Distrib /, ''));
  if (match === null) throw new Error(`no release in ${JSON.stringify(versionLine)}`);
  return match[1]!;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms${lastError === undefined ? '' : `: ${String(lastError)}`}`);
}
