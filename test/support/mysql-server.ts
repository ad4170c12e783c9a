import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import mysql, { type ConnectionOptions, type RowDataPacket } from 'mysql2/promise';

export type Flavour = 'mariadb' | 'mysql';

/**
 * A throwaway MySQL-compatible server a test owns: it may kill it with SIGKILL, restart it on the
 * same data, and it is removed at the end, with a fresh data directory copied from a template and
 * a free port, binary log on. Two flavours, chosen by TEST_SERVER_FLAVOUR (the vitest project sets
 * it): `mariadb`, the `mariadbd` on PATH (Debian's MariaDB 10.11), and `mysql`, real MySQL from
 * Debian's unstable suite in the root scripts/mysql-root.sh caches (9.7 today), GTIDs on. With
 * TEST_MYSQL_IMAGE set (e.g. mysql:8.0) and a Docker engine answering, it is that image instead.
 */
export interface TestServer {
  readonly flavour: Flavour;
  readonly host: string;
  readonly port: number;
  /** The directory holding the client tools of the server's own family (mysql, mysqldump, ...). */
  readonly clientDir: string;
  /** mysql2 options for the all-powerful account the fixture administers the server with. */
  adminConnection(): ConnectionOptions;
  /** The `mysql` command-line client of the server's family, with arguments and environment, as that account. */
  adminClient(): { command: string; args: string[]; env: Record<string, string> };
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
  /** TEST_SERVER_FLAVOUR, or mariadb when unset. */
  readonly flavour?: Flavour;
  /** On by default; on MySQL, GTIDs go with it (gtid_mode=ON, MySQL 9's default), and off with it. */
  readonly binlog?: boolean;
  /** 64 by default: tests hold little data. The benchmark holds gigabytes and wants more. */
  readonly bufferPoolMiB?: number;
  /** The server's certificate, its key and CA (PEM files); with them it accepts TCP only over TLS. */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const image = process.env.TEST_MYSQL_IMAGE;
  if (image) {
    const { startContainerServer } = await import('./mysql-container.js');
    return startContainerServer(image, options);
  }
  return LocalServer.start(options);
}

/** Where the client tools of `flavour` are: a test hands the other family's to check the refusal. */
export async function clientDirOf(flavour: Flavour): Promise<string> {
  return (await findDistribution(flavour)).clientDir;
}

/** The flavour this test process runs against: each vitest project sets TEST_SERVER_FLAVOUR. */
export function testFlavour(): Flavour {
  const flavour = process.env.TEST_SERVER_FLAVOUR ?? 'mariadb';
  if (flavour !== 'mariadb' && flavour !== 'mysql') throw new Error(`TEST_SERVER_FLAVOUR=${flavour}: expected mariadb or mysql`);
  return flavour;
}

const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/mysql/bin'];
const READY_TIMEOUT_MS = 60_000;
const IS_ROOT = process.getuid?.() === 0;

class LocalServer implements TestServer {
  readonly host = '127.0.0.1';
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  private constructor(
    private readonly distribution: Distribution,
    private readonly dir: string,
    readonly port: number,
    private readonly binlog: boolean,
    private readonly bufferPoolMiB: number,
    private readonly tls: TestServerOptions['tls'],
  ) {}

