import { execa } from 'execa';
import type { TestServer } from '../../test/support/mysql-server.js';
import { sysbenchConnection } from './scratch.js';

export interface OltpResult {
  readonly transactionsPerSecond: number;
  readonly p95LatencyMs: number;
}

/** Connections of the live workload: one per core, as busy as the machine lets them be. */
const OLTP_THREADS = 2;

/**
 * sysbench `oltp_read_write` for `seconds` against the tables `loadSysbenchData` made: point and
 * range selects, updates, a delete and an insert per transaction, the textbook OLTP mix.
 */
export async function runOltp(server: TestServer, database: string, seconds: number): Promise<OltpResult> {
  const { stdout } = await execa('sysbench', [
    'oltp_read_write',
    ...sysbenchConnection(server, database),
    `--threads=${OLTP_THREADS}`,
    `--time=${seconds}`,
    '--percentile=95',
    'run',
  ]);
  return parseSysbench(stdout);
}

/**
 * The workload for `seconds` with `dump` started again and again for as long as it runs, so the
 * whole window is spent beside a backup. Returns the workload's figures and each dump's wall time.
 */
export async function runOltpDuring<T>(
  server: TestServer,
  database: string,
  seconds: number,
  dump: () => Promise<T>,
): Promise<{ oltp: OltpResult; dumps: T[] }> {
  let running = true;
  const workload = runOltp(server, database, seconds).finally(() => {
    running = false;
  });
  const dumps: T[] = [];
  const loop = (async () => {
    while (running) dumps.push(await dump());
  })();
  const [oltp] = await Promise.all([workload, loop]);
  return { oltp, dumps };
}

export function parseSysbench(stdout: string): OltpResult {
  const tps = /transactions:\s+\d+\s+\(([\d.]+) per sec\.\)/.exec(stdout);
  const p95 = /95th percentile:\s+([\d.]+)/.exec(stdout);
  if (!tps || !p95) throw new Error(`cannot read sysbench's figures from:\n${stdout.slice(-1500)}`);
  return { transactionsPerSecond: Number(tps[1]), p95LatencyMs: Number(p95[1]) };
}
