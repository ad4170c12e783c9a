import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, type TestServer } from '../../test/support/mysql-server.js';
import { BINLOG_GRANTS } from '../../test/support/sample-data.js';
import { inScratchDir } from './contenders.js';
import { startBenchDaemon } from './daemon.js';
import { runOltp, type OltpResult } from './oltp.js';
import { BACKUP_ACCOUNT } from './scratch.js';

export interface BinlogLagResult {
  readonly seconds: number;
  readonly samples: number;
  /** now - binlog_recoverable_until_timestamp_seconds at each sample: what a disaster then would lose. */
  readonly recoveryPointSeconds: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly lagBytes: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly restarts: number;
  readonly gaps: number;
  readonly oltpAlone: OltpResult;
  readonly oltpWithArchive: OltpResult;
}

const SAMPLE_EVERY_MS = 250;

/**
 * The archive under a steady write load: the daemon streams while sysbench oltp_read_write runs,
 * and /metrics is read every 250 ms for how far behind the archive is, in bytes and in time.
 * The same workload alone first, for what streaming costs the database.
 */
export async function measureBinlogLag(server: TestServer, database: string, seconds: number): Promise<BinlogLagResult> {
  await archiveOnlyWhatFollows(server);
  const oltpAlone = await runOltp(server, database, seconds);
  return inScratchDir(async (dir) => {
    const port = await freePort();
    const daemon = startBenchDaemon(server, dir, port, { BINLOG_ARCHIVE: 'true', BACKUP_ON_START: 'false' });
    const metricsUrl = `http://127.0.0.1:${port}/metrics`;
    try {
      await waitForStream(metricsUrl);
      const rpo: number[] = [];
      const lag: number[] = [];
      let sampling = true;
      const workload = runOltp(server, database, seconds).finally(() => (sampling = false));
      while (sampling) {
        const metrics = await scrapeBinlog(metricsUrl);
        if (metrics.recoverableUntil > 0) rpo.push(Date.now() / 1000 - metrics.recoverableUntil);
        if (metrics.lagBytes >= 0) lag.push(metrics.lagBytes);
        await sleep(SAMPLE_EVERY_MS);
      }
      const oltpWithArchive = await workload;
      const last = await scrapeBinlog(metricsUrl);
      return { seconds, samples: rpo.length, recoveryPointSeconds: summarise(rpo), lagBytes: summarise(lag), restarts: last.restarts, gaps: last.gaps, oltpAlone, oltpWithArchive };
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });
}

/** The backup account may stream, and the server's binary log holds only what the workload writes next: not the gigabytes the data load left. */
export async function archiveOnlyWhatFollows(server: TestServer): Promise<void> {
  await server.query(`GRANT ${BINLOG_GRANTS[server.flavour]} ON *.* TO ?@?`, [BACKUP_ACCOUNT.user, '%']);
  await server.query('FLUSH BINARY LOGS');
  const [current] = (await server.query('SHOW BINARY LOGS')).slice(-1);
  await server.query(`PURGE BINARY LOGS TO '${String(current!.Log_name)}'`);
}

export async function waitForStream(metricsUrl: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await scrapeBinlog(metricsUrl).catch(() => null))?.up) return;
    await sleep(200);
  }
  throw new Error('the binlog archive did not start streaming within a minute');
}

export async function scrapeBinlog(metricsUrl: string) {
  const text = await (await fetch(metricsUrl)).text();
  const value = (pattern: RegExp) => [...text.matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
  return {
    up: value(/^mysql_backup_binlog_streamer_up (\S+)$/gm) === 1,
    recoverableUntil: value(/^mysql_backup_binlog_recoverable_until_timestamp_seconds (\S+)$/gm),
    lagBytes: value(/^mysql_backup_binlog_lag_bytes (\S+)$/gm),
    restarts: value(/^mysql_backup_binlog_restarts_total\{[^}]*\} (\S+)$/gm),
    gaps: value(/^mysql_backup_binlog_gaps_total (\S+)$/gm),
  };
}

function summarise(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}
