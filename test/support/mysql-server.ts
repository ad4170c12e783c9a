import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import mysql, { type ConnectionOptions, type RowDataPacket } from 'mysql2/promise';

/**
 * A throwaway MySQL-compatible server a test owns: it may kill it with SIGKILL, restart it on the
 * same data, and it is removed at the end. By default it is the `mariadbd` or `mysqld` on PATH,
 * with a fresh data directory copied from a template and a free port, binary log on. With
 * TEST_MYSQL_IMAGE set (e.g. mysql:8.0) and a Docker engine answering, it is that image instead.
 */
export interface TestServer {
  readonly flavour: 'mariadb' | 'mysql';
  readonly host: string;
  readonly port: number;
  /** mysql2 options for the all-powerful account the fixture administers the server with. */
  adminConnection(): ConnectionOptions;
  /** Arguments and environment for the `mysql` command-line client as that account. */
  adminClient(): { args: string[]; env: Record<string, string> };
  /** The same account over TCP, as `restore --defaults-file` gets it. */
  adminOverTcp(): { user: string; password: string };
  query<T extends RowDataPacket[] = RowDataPacket[]>(sql: string, values?: unknown[]): Promise<T>;
  /** SIGKILL, as a crash or `docker kill` would. */
  kill(): Promise<void>;
  /** Start again on the same data directory and port; InnoDB recovers what it must. */
  restart(): Promise<void>;
  /** Kill, wipe the data directory and start an empty server in its place (same address). */
  wipe(): Promise<void>;
  /** SIGSTOP: the server hangs, connections stay open and nothing answers. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  readonly binlog?: boolean;
  /** 64 by default: tests hold little data. The benchmark holds gigabytes and wants more. */
  readonly bufferPoolMiB?: number;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const image = process.env.TEST_MYSQL_IMAGE;
  if (image) {
    const { startContainerServer } = await import('./mysql-container.js');
    return startContainerServer(image, options);
  }
  return LocalServer.start(options);
}

const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/mysql/bin'];
const READY_TIMEOUT_MS = 60_000;
const IS_ROOT = process.getuid?.() === 0;

