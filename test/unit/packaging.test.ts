import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { COMMANDS } from '../../src/commands/index.js';
import { parseDuration } from '../../src/config/duration.js';
import { loadConfig } from '../../src/config/load.js';
import { CONFIG_VARIABLES, DEFAULT_HTTP_PORT } from '../../src/config/schema.js';
import { ROUTES } from '../../src/http.js';

/**
 * The container files, checked statically against the daemon's own facts (its variables, port,
 * routes and commands) in a second, without an engine. `npm run test:compose` builds and runs
 * the stack for real.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; args: Record<string, string> };
  environment?: Record<string, string>;
  secrets?: Array<{ source: string; uid: string; gid: string; mode: number }>;
  volumes?: string[];
  expose?: string[];
  ports?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  restart?: string;
  stop_grace_period?: string;
  healthcheck?: { test: string[] };
  logging?: { driver: string; options: Record<string, string> };
}
interface ComposeFile {
  services: Record<string, Service>;
  secrets?: Record<string, { environment?: string; file?: string }>;
}
// Compose reads YAML as 1.1 does: `mode: 0400` is octal there, decimal 400 in YAML 1.2.
const compose = parseYaml(read('docker-compose.yaml'), { version: '1.1' }) as ComposeFile;
const mariadbOverride = parseYaml(read('docker-compose.mariadb.yaml'), { version: '1.1' }) as ComposeFile;
const sidecar = compose.services['mysql-backup']!;
const restore = compose.services['mysql-restore']!;
const dockerfile = read('Dockerfile');

/** `${NAME:-default}` becomes the default, as compose does when NAME is unset. */
const withDefaults = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

