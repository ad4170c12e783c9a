/**
 * `npm run bench [-- --size small|default|large] [--repeats N] [--oltp-seconds N] [--binlog-only | --restore-to-time-only]`:
 * the product side by side with bare mysqldump, mydumper and a live OLTP workload, on a scratch
 * server this script starts and removes; then the binlog archive under that workload
 * (`--binlog-only`: that alone, on the small part of the data), and a restore to a point against
 * a plain restore (`--restore-to-time-only`: that alone, on the small part). Prints a Markdown table and writes it, with the raw figures as JSON,
 * to bench/results/.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { locateBackup } from '../src/backup/locate.js';
import { type Compression, COMPRESSION_LEVELS, DEFAULTS } from '../src/config/schema.js';
import { ADMIN_ACCOUNT, BACKUP_ACCOUNT, loadSysbenchData, type ScratchServers, startScratchServers, SYSBENCH_TABLES, writeClientOptions } from './lib/scratch.js';
import { bareDump, bareRestore, inScratchDir, manifestIn, mydumper, productBackup, productRestore, productVerify } from './lib/contenders.js';
import { measureBinlogLag } from './lib/binlog-lag.js';
import { measurePointInTime } from './lib/point-in-time.js';
import { daemonPeakRss } from './lib/daemon.js';
import { runOltp, runOltpDuring, type OltpResult } from './lib/oltp.js';
import { type BenchResults, binlogSection, type ContenderRuns, type Machine, pointInTimeSection, writeResults } from './lib/report.js';

/** SQL bytes of data per size; the first fifth is loaded and measured alone for the memory check. */
const SIZES = { small: 100e6, default: 500e6, large: 2000e6 } as const;
type SizeLabel = keyof typeof SIZES;
const SMALL_FRACTION = 0.2;
const RESULTS_DIR = path.resolve(import.meta.dirname, 'results');
const REQUIRED_TOOLS = ['sysbench', 'mydumper', 'mysqldump', 'mysql', 'gzip', 'zstd', '/usr/bin/time'];

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: 'default' },
    repeats: { type: 'string', default: '3' },
    'oltp-seconds': { type: 'string', default: '20' },
    'binlog-only': { type: 'boolean', default: false },
    'restore-to-time-only': { type: 'boolean', default: false },
  },
  strict: true,
});

async function main(): Promise<void> {
  const label = values.size as SizeLabel;
  if (!(label in SIZES)) throw new Error(`--size must be one of ${Object.keys(SIZES).join(', ')}, not ${values.size}`);
  const repeats = positiveInteger(values.repeats, '--repeats');
  const oltpSeconds = positiveInteger(values['oltp-seconds'], '--oltp-seconds');
  const missing = REQUIRED_TOOLS.filter((tool) => !onPath(tool));
  if (missing.length) throw new Error(`missing: ${missing.join(', ')}; run bash scripts/install-system-deps.sh --bench`);

  const startedAt = new Date().toISOString();
  const totalBytes = SIZES[label];
  // Room for all the data, so dumps read memory and not the disk, as on a well-sized server.
  const bufferPoolMiB = Math.min(8192, Math.max(256, Math.ceil((totalBytes * 2) / 2 ** 20)));
  say(`starting two scratch servers (buffer pool ${bufferPoolMiB} MiB)`);
  const servers = await startScratchServers(bufferPoolMiB);
  try {
    if (values['binlog-only']) await binlogOnly(servers, totalBytes * SMALL_FRACTION, oltpSeconds);
    else if (values['restore-to-time-only']) await inScratchDir((dir) => restoreToTimeOnly(servers, dir, totalBytes * SMALL_FRACTION, oltpSeconds));
    else await inScratchDir((dir) => benchmark(servers, dir, { label, totalBytes, repeats, oltpSeconds, startedAt }));
  } finally {
    await servers.stop();
  }
}

interface Plan {
  readonly label: SizeLabel;
  readonly totalBytes: number;
  readonly repeats: number;
  readonly oltpSeconds: number;
  readonly startedAt: string;
}