class LocalServer implements TestServer {
  readonly host = '127.0.0.1';
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly flavour: 'mariadb' | 'mysql',
    private readonly binary: string,
    private readonly dir: string,
    readonly port: number,
    private readonly binlog: boolean,
    private readonly bufferPoolMiB: number,
  ) {}

  static async start(options: TestServerOptions): Promise<LocalServer> {
    const { binary, flavour } = await findServerBinary();
    const template = await ensureTemplateDatadir(binary, flavour);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-test-server-'));
    await cp(template, path.join(dir, 'data'), { recursive: true });
    await mkdir(path.join(dir, 'tmp'));
    const server = new LocalServer(flavour, binary, dir, await freePort(), options.binlog ?? true, options.bufferPoolMiB ?? 64);
    LIVE.add(server);
    try {
      await server.#launch();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  get socket(): string {
    return path.join(this.dir, 'mysql.sock');
  }

  adminConnection(): ConnectionOptions {
    return { socketPath: this.socket, user: 'root', password: '', multipleStatements: true };
  }

  adminClient(): { args: string[]; env: Record<string, string> } {
    return { args: ['--no-defaults', `--socket=${this.socket}`, '--user=root'], env: {} };
  }

  adminOverTcp(): { user: string; password: string } {
    // mariadb-install-db creates root@127.0.0.1 with the same empty password as root@localhost.
    return { user: 'root', password: '' };
  }

  query<T extends RowDataPacket[] = RowDataPacket[]>(sql: string, values?: unknown[]): Promise<T> {
    return queryOnce<T>(this.adminConnection(), sql, values);
  }

  async kill(): Promise<void> {
    this.#process?.kill('SIGKILL');
    // A stopped process takes SIGKILL too, but only acts on it once continued.
    this.#process?.kill('SIGCONT');
    await this.#exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.#launch();
  }

  async freeze(): Promise<void> {
    this.#process?.kill('SIGSTOP');
  }

  async thaw(): Promise<void> {
    this.#process?.kill('SIGCONT');
  }

  async wipe(): Promise<void> {
    await this.kill();
    const data = path.join(this.dir, 'data');
    await rm(data, { recursive: true, force: true });
    await cp(await ensureTemplateDatadir(this.binary, this.flavour), data, { recursive: true });
    await this.#launch();
  }

  async stop(): Promise<void> {
    LIVE.delete(this);
    if (this.#process && this.#process.exitCode === null && this.#process.signalCode === null) {
      this.#process.kill('SIGTERM');
      const stopped = await Promise.race([this.#exited.then(() => true), sleep(20_000).then(() => false)]);
      if (!stopped) await this.kill();
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  async #launch(): Promise<void> {
    const data = path.join(this.dir, 'data');
    const args = [
      '--no-defaults',
      `--datadir=${data}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--socket=${this.socket}`,
      `--pid-file=${path.join(this.dir, 'mysqld.pid')}`,
      `--log-error=${path.join(this.dir, 'error.log')}`,
      // A server starting deletes every #sql* file in its tmpdir as its own leftovers: with a
      // shared /tmp, each test server started would pull the temp tables from under the others.
      `--tmpdir=${path.join(this.dir, 'tmp')}`,
      '--server-id=1',
      '--skip-name-resolve',
      `--innodb-buffer-pool-size=${this.bufferPoolMiB}M`,
      ...INNODB_SMALL_LOG,
      ...(this.binlog ? [`--log-bin=${path.join(data, 'binlog')}`] : this.flavour === 'mysql' ? ['--skip-log-bin'] : []),
      ...(IS_ROOT ? ['--user=root'] : []),
    ];
    const child = spawn(this.binary, args, { stdio: 'ignore' });
    this.#process = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      try {
        await (await mysql.createConnection(this.adminConnection())).end();
        return;
      } catch {
        await sleep(100);
      }
    }
    const log = await readFile(path.join(this.dir, 'error.log'), 'utf8').catch(() => '');
    throw new Error(`${this.binary} did not start on port ${this.port}:\n${log.split('\n').slice(-20).join('\n')}`);
  }
}

/** One statement on a connection of its own, so a test may kill the server between any two. */
export async function queryOnce<T extends RowDataPacket[]>(options: ConnectionOptions, sql: string, values?: unknown[]): Promise<T> {
  const connection = await mysql.createConnection(options);
  try {
    const [rows] = await connection.query<T>(sql, values);
    return rows;
  } finally {
    await connection.end();
  }
}

/** A small redo log keeps the template (and every copy of it) at tens of MB, not over 100. */
const INNODB_SMALL_LOG = ['--innodb-log-file-size=8M'];

const LIVE = new Set<LocalServer>();
// A test that dies must not leave servers running: kill what is left when the worker exits.
process.once('exit', () => {
  for (const server of LIVE) void server.kill();
});

async function findServerBinary(): Promise<{ binary: string; flavour: 'mariadb' | 'mysql' }> {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...SBIN_DIRS];
  for (const name of ['mariadbd', 'mysqld']) {
    const binary = dirs.map((d) => path.join(d, name)).find((candidate) => existsSync(candidate));
    if (!binary) continue;
    const { stdout } = await execa(binary, ['--version']);
    return { binary, flavour: /mariadb/i.test(stdout) ? 'mariadb' : 'mysql' };
  }
  throw new Error('no mariadbd or mysqld found on PATH or in /usr/sbin: install mariadb-server (apt-get install mariadb-server)');
}

/**
 * Initialising a data directory takes seconds; doing it once per server version and copying the
 * result makes a fresh server cost a copy of a few tens of MB. Built aside and renamed into place,
 * so parallel test workers never see a half-built template.
 */
async function ensureTemplateDatadir(binary: string, flavour: 'mariadb' | 'mysql'): Promise<string> {
  const { stdout: version } = await execa(binary, ['--version']);
  const key = version.replace(/[^A-Za-z0-9.]+/g, '-').slice(0, 80);
  const template = path.join(os.tmpdir(), `mbs-test-template-${key}`);
  if (existsSync(template)) return template;

  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mbs-test-init-'));
  const data = path.join(scratch, 'data');
  await mkdir(data);
  const user = IS_ROOT ? ['--user=root'] : [];
  const tmpdir = `--tmpdir=${scratch}`;
  if (flavour === 'mariadb') {
    const installer = ['mariadb-install-db', 'mysql_install_db'].find((n) =>
      [...(process.env.PATH ?? '').split(':'), ...SBIN_DIRS].some((d) => existsSync(path.join(d, n))),
    );
    if (!installer) throw new Error('mariadb-install-db not found: install mariadb-server');
    await execa(installer, [
      '--no-defaults',
      `--datadir=${data}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...INNODB_SMALL_LOG,
      tmpdir,
      ...user,
    ]);
  } else {
    await execa(binary, ['--no-defaults', '--initialize-insecure', `--datadir=${data}`, tmpdir, ...user]);
  }
  try {
    await rename(data, template);
  } catch (error) {
    // Another worker finished first; its template is as good as ours.
    if (!existsSync(template)) throw error;
  }
  await rm(scratch, { recursive: true, force: true });
  return template;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
