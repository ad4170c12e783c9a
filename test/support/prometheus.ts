import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { makeTempDir } from './cli.js';
import { freePort } from './mysql-server.js';

const ALERTS = path.resolve(import.meta.dirname, '../../config/alerts.yml');

export interface TestPrometheus {
  /** Instant query through the HTTP API; the result vector. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus (Debian's package) on loopback scraping `target` every second, with the
 * project's alert rules evaluated every second, in a data directory of its own.
 */
export async function startPrometheus(target: string): Promise<TestPrometheus> {
  const dir = await makeTempDir('mbs-prometheus-');
  await copyFile(ALERTS, path.join(dir, 'alerts.yml'));
  await writeFile(
    path.join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'rule_files: [alerts.yml]',
      'scrape_configs:',
      `  - { job_name: mysql-backup, static_configs: [ { targets: ['${target}'] } ] }`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = execa(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { reject: false, stdio: 'ignore' },
  );
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`${base}/-/ready`).then((r) => r.ok).catch(() => false))) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error('Prometheus did not become ready');
    await sleep(200);
  }
  return {
    async query(expr) {
      const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as { status: string; data: { result: [] } };
      if (body.status !== 'success') throw new Error(`query ${expr} failed: ${JSON.stringify(body)}`);
      return body.data.result;
    },
    async stop() {
      server.kill('SIGTERM');
      await server;
    },
  };
}

/** Polls `expr` until its first value satisfies `done`. */
export async function waitForQuery(
  prometheus: TestPrometheus,
  expr: string,
  done: (value: number) => boolean,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: number | undefined;
  while (Date.now() < deadline) {
    const [first] = await prometheus.query(expr);
    last = first ? Number(first.value[1]) : undefined;
    if (last !== undefined && done(last)) return last;
    await sleep(500);
  }
  throw new Error(`${expr} did not reach the expected value within ${timeoutMs} ms (last ${last})`);
}