async function benchmark({ source, target }: ScratchServers, dir: string, plan: Plan): Promise<void> {
  const backupOptions = await writeClientOptions(dir, 'backup.cnf', source, BACKUP_ACCOUNT);
  const adminOptions = await writeClientOptions(dir, 'admin.cnf', source, ADMIN_ACCOUNT);
  const targetOptions = await writeClientOptions(dir, 'target.cnf', target, ADMIN_ACCOUNT);
  const defaultCompression = DEFAULTS.BACKUP_COMPRESSION as Compression;
  const level = (compression: Compression) => (compression === 'none' ? 0 : COMPRESSION_LEVELS[compression].default);

  say(`loading ${(plan.totalBytes * SMALL_FRACTION / 1e6).toFixed(0)} MB of SQL into sbtest_small with sysbench`);
  const small = await loadSysbenchData(source, 'sbtest_small', plan.totalBytes * SMALL_FRACTION);
  const daemonPeak: BenchResults['daemonPeakRss'][number][] = [await daemonMemory(source, defaultCompression, plan.repeats)];

  say(`loading ${(plan.totalBytes * (1 - SMALL_FRACTION) / 1e6).toFixed(0)} MB more into sbtest`);
  const rest = await loadSysbenchData(source, 'sbtest', plan.totalBytes * (1 - SMALL_FRACTION));

  // A first run of each reads every page once; the flags bare mysqldump gets are the product's own.
  say('warming up');
  const { flags, rawBytes: sqlBytes } = await inScratchDir(async (keep) => {
    await productBackup(source, 'none', 0, keep);
    return manifestIn(keep);
  });
  await bareDump(backupOptions, flags, 'none', 0);

  const dumps = await dumpMatrix(plan.repeats, {
    'bare mysqldump > file': ['none', 'bare', () => bareDump(backupOptions, flags, 'none', 0)],
    'bare mysqldump > file && sync file': ['none', 'other', () => bareDump(backupOptions, flags, 'none', 0, { fsync: true })],
    'backup, none': ['none', 'product', () => productBackup(source, 'none', 0)],
    [`mysqldump | gzip -${level('gzip')}`]: ['gzip', 'bare', () => bareDump(backupOptions, flags, 'gzip', level('gzip'))],
    [`backup, gzip ${level('gzip')}`]: ['gzip', 'product', () => productBackup(source, 'gzip', level('gzip'))],
    [`mysqldump | zstd -${level('zstd')}`]: ['zstd', 'bare', () => bareDump(backupOptions, flags, 'zstd', level('zstd'))],
    [`backup, zstd ${level('zstd')}`]: ['zstd', 'product', () => productBackup(source, 'zstd', level('zstd'))],
    [`mydumper, ${os.availableParallelism()} threads`]: ['mydumper', 'other', () => mydumper(adminOptions, false)],
    [`mydumper, ${os.availableParallelism()} threads, --compress`]: ['mydumper', 'other', () => mydumper(adminOptions, true)],
  });
  daemonPeak.push(await daemonMemory(source, defaultCompression, plan.repeats));

  const restores = await inScratchDir(async (backupDir) => {
    say(`restore: one ${defaultCompression} backup, restored again and again into the second server`);
    await productBackup(source, defaultCompression, level(defaultCompression), backupDir);
    const file = 'latest'; // the one backup in backupDir
    const stored = await locateBackup(backupDir, file);
    return dumpMatrix(plan.repeats, {
      [`${defaultCompression === 'none' ? '' : `${defaultCompression} -dc | `}mysql`]: ['restore', 'bare', () => bareRestore(stored, targetOptions, defaultCompression)],
      'restore --yes (verify, then stream)': ['restore', 'product', () => productRestore(source, backupDir, file, targetOptions)],
      'verify alone': ['verify', 'other', () => productVerify(source, backupDir, file)],
    });
  });

  say(`live workload: ${plan.oltpSeconds} s windows of sysbench oltp_read_write`);
  const oltp = { seconds: plan.oltpSeconds, compression: defaultCompression, alone: [] as OltpResult[], duringBare: [] as OltpResult[], duringProduct: [] as OltpResult[] };
  for (let round = 0; round < plan.repeats; round++) {
    oltp.alone.push(await runOltp(source, 'sbtest', plan.oltpSeconds));
    oltp.duringBare.push((await runOltpDuring(source, 'sbtest', plan.oltpSeconds, () => bareDump(backupOptions, flags, defaultCompression, level(defaultCompression)))).oltp);
    oltp.duringProduct.push((await runOltpDuring(source, 'sbtest', plan.oltpSeconds, () => productBackup(source, defaultCompression, level(defaultCompression)))).oltp);
  }

  say(`binlog archive: ${plan.oltpSeconds} s of the same workload while it streams`);
  const binlog = await measureBinlogLag(source, 'sbtest', plan.oltpSeconds);

  say(`restore to a point: a dump, ${plan.oltpSeconds} s of the workload, then restore --to its end against the dump alone`);
  const pointInTime = await measurePointInTime(source, targetOptions, 'sbtest', plan.oltpSeconds);

  const results: BenchResults = {
    startedAt: plan.startedAt,
    machine: await describeMachine(source),
    data: { label: plan.label, sqlBytes, rows: small.rows + rest.rows, tables: 2 * SYSBENCH_TABLES, smallSqlBytes: daemonPeak[0]!.sqlBytes },
    repeats: plan.repeats,
    dumps,
    restores,
    daemonPeakRss: daemonPeak,
    oltp,
    binlog,
    pointInTime,
  };
  const { markdown, files } = await writeResults(RESULTS_DIR, results);
  process.stdout.write(`\n${markdown}\nwritten: ${files.map((file) => path.relative(process.cwd(), file)).join(', ')}\n`);
}