  static async start(options: TestServerOptions): Promise<LocalServer> {
    const distribution = await findDistribution(options.flavour ?? testFlavour());
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-test-server-'));
    await copyTemplateDatadir(distribution, path.join(dir, 'data'));
    await mkdir(path.join(dir, 'tmp'));
    const server = new LocalServer(distribution, dir, await freePort(), options.binlog ?? true, options.bufferPoolMiB ?? 64, options.tls);
    LIVE.add(server);
    try {
      await server.#launch();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  get flavour(): Flavour {
    return this.distribution.flavour;
  }

  get clientDir(): string {
    return this.distribution.clientDir;
  }

  get socket(): string {
    return path.join(this.dir, 'mysql.sock');
  }

  adminConnection(): ConnectionOptions {
    return { socketPath: this.socket, user: 'root', password: '', multipleStatements: true };
  }

  adminClient(): { command: string; args: string[]; env: Record<string, string> } {
    return { command: path.join(this.clientDir, 'mysql'), args: ['--no-defaults', `--socket=${this.socket}`, '--user=root'], env: {} };
  }

  adminOverTcp(): { user: string; password: string } {
    // Both templates have root@127.0.0.1 with the same empty password as root@localhost.
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
    await copyTemplateDatadir(this.distribution, data);
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
      ...smallRedoLog(this.flavour),
      ...(this.binlog ? [`--log-bin=${path.join(data, 'binlog')}`] : this.flavour === 'mysql' ? ['--skip-log-bin'] : []),
      ...(this.flavour === 'mysql' ? mysqlOnlyArgs(this.distribution, this.dir, this.binlog) : []),
      ...(IS_ROOT ? ['--user=root'] : []),
      // The fixture's own admin connection uses the socket, which counts as secure transport.
      ...(this.tls ? [`--ssl-ca=${this.tls.ca}`, `--ssl-cert=${this.tls.cert}`, `--ssl-key=${this.tls.key}`, '--require-secure-transport=ON'] : []),
    ];
    const child = spawn(this.distribution.serverBinary, args, { stdio: 'ignore' });
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
    throw new Error(`${this.distribution.serverBinary} did not start on port ${this.port}:\n${log.split('\n').slice(-20).join('\n')}`);
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

/**
 * Every server's data directory is a copy of the template, less MySQL's auto.cnf: without it the
 * server makes itself a new server_uuid, as a freshly installed one has, so that two servers (or
 * one before and after a wipe) are not the same server to whoever tells them apart by it.
 */
async function copyTemplateDatadir(distribution: Distribution, data: string): Promise<void> {
  await cp(await ensureTemplateDatadir(distribution), data, { recursive: true });
  await rm(path.join(data, 'auto.cnf'), { force: true });
}

/**
 * A small redo log keeps the template (and every copy of it) at tens of MB, not over 100. MySQL
 * replaced innodb_log_file_size with innodb_redo_log_capacity in 8.0.30.
 */
const smallRedoLog = (flavour: Flavour) => [flavour === 'mysql' ? '--innodb-redo-log-capacity=8M' : '--innodb-log-file-size=8M'];

const LIVE = new Set<LocalServer>();
// A test that dies must not leave servers running: kill what is left when the worker exits.
process.once('exit', () => {
  for (const server of LIVE) void server.kill();
});

/** Where one flavour's server and client tools are. */
interface Distribution {
  readonly flavour: Flavour;
  readonly serverBinary: string;
  /** Options the server needs before any other, after --no-defaults. */
  readonly serverBaseArgs: readonly string[];
  readonly clientDir: string;
  /** The server's `--version` line: templates are made per version. */
  readonly version: string;
}

/** Where scripts/mysql-root.sh (run by `npm test`'s pretest) caches the MySQL root. */
const MYSQL_ROOT = process.env.MYSQL_ROOT ?? '/var/cache/mysql-backup-sidecar/mysql-root';

async function findDistribution(flavour: Flavour): Promise<Distribution> {
  return flavour === 'mysql' ? mysqlDistribution() : mariadbDistribution();
}

async function mariadbDistribution(): Promise<Distribution> {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...SBIN_DIRS];
  const serverBinary = ['mariadbd', 'mysqld'].flatMap((name) => dirs.map((d) => path.join(d, name))).find((candidate) => existsSync(candidate));
  const client = dirs.map((d) => path.join(d, 'mysql')).find((candidate) => existsSync(candidate));
  if (!serverBinary || !client) {
    throw new Error('no mariadbd (and mysql client) found on PATH or in /usr/sbin: install mariadb-server and mariadb-client');
  }
  const { stdout: version } = await execa(serverBinary, ['--version']);
  if (!/mariadb/i.test(version)) throw new Error(`${serverBinary} is not MariaDB (${version}); TEST_SERVER_FLAVOUR=mysql runs MySQL`);
  return { flavour: 'mariadb', serverBinary, serverBaseArgs: [], clientDir: path.dirname(client), version };
}

async function mysqlDistribution(): Promise<Distribution> {
  const clientDir = path.join(MYSQL_ROOT, 'bin-host');
  const serverBinary = path.join(clientDir, 'mysqld');
  if (!existsSync(serverBinary)) {
    throw new Error(`no MySQL test root at ${MYSQL_ROOT}: build it with scripts/mysql-root.sh (as root; npm test does it)`);
  }
  const { stdout: version } = await execa(serverBinary, ['--version']);
  const usr = path.join(MYSQL_ROOT, 'usr');
  return {
    flavour: 'mysql',
    serverBinary,
    // The binary runs from the root, not from /usr: tell it where its messages and plugins are.
    serverBaseArgs: [`--basedir=${usr}`, `--lc-messages-dir=${path.join(usr, 'share/mysql')}`, `--plugin-dir=${path.join(usr, 'lib/mysql/plugin')}`],
    clientDir,
    version,
  };
}

function mysqlOnlyArgs(distribution: Distribution, dir: string, binlog: boolean): string[] {
  return [
    ...distribution.serverBaseArgs,
    // The X protocol would listen on 33060 in every test server at once.
    '--mysqlx=OFF',
    // Its compiled-in default (/var/lib/mysql-files) does not exist here, and the server refuses to start.
    `--secure-file-priv=${path.join(dir, 'tmp')}`,
    // MySQL 9 turns GTIDs on by default; a server without a binary log here has them off too.
    ...(binlog ? ['--gtid-mode=ON', '--enforce-gtid-consistency=ON'] : ['--gtid-mode=OFF', '--enforce-gtid-consistency=OFF']),
  ];
}

/**
 * Initialising a data directory takes seconds; doing it once per server version and copying the
 * result makes a fresh server cost a copy of a few tens of MB. Built aside and renamed into place,
 * so parallel test workers never see a half-built template.
 */
async function ensureTemplateDatadir(distribution: Distribution): Promise<string> {
  const key = distribution.version.replace(/[^A-Za-z0-9.]+/g, '-').slice(-80);
  const template = path.join(os.tmpdir(), `mbs-test-template-${key}`);
  if (existsSync(template)) return template;

  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mbs-test-init-'));
  const data = path.join(scratch, 'data');
  await mkdir(data);
  const user = IS_ROOT ? ['--user=root'] : [];
  const tmpdir = `--tmpdir=${scratch}`;
  if (distribution.flavour === 'mariadb') {
    const installer = ['mariadb-install-db', 'mysql_install_db'].find((n) =>
      [...(process.env.PATH ?? '').split(':'), ...SBIN_DIRS].some((d) => existsSync(path.join(d, n))),
    );
    if (!installer) throw new Error('mariadb-install-db not found: install mariadb-server');
    await execa(installer, [
      '--no-defaults',
      `--datadir=${data}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...smallRedoLog('mariadb'),
      tmpdir,
      ...user,
    ]);
  } else {
    // MySQL creates only root@localhost, which over TCP with --skip-name-resolve matches nothing.
    const initFile = path.join(scratch, 'init.sql');
    await writeFile(initFile, "CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY '';\nGRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n");
    await execa(distribution.serverBinary, [
      '--no-defaults',
      ...distribution.serverBaseArgs,
      '--initialize-insecure',
      `--init-file=${initFile}`,
      `--datadir=${data}`,
      ...smallRedoLog('mysql'),
      tmpdir,
      ...user,
    ]);
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
