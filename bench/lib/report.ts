import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Usage } from './measure.js';
import { median } from './measure.js';
import type { BinlogLagResult } from './binlog-lag.js';
import type { OltpResult } from './oltp.js';
import type { PointInTimeResult } from './point-in-time.js';

export interface Machine {
  readonly cores: number;
  readonly memoryGiB: number;
  readonly cpu: string;
  readonly node: string;
  readonly server: string;
  readonly mysqldump: string;
  readonly mydumper: string;
  readonly sysbench: string;
}

export interface ContenderRuns {
  readonly name: string;
  /** Rows with the same group compare bare and product; `vs bare` is reported inside a group. */
  readonly group: string;
  readonly role: 'bare' | 'product' | 'other';
  readonly runs: Array<Usage & { storedBytes?: number; nodeCpuSeconds?: number; nodeMaxRssKiB?: number }>;
}

export interface BenchResults {
  readonly startedAt: string;
  readonly machine: Machine;
  readonly data: { readonly label: string; readonly sqlBytes: number; readonly rows: number; readonly tables: number; readonly smallSqlBytes: number };
  readonly repeats: number;
  readonly dumps: readonly ContenderRuns[];
  readonly restores: readonly ContenderRuns[];
  readonly daemonPeakRss: ReadonlyArray<{ readonly sqlBytes: number; readonly peakRssKiB: number[] }>;
  readonly oltp: {
    readonly seconds: number;
    readonly compression: string;
    readonly alone: OltpResult[];
    readonly duringBare: OltpResult[];
    readonly duringProduct: OltpResult[];
  };
  /** The binlog archive under the same workload (absent in results written before it existed). */
  readonly binlog?: BinlogLagResult;
  /** Restore to a point against a plain restore of the same dump (absent in results written before it existed). */
  readonly pointInTime?: PointInTimeResult;
}

/** A `|` in a contender's name (a shell pipeline) would end the Markdown cell. */
const cell = (text: string) => text.replace(/\|/g, '\\|');
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const mib = (kib: number) => (kib / 1024).toFixed(0);
const seconds = (value: number) => value.toFixed(2);
const medianOf = <T>(runs: readonly T[], pick: (run: T) => number | undefined) => {
  const values = runs.map(pick).filter((value): value is number => value !== undefined);
  return values.length ? median(values) : undefined;
};

/** Time over the bare pipeline of the same group, in percent of the bare median. */
export function overheadPercent(rows: readonly ContenderRuns[], row: ContenderRuns): number | undefined {
  const bare = rows.find((other) => other.group === row.group && other.role === 'bare');
  if (!bare || row.role !== 'product') return undefined;
  const base = medianOf(bare.runs, (run) => run.wallSeconds)!;
  return ((medianOf(row.runs, (run) => run.wallSeconds)! - base) / base) * 100;
}

function timingTable(rows: readonly ContenderRuns[]): string[] {
  const lines = [
    '| contender | wall, median (s) | wall, all runs (s) | vs bare | CPU, tree (s) | CPU, node (s) | peak RSS, largest process (MiB) | stored (MB) |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const overhead = overheadPercent(rows, row);
    const stored = medianOf(row.runs, (run) => run.storedBytes);
    const nodeCpu = medianOf(row.runs, (run) => run.nodeCpuSeconds);
    lines.push(
      `| ${cell(row.name)} | ${seconds(medianOf(row.runs, (run) => run.wallSeconds)!)} | ${row.runs.map((run) => seconds(run.wallSeconds)).join(', ')} | ` +
        `${overhead === undefined ? '' : `${overhead >= 0 ? '+' : ''}${overhead.toFixed(1)}%`} | ` +
        `${seconds(medianOf(row.runs, (run) => run.cpuSeconds)!)} | ${nodeCpu === undefined ? '' : seconds(nodeCpu)} | ` +
        `${mib(medianOf(row.runs, (run) => run.maxRssKiB)!)} | ${stored === undefined ? '' : mb(stored)} |`,
    );
  }
  return lines;
}