describe('docker-compose.yaml', () => {
  it('binds only files and folders that exist', () => {
    const sources = Object.values(compose.services).flatMap((s) => (s.volumes ?? []).map((v) => v.split(':')[0]!));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources.filter((s) => s.startsWith('./'))) expect(existsSync(path.join(ROOT, source)), source).toBe(true);
  });

  it('sets only variables the daemon reads, with values it accepts', async () => {
    for (const service of [sidecar, restore]) {
      const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, withDefaults(String(v))]));
      for (const name of Object.keys(env)) expect(CONFIG_VARIABLES, name).toContain(name);
      // The container paths stand in for files of a temporary directory.
      const dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-compose-'));
      await writeFile(path.join(dir, 'password'), 'secret\n', { mode: 0o600 });
      env.MYSQL_PASSWORD_FILE = path.join(dir, 'password');
      env.BACKUP_DIR = dir;
      const config = loadConfig({ env, cwd: ROOT });
      expect(config.mysql.host).toBe('mysql');
      expect(config.mysql.password.reveal()).toBe('secret');
    }
    const env = Object.fromEntries(Object.entries(sidecar.environment!).map(([k, v]) => [k, withDefaults(String(v))]));
    const config = loadConfig({ env: { ...env, MYSQL_PASSWORD_FILE: undefined, MYSQL_PASSWORD: 'x', BACKUP_DIR: os.tmpdir() }, cwd: ROOT });
    expect(sidecar.expose).toEqual([String(config.http.port)]);
    expect(config.http.port).toBe(DEFAULT_HTTP_PORT);
  });

  it('writes no password: each is a secret from .env, which .env.example documents', () => {
    const example = read('.env.example');
    for (const [name, service] of Object.entries(compose.services)) {
      for (const key of Object.keys(service.environment ?? {})) expect(key, name).not.toMatch(/PASSWORD$/);
    }
    for (const [name, secret] of Object.entries(compose.secrets ?? {})) {
      expect(secret.environment, name).toMatch(/PASSWORD$/);
      expect(example, name).toMatch(new RegExp(`^${secret.environment}='`, 'm'));
    }
    // The running sidecar holds only its own password; root's is the one-off restore's alone.
    // Each is owned by the container's reader, mode 0400: uid 1000 for the sidecar, 999 for the
    // server's user, which reads them after the official entrypoints drop root.
    const owners = (service: Service) => (service.secrets ?? []).map((s) => `${s.source} ${s.uid}:${s.gid} ${s.mode.toString(8)}`);
    expect(owners(sidecar)).toEqual(['backup_db_password 1000:1000 400']);
    expect(owners(restore)).toEqual(['mysql_root_password 1000:1000 400']);
    expect(owners(compose.services.mysql!)).toEqual(['mysql_root_password 999:999 400', 'backup_db_password 999:999 400']);
    expect(restore.profiles).toEqual(['restore']);
  });

  it('gives the sidecar a stop_grace_period that covers BACKUP_STOP_GRACE and the clean-up', () => {
    const composeGrace = parseDuration(sidecar.stop_grace_period!)!;
    const daemonGrace = parseDuration(sidecar.environment!.BACKUP_STOP_GRACE!)!;
    expect(composeGrace).toBeGreaterThanOrEqual(daemonGrace + 10_000);
  });

  it('starts the sidecar once the server is healthy, and keeps it running', () => {
    expect(sidecar.depends_on).toEqual({ mysql: { condition: 'service_healthy' } });
    expect(sidecar.restart).toBe('unless-stopped');
    expect(compose.services.mysql!.healthcheck!.test.join(' ')).toContain('mysqladmin ping');
    // MariaDB 11 images have no mysqladmin: the override uses the image's own healthcheck.sh.
    expect(mariadbOverride.services.mysql!.healthcheck!.test.join(' ')).toContain('healthcheck.sh --connect');
  });

  it('builds the sidecar on the very image the server runs, one variable for both, a tag per flavour', () => {
    expect(compose.services.mysql!.image).toBe('${MYSQL_IMAGE:-mysql:8.4}');
    expect(sidecar.build!.args.MYSQL_IMAGE).toBe(compose.services.mysql!.image);
    expect(mariadbOverride.services['mysql-backup']!.build!.args.MYSQL_IMAGE).toBe(mariadbOverride.services.mysql!.image);
    expect(sidecar.image).toBe('mysql-backup-sidecar:local-mysql');
    expect(mariadbOverride.services['mysql-backup']!.image).toBe('mysql-backup-sidecar:local-mariadb');
    expect(mariadbOverride.services['mysql-restore']!.image).toBe('mysql-backup-sidecar:local-mariadb');
    expect(restore.image).toBe(sidecar.image);
    // Built like the sidecar, so the runbook finds it current even where only the server ran.
    expect(restore.build).toEqual(sidecar.build);
  });

  it('bounds every container log', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.logging?.options['max-size'], name).toBeDefined();
      expect(service.logging?.options['max-file'], name).toBeDefined();
    }
  });

  it('lets Prometheus scrape the sidecar by service name and port, rules beside its config, data on a named volume', () => {
    const prometheus = parseYaml(read('config/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
    };
    expect(prometheus.scrape_configs[0]!.static_configs[0]!.targets).toEqual([`mysql-backup:${DEFAULT_HTTP_PORT}`]);
    const mounts = compose.services.prometheus!.volumes!;
    expect(mounts).toContain('./config/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(mounts).toContain('prometheus-data:/prometheus');
    for (const rules of prometheus.rule_files) expect(mounts).toContain(`./config/${rules}:/etc/prometheus/${rules}:ro`);
  });
});

