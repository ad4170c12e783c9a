import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
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
 * No Docker engine runs where these tests run, so the container files are checked statically
 * against the daemon's own facts: its variables, port, routes and commands.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  expose?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  restart?: string;
  stop_grace_period?: string;
  healthcheck?: { test: string[] };
}
const compose = parseYaml(read('docker-compose.yaml')) as { services: Record<string, Service> };
const sidecar = compose.services['mysql-backup']!;
const dockerfile = read('Dockerfile');

/** `${NAME:-default}` becomes the default, as compose does when NAME is unset. */
const withDefaults = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

describe('docker-compose.yaml', () => {
  it('binds only files and folders that exist (secrets by their .example)', () => {
    const sources = Object.values(compose.services).flatMap((s) => (s.volumes ?? []).map((v) => v.split(':')[0]!));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources.filter((s) => s.startsWith('./'))) {
      const file = path.join(ROOT, source);
      expect(existsSync(file) || existsSync(`${file}.example`), source).toBe(true);
    }
  });

  it("sets only variables the daemon reads, with values it accepts", async () => {
    const env = Object.fromEntries(Object.entries(sidecar.environment ?? {}).map(([k, v]) => [k, withDefaults(String(v))]));
    for (const name of Object.keys(env)) expect(CONFIG_VARIABLES, name).toContain(name);
    // The container paths stand in for files of this repository.
    env.MYSQL_DEFAULTS_FILE = path.join(ROOT, 'container-volumes/docker-secrets/mysql/.my.cnf.example');
    env.BACKUP_DIR = await mkdtemp(path.join(os.tmpdir(), 'mbs-compose-'));
    const config = loadConfig({ env, cwd: ROOT });
    expect(config.mysql.host).toBe('mysql');
    expect(sidecar.expose).toEqual([String(config.http.port)]);
    expect(config.http.port).toBe(DEFAULT_HTTP_PORT);
  });

  it('writes no password: each comes from .env, which .env.example documents', () => {
    const example = read('.env.example');
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (!/PASSWORD/.test(key)) continue;
        expect(String(value), `${name}.${key}`).toMatch(/^\$\{([A-Z_]+)(:\?[^}]*)?\}$/);
        const variable = /^\$\{([A-Z_]+)/.exec(String(value))![1]!;
        expect(example, variable).toMatch(new RegExp(`^${variable}=`, 'm'));
      }
    }
  });

  it('gives the sidecar a stop_grace_period that covers BACKUP_STOP_GRACE and the clean-up', () => {
    const composeGrace = parseDuration(sidecar.stop_grace_period!)!;
    const daemonGrace = parseDuration(sidecar.environment!.BACKUP_STOP_GRACE!)!;
    expect(composeGrace).toBeGreaterThanOrEqual(daemonGrace + 10_000);
  });

  it('starts the sidecar once MySQL is healthy, and keeps it running', () => {
    expect(sidecar.depends_on).toEqual({ mysql: { condition: 'service_healthy' } });
    expect(sidecar.restart).toBe('unless-stopped');
    expect(compose.services.mysql!.healthcheck!.test.join(' ')).toContain('mysqladmin ping');
    expect(compose.services.mysql!.image).toMatch(/^mysql:8\.0\.\d+-debian$/);
  });

  it('lets Prometheus scrape the sidecar by service name and port, with the rules beside its config', () => {
    const prometheus = parseYaml(read('config/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
    };
    expect(prometheus.scrape_configs[0]!.static_configs[0]!.targets).toEqual([`mysql-backup:${DEFAULT_HTTP_PORT}`]);
    const mounts = compose.services.prometheus!.volumes!;
    expect(mounts).toContain('./config/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
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

  it('builds in one stage and runs from a slim one, pinned, never :latest', () => {
    const stages = instructions('FROM');
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/-slim AS build$/);
    expect(stages[1]).toMatch(/-slim$/);
    expect(dockerfile).not.toMatch(/:latest\b/);
  });

  it('builds the way CI does', () => {
    expect(instructions('RUN').some((r) => r.includes('npm run build'))).toBe(true);
    expect(read('.ci/run')).toMatch(/^npm run build$/m);
    expect(read('package.json')).toContain('"build": "tsc -p tsconfig.build.json"');
  });

  it('exposes the default port and checks health on a route the daemon serves', () => {
    expect(instructions('EXPOSE')).toEqual([String(DEFAULT_HTTP_PORT)]);
    const healthcheck = instructions('HEALTHCHECK').join(' ');
    const route = /127\.0\.0\.1:' \+ \(process\.env\.HTTP_PORT \|\| (\d+)\) \+ '(\/\w+)'/.exec(healthcheck);
    expect(route?.[1]).toBe(String(DEFAULT_HTTP_PORT));
    expect(ROUTES).toContain(route?.[2]);
  });

  it('runs as a non-root user, with signals reaching node (exec form), the daemon by default', () => {
    expect(instructions('USER')).toEqual(['node']);
    const entrypoint = JSON.parse(instructions('ENTRYPOINT')[0]!) as string[];
    expect(entrypoint).toEqual(['tini', '--', 'node', '/app/dist/cli.js']);
    const command = JSON.parse(instructions('CMD')[0]!) as string[];
    expect(Object.keys(COMMANDS)).toContain(command[0]);
  });

  it('installs the client tools of the server it dumps: MySQL by default, MariaDB as a variant', () => {
    expect(dockerfile).toMatch(/^ARG CLIENT_FLAVOUR=mysql$/m);
    expect(dockerfile).toMatch(/^ARG MYSQL_VERSION=8\.0\.\d+$/m);
    expect(compose.services.mysql!.image).toContain(/^ARG MYSQL_VERSION=(.+)$/m.exec(dockerfile)![1]!);
    expect(dockerfile).toContain('mysql-community-client=${MYSQL_VERSION}');
    expect(dockerfile).toContain('mariadb) apt-get install -y --no-install-recommends mariadb-client');
  });

  it('leaves the repository state out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['.git', 'node_modules', '.env', 'container-volumes']) expect(ignored).toContain(entry);
  });
});

describe('the repository', () => {
  it('keeps real secrets, .env, backups and the MySQL data out of git', async () => {
    const paths = [
      '.env',
      'container-volumes/docker-secrets/mysql/.my.cnf',
      'container-volumes/backup/mysql/full_dump_20260101_000000.sql.gz',
      'container-volumes/mysql/data/ibdata1',
    ];
    const { stdout } = await execa('git', ['check-ignore', ...paths], { cwd: ROOT });
    expect(stdout.split('\n')).toEqual(paths);
  });

  it('the init script creates the backup account with the password quoted for SQL', async () => {
    const script = path.join(ROOT, 'container-volumes/mysql/initdb.d/10-backup-account.sh');
    // The MySQL image's entrypoint sources the script with docker_process_sql defined.
    const { stdout } = await execa('bash', ['-c', `docker_process_sql() { cat; }; source "${script}"`], {
      env: { PATH: process.env.PATH, BACKUP_DB_PASSWORD: String.raw`it's a \ test` },
      extendEnv: false,
    });
    expect(stdout).toContain(String.raw`IDENTIFIED BY 'it''s a \\ test';`);
    expect(stdout).toContain("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, PROCESS, RELOAD, REPLICATION CLIENT ON *.* TO 'backup'@'%';");
  });
});
