import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { locateBackup } from '../../src/backup/locate.js';
import { type Compression, DEFAULTS } from '../../src/config/schema.js';
import { freePort, type TestServer } from '../../test/support/mysql-server.js';
import { archiveOnlyWhatFollows, scrapeBinlog, waitForStream } from './binlog-lag.js';
import { bareRestore, CLI, DECOMPRESS, inScratchDir, productEnv, quote } from './contenders.js';
import { startBenchDaemon, waitForStoredBackup } from './daemon.js';
import { measure, measurePipeline, type Usage } from './measure.js';
import { runOltp } from './oltp.js';

export interface PointInTimeResult {
  /** Seconds of sysbench oltp_read_write between the dump and the target. */
  readonly oltpSeconds: number;
  readonly transactions: number;
  /** What the dry run says the replay reads, as it prints it ("12.3 MiB"). */
  readonly binlogToReplay: string;
  /** The same dump with the stock tools: decompressor into mysql. */
  readonly bareRestore: Usage;
  /** The dump and then the plan's binary logs by hand, in one mysql session: (zstd -dc; mysqlbinlog) | mysql. */
  readonly bareRestoreTo: Usage;
  /** `restore --to`: dump verified and restored, binary logs verified and replayed, in one client session. */
  readonly restoreTo: Usage;
}

/**
 * Restore to a point against a plain restore of the same dump: the daemon takes a dump and
 * streams the binary log while sysbench writes for `seconds`; then, into `target`, the dump alone
 * with zstd -dc | mysql; the dump and the same binary logs by hand through mysqlbinlog; and
 * `restore --to` the end of the writes (--force: the target is the archive's end).
 */
export async function measurePointInTime(source: TestServer, targetOptions: string, database: string, seconds: number): Promise<PointInTimeResult> {
  await archiveOnlyWhatFollows(source);
  return inScratchDir(async (dir) => {
    const port = await freePort();
    const metricsUrl = `http://127.0.0.1:${port}/metrics`;
    const daemon = startBenchDaemon(source, dir, port, { BINLOG_ARCHIVE: 'true', BACKUP_ON_START: 'true' });
    try {
      await waitForStoredBackup(metricsUrl);
      await waitForStream(metricsUrl);
      await runOltp(source, database, seconds);
      await waitForArchiveToCatchUp(metricsUrl);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
    const to = `${new Date().toISOString().slice(0, 19).replace('T', ' ')}+00:00`;
    const env = productEnv(source, dir);
    const restoreArgs = [CLI, 'restore', '--to', to, '--force', `--defaults-file=${targetOptions}`];
    const plan = await execa(process.execPath, [...restoreArgs, '--dry-run'], { cwd: dir, env, extendEnv: false });
    const replay = /replay: +\S+:(\d+) to \S+:(\d+), (\d+) transactions?/.exec(plan.stdout);
    const binlogs = /binlogs: +(.*) in (\S+) \(([\d.]+ MiB) to replay\)/.exec(plan.stdout);
    if (!replay || !binlogs) throw new Error(`restore --dry-run printed no plan:\n${plan.stdout}`);
    const files = binlogs[1]!.replace(/ \(not sealed yet[^)]*\)/g, '').split(', ').map((name) => path.join(binlogs[2]!, name));
    const compression = DEFAULTS.BACKUP_COMPRESSION as Compression;
    const dump = await locateBackup(dir, 'latest');
    const bare = await bareRestore(dump, targetOptions, compression);
    const byHand = `mysqlbinlog --start-position=${replay[1]} --stop-position=${replay[2]} ${files.map(quote).join(' ')}`;
    const bareRestoreTo = await measurePipeline(`(${DECOMPRESS[compression]} ${quote(dump)}; echo; ${byHand}) | mysql --defaults-file=${quote(targetOptions)}`);
    const restoreTo = await measure(process.execPath, [...restoreArgs, '--yes'], { cwd: dir, env });
    return { oltpSeconds: seconds, transactions: Number(replay[3]), binlogToReplay: binlogs[3]!, bareRestore: bare, bareRestoreTo, restoreTo };
  });
}

/** The lag metric is refreshed every 5 s: two readings of 0 bytes, that long apart, mean every write is archived. */
async function waitForArchiveToCatchUp(metricsUrl: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  let zeros = 0;
  while (Date.now() < deadline) {
    zeros = (await scrapeBinlog(metricsUrl)).lagBytes === 0 ? zeros + 1 : 0;
    if (zeros >= 2) return;
    await sleep(5_500);
  }
  throw new Error('the binlog archive did not catch up with the server within two minutes');
}
