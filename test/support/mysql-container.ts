import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execaSync } from 'execa';
import { MySqlContainer, type StartedMySqlContainer } from '@testcontainers/mysql';
import mysql, { type ConnectionOptions, type RowDataPacket } from 'mysql2/promise';
import { getContainerRuntimeClient } from 'testcontainers';
import { queryOnce, type TestServer, type TestServerOptions } from './mysql-server.js';

const ROOT_PASSWORD = 'root-test-password';

/**
 * The TestServer as a container (e.g. mysql:8.0), for machines with a Docker engine. It exercises
 * the MySQL 8 path the local MariaDB cannot; the rest of the suite does not know the difference.
 */
export async function startContainerServer(image: string, options: TestServerOptions): Promise<TestServer> {
  return new ContainerServer(await startContainer(image, options), image, options);
}

function startContainer(image: string, options: TestServerOptions): Promise<StartedMySqlContainer> {
  const binlog = options.binlog ?? true;
  return new MySqlContainer(image)
    .withRootPassword(ROOT_PASSWORD)
    .withCommand(binlog ? ['--server-id=1', '--log-bin=binlog'] : ['--skip-log-bin'])
    .start();
}

class ContainerServer implements TestServer {
  readonly flavour: 'mariadb' | 'mysql';
  /** The client tools on PATH: with a container, matching them to the image is the caller's job. */
  readonly clientDir = path.dirname(execaSync('sh', ['-c', 'command -v mysql']).stdout);

  constructor(
    private container: StartedMySqlContainer,
    private readonly image: string,
    private readonly options: TestServerOptions,
  ) {
    this.flavour = /mariadb/i.test(image) ? 'mariadb' : 'mysql';
  }

  /** A new empty container replaces this one; its mapped port may differ, so host and port are read anew. */
  async wipe(): Promise<void> {
    await this.container.stop();
    this.container = await startContainer(this.image, this.options);
  }

  get host(): string {
    return this.container.getHost();
  }

  get port(): number {
    return this.container.getPort();
  }

  adminConnection(): ConnectionOptions {
    return { host: this.host, port: this.port, user: 'root', password: ROOT_PASSWORD, multipleStatements: true };
  }

  adminOverTcp(): { user: string; password: string } {
    return { user: 'root', password: ROOT_PASSWORD };
  }

  adminClient(): { command: string; args: string[]; env: Record<string, string> } {
    return {
      command: path.join(this.clientDir, 'mysql'),
      args: ['--no-defaults', `--host=${this.host}`, `--port=${this.port}`, '--protocol=TCP', '--user=root'],
      env: { MYSQL_PWD: ROOT_PASSWORD },
    };
  }

  query<T extends RowDataPacket[] = RowDataPacket[]>(sql: string, values?: unknown[]): Promise<T> {
    return queryOnce<T>(this.adminConnection(), sql, values);
  }

  async kill(): Promise<void> {
    // SIGKILL from inside the container would be ignored by PID 1; the engine delivers it.
    const client = await getContainerRuntimeClient();
    await client.container.getById(this.container.getId()).kill({ signal: 'SIGKILL' });
  }

  async freeze(): Promise<void> {
    const client = await getContainerRuntimeClient();
    await client.container.getById(this.container.getId()).pause();
  }

  async thaw(): Promise<void> {
    const client = await getContainerRuntimeClient();
    await client.container.getById(this.container.getId()).unpause();
  }

  async restart(): Promise<void> {
    await this.container.restart();
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      try {
        await (await mysql.createConnection(this.adminConnection())).end();
        return;
      } catch {
        await sleep(250);
      }
    }
    throw new Error(`${this.container.getId()} did not answer after restart`);
  }

  async stop(): Promise<void> {
    await this.container.stop();
  }
}