/** The binlog archive's part alone, printed, not written: quicker to repeat while working on it. */
async function binlogOnly({ source }: ScratchServers, sqlBytes: number, seconds: number): Promise<void> {
  say(`loading ${(sqlBytes / 1e6).toFixed(0)} MB of SQL into sbtest with sysbench`);
  await loadSysbenchData(source, 'sbtest', sqlBytes);
  say(`binlog archive: ${seconds} s of sysbench oltp_read_write alone, then while it streams`);
  process.stdout.write(`\n${binlogSection(await measureBinlogLag(source, 'sbtest', seconds)).join('\n')}\n`);
}

/** Restore to a point alone, printed, not written. */
async function restoreToTimeOnly({ source, target }: ScratchServers, dir: string, sqlBytes: number, seconds: number): Promise<void> {
  say(`loading ${(sqlBytes / 1e6).toFixed(0)} MB of SQL into sbtest with sysbench`);
  await loadSysbenchData(source, 'sbtest', sqlBytes);
  const targetOptions = await writeClientOptions(dir, 'target.cnf', target, ADMIN_ACCOUNT);
  say(`restore to a point: a dump, ${seconds} s of sysbench oltp_read_write, then restore --to its end against the dump alone`);
  process.stdout.write(`\n${pointInTimeSection(await measurePointInTime(source, targetOptions, 'sbtest', seconds)).join('\n')}\n`);
}

type Contender = [group: string, role: ContenderRuns['role'], run: () => Promise<ContenderRuns['runs'][number]>];

/**
 * Every contender once per round, in an order that turns each round, so that a warm cache, a
 * busy neighbour or the order itself favours none of them.
 */
async function dumpMatrix(repeats: number, contenders: Record<string, Contender>): Promise<ContenderRuns[]> {
  const rows = Object.entries(contenders).map(([name, [group, role]]) => ({ name, group, role, runs: [] as ContenderRuns['runs'] }));
  const runners = Object.values(contenders).map(([, , run]) => run);
  for (let round = 0; round < repeats; round++) {
    for (let step = 0; step < rows.length; step++) {
      const index = (step + round) % rows.length;
      const row = rows[index]!;
      const usage = await runners[index]!();
      row.runs.push(usage);
      say(`round ${round + 1}/${repeats}: ${row.name}: ${usage.wallSeconds.toFixed(2)} s`);
    }
  }
  return rows;
}

async function daemonMemory(source: ScratchServers['source'], compression: Compression, repeats: number) {
  const runs = [];
  for (let i = 0; i < repeats; i++) runs.push(await daemonPeakRss(source, compression));
  say(`daemon peak RSS at ${(runs[0]!.rawBytes / 1e6).toFixed(0)} MB of SQL: ${runs.map((run) => (run.peakRssKiB / 1024).toFixed(0)).join(', ')} MiB`);
  return { sqlBytes: runs[0]!.rawBytes, peakRssKiB: runs.map((run) => run.peakRssKiB) };
}

async function describeMachine(source: ScratchServers['source']): Promise<Machine> {
  const firstLine = async (command: string, args: string[]) => (await execa(command, args, { reject: false })).stdout.split('\n')[0]!.trim();
  return {
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    server: `server ${String((await source.query('SELECT VERSION() AS version'))[0]!.version)}`,
    mysqldump: await firstLine('mysqldump', ['--version']),
    mydumper: await firstLine('mydumper', ['--version']),
    sysbench: await firstLine('sysbench', ['--version']),
  };
}

const onPath = (tool: string) =>
  tool.startsWith('/') ? existsSync(tool) : (process.env.PATH ?? '').split(':').some((dir) => existsSync(path.join(dir, tool)));

function positiveInteger(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of at least 1, not ${text}`);
  return value;
}

function say(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