export function renderMarkdown(results: BenchResults): string {
  const { machine, data, oltp } = results;
  const oltpRow = (label: string, runs: OltpResult[]) =>
    `| ${label} | ${medianOf(runs, (run) => run.transactionsPerSecond)!.toFixed(1)} | ${runs.map((run) => run.transactionsPerSecond.toFixed(1)).join(', ')} | ` +
    `${medianOf(runs, (run) => run.p95LatencyMs)!.toFixed(2)} | ${runs.map((run) => run.p95LatencyMs.toFixed(2)).join(', ')} |`;
  return [
    `# mysql-backup-sidecar benchmark, ${results.startedAt}`,
    '',
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB. Node ${machine.node}; ${machine.server};`,
    `${machine.mysqldump}; ${machine.mydumper}; ${machine.sysbench}.`,
    '',
    `Data (${data.label}): ${mb(data.sqlBytes)} MB of SQL as mysqldump writes it, ${data.rows.toLocaleString('en-US')} sysbench rows ` +
      `in ${data.tables} tables of two databases. Each figure is the median of ${results.repeats} interleaved runs.`,
    '',
    '## Dumps',
    '',
    ...timingTable(results.dumps),
    '',
    '`vs bare` compares with the stock pipeline of the same compression and level, with the flags the product uses; the bare pipelines do not fsync (the `&& sync` row shows what that costs).',
    'Product rows are `mysql-backup-sidecar backup` as a user runs it: node start-up, server probe, dump, checksum, manifest, fsync and publish included.',
    '',
    '## Restore',
    '',
    ...timingTable(results.restores),
    '',
    '## Memory of the daemon (`run`, VmHWM after one stored backup)',
    '',
    '| SQL dumped (MB) | peak RSS (MiB), each run |',
    '| ---: | --- |',
    ...results.daemonPeakRss.map((row) => `| ${mb(row.sqlBytes)} | ${row.peakRssKiB.map(mib).join(', ')} |`),
    '',
    `## The live database: sysbench oltp_read_write, ${oltp.seconds} s windows, 2 threads (dumps with ${oltp.compression})`,
    '',
    '| workload | TPS, median | TPS, each window | p95 latency, median (ms) | p95, each window (ms) |',
    '| --- | ---: | --- | ---: | --- |',
    oltpRow('alone', oltp.alone),
    oltpRow('during bare mysqldump', oltp.duringBare),
    oltpRow('during mysql-backup-sidecar backup', oltp.duringProduct),
    '',
    ...(results.binlog ? binlogSection(results.binlog) : []),
    ...(results.pointInTime ? pointInTimeSection(results.pointInTime) : []),
  ].join('\n');
}

/** How far behind the binlog archive is under the workload, and what streaming costs the database. */
export function binlogSection(binlog: BinlogLagResult): string[] {
  const row = (label: string, figures: BinlogLagResult['lagBytes'], format: (value: number) => string) =>
    `| ${label} | ${format(figures.p50)} | ${format(figures.p99)} | ${format(figures.max)} |`;
  return [
    `## The binlog archive under the workload (${binlog.seconds} s, ${binlog.samples} samples of /metrics, every 250 ms)`,
    '',
    '| measure | p50 | p99 | max |',
    '| --- | ---: | ---: | ---: |',
    row('recovery point: now - recoverable_until (s)', binlog.recoveryPointSeconds, (value) => value.toFixed(2)),
    row('lag (bytes not yet fsynced in the archive, polled every 5 s)', binlog.lagBytes, (value) => value.toFixed(0)),
    '',
    `Restarts of the stream: ${binlog.restarts}; gaps: ${binlog.gaps}. ` +
      `TPS alone ${binlog.oltpAlone.transactionsPerSecond.toFixed(1)} (p95 ${binlog.oltpAlone.p95LatencyMs.toFixed(2)} ms), ` +
      `while streaming ${binlog.oltpWithArchive.transactionsPerSecond.toFixed(1)} (p95 ${binlog.oltpWithArchive.p95LatencyMs.toFixed(2)} ms).`,
    'Event timestamps have one-second resolution (statement start times), so the recovery point is at best a fraction of a second to a second behind.',
    '',
  ];
}

/** What rolling a dump forward to a point costs over restoring the dump alone. */
export function pointInTimeSection(result: PointInTimeResult): string[] {
  const row = (label: string, usage: Usage) => `| ${cell(label)} | ${seconds(usage.wallSeconds)} | ${seconds(usage.cpuSeconds)} | ${mib(usage.maxRssKiB)} |`;
  const extra = result.restoreTo.wallSeconds - result.bareRestore.wallSeconds;
  return [
    `## Restore to a point: the dump plus ${result.oltpSeconds} s of sysbench oltp_read_write after it`,
    '',
    '| restore | wall (s) | CPU (s) | peak RSS (MiB) |',
    '| --- | ---: | ---: | ---: |',
    row('zstd -dc | mysql (the dump alone)', result.bareRestore),
    row('(zstd -dc; mysqlbinlog) | mysql (the dump and the same binary logs, by hand)', result.bareRestoreTo),
    row(`restore --to (verify dump and binlogs, restore, replay ${result.transactions} transactions)`, result.restoreTo),
    '',
    `The roll-forward read ${result.binlogToReplay} of binary log; it and the verification cost ${seconds(extra)} s over the dump alone, ` +
      `${seconds(result.restoreTo.wallSeconds - result.bareRestoreTo.wallSeconds)} s over doing the same by hand. One run each.`,
    '',
  ];
}

export async function writeResults(dir: string, results: BenchResults): Promise<{ markdown: string; files: string[] }> {
  await mkdir(dir, { recursive: true });
  const stem = path.join(dir, `${results.startedAt.slice(0, 10)}-${results.data.label}`);
  const markdown = renderMarkdown(results);
  await writeFile(`${stem}.md`, markdown);
  await writeFile(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
  return { markdown, files: [`${stem}.md`, `${stem}.json`] };
}