describe('Dockerfile', () => {
  const instructions = (name: string) =>
    dockerfile
      .replace(/\\\n/g, ' ')
      .split('\n')
      .filter((line) => line.startsWith(`${name} `))
      .map((line) => line.slice(name.length + 1).trim());

  it('builds on the node image and runs on the server image, both build arguments, with no frontend to pull', () => {
    expect(instructions('FROM')).toEqual(['${NODE_IMAGE} AS build', '${NODE_IMAGE} AS node', '${MYSQL_IMAGE}']);
    expect(dockerfile).toMatch(/^ARG MYSQL_IMAGE=mysql:8\.4$/m);
    expect(withDefaults(compose.services.mysql!.image!)).toBe(/^ARG MYSQL_IMAGE=(.+)$/m.exec(dockerfile)![1]);
    expect(dockerfile).not.toMatch(/^# *syntax=/m);
    expect(dockerfile).not.toMatch(/:latest\b/);
  });

  it('installs exactly the lockfile and builds the way CI does', () => {
    const runs = instructions('RUN');
    expect(runs).toContain('npm ci --no-audit --no-fund');
    expect(dockerfile).not.toContain('npm install');
    expect(runs.some((r) => r.includes('npm run build'))).toBe(true);
    expect(read('.ci/run')).toMatch(/^npm run build$/m);
    expect(read('package.json')).toContain('"build": "tsc -p tsconfig.build.json"');
  });

  it('creates no backup directory and declares no volume, so a missing mount is noticed', () => {
    expect(instructions('VOLUME')).toEqual([]);
    expect(dockerfile).not.toMatch(/mkdir[^\n]*\/backup/);
  });

  it('exposes the default port and checks health on a route the daemon serves', () => {
    expect(instructions('EXPOSE')).toEqual([String(DEFAULT_HTTP_PORT)]);
    const healthcheck = instructions('HEALTHCHECK').join(' ');
    const route = /127\.0\.0\.1:' \+ \(process\.env\.HTTP_PORT \|\| (\d+)\) \+ '(\/\w+)'/.exec(healthcheck);
    expect(route?.[1]).toBe(String(DEFAULT_HTTP_PORT));
    expect(ROUTES).toContain(route?.[2]);
  });

  it('runs as uid 1000, with signals reaching node (exec form), the daemon by default', () => {
    // A uid alone: Docker Engine 20.10 looks "1000:1000" up as a user name when it copies secrets.
    expect(instructions('USER').at(-1)).toBe('1000');
    const entrypoint = JSON.parse(instructions('ENTRYPOINT')[0]!) as string[];
    expect(entrypoint).toEqual(['node', '/app/dist/cli.js']);
    const command = JSON.parse(instructions('CMD')[0]!) as string[];
    expect(Object.keys(COMMANDS)).toContain(command[0]);
    expect((sidecar as { init?: boolean }).init).toBe(true);
  });

  it('sends only what the image is built from to the engine: never .env, secrets, backups or data', () => {
    const entries = read('.dockerignore')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(entries[0]).toBe('*');
    const included = entries.slice(1).map((line) => line.replace(/^!/, '').replace(/\/$/, ''));
    for (const source of instructions('COPY').filter((c) => !c.startsWith('--from')).flatMap((c) => c.split(/\s+/).slice(0, -1))) {
      expect(included, source).toContain(source);
    }
    for (const entry of included) expect(entry).not.toMatch(/env|secret|container-volumes|\.my\.cnf/);
  });
});

describe('the repository', () => {
  it('keeps .env, backups and the server data out of git', async () => {
    const paths = ['.env', 'container-volumes/backup/mysql/full_dump_20260101_000000.sql.gz', 'container-volumes/mysql/data/ibdata1'];
    const { stdout } = await execa('git', ['check-ignore', ...paths], { cwd: ROOT });
    expect(stdout.split('\n')).toEqual(paths);
  });

  it('the init script creates the backup account from the compose secret, the password quoted for SQL', async () => {
    const script = path.join(ROOT, 'container-volumes/mysql/initdb.d/10-backup-account.sh');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-initdb-'));
    await writeFile(path.join(dir, 'backup_db_password'), String.raw`it's a \ test`);
    // The server image's entrypoint sources the script with docker_process_sql defined.
    const { stdout } = await execa('bash', ['-c', `docker_process_sql() { cat; }; source "${script}"`], {
      env: { PATH: process.env.PATH, BACKUP_DB_PASSWORD_FILE: path.join(dir, 'backup_db_password') },
      extendEnv: false,
    });
    expect(stdout).toContain(String.raw`IDENTIFIED BY 'it''s a \\ test';`);
    expect(stdout).toContain("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, PROCESS, RELOAD, REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'backup'@'%';");
  });

  it('.env.example reads the same to a shell as it says: single-quoted values, nothing run', async () => {
    const { stdout, stderr } = await execa('bash', ['-c', 'set -a; . ./.env.example; set +a; printf "%s\\n" "$BACKUP_SCHEDULE" "$MYSQL_ROOT_PASSWORD"'], {
      cwd: ROOT,
    });
    expect(stderr).toBe('');
    expect(stdout.split('\n')).toEqual(['0 */3 * * *', 'change-me-root']);
    for (const line of read('.env.example').split('\n').filter((l) => /^[A-Z_]+=/.test(l))) expect(line).toMatch(/^[A-Z_]+='[^']*'$/);
  });
});
