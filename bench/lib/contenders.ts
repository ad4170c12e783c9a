import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { locateBackup } from '../../src/backup/locate.js';
import { type Manifest, readManifest } from '../../src/backup/manifest.js';
import { manifestFileName } from '../../src/backup/naming.js';
import type { Compression } from '../../src/config/schema.js';
import type { TestServer } from '../../test/support/mysql-server.js';
import { measure, measurePipeline, type Usage } from './measure.js';
import { BACKUP_ACCOUNT } from './scratch.js';

export const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');
const NODE_USAGE_HOOK = path.resolve(import.meta.dirname, 'node-usage.mjs');

export interface ProductUsage extends Usage {
  /** The node process alone; the rest of the tree's CPU is mysqldump's (and zstd's). */
  readonly nodeCpuSeconds: number;
  readonly nodeMaxRssKiB: number;
  readonly storedBytes: number;
  readonly rawBytes: number;
}

const EXTENSION: Record<Compression, string> = { none: '.sql', gzip: '.sql.gz', zstd: '.sql.zst' };
/** The stock programs with the levels the product uses; none writes mysqldump's output as it is. */
const COMPRESSOR: Record<Compression, (level: number) => string> = {
  none: () => '',
  gzip: (level) => ` | gzip -${level}`,
  zstd: (level) => ` | zstd -q -${level}`,
};

export const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** `mysqldump <the product's exact flags> [| compressor] > file`, in a scratch directory removed after. */
export async function bareDump(
  clientOptions: string,
  flags: readonly string[],
  compression: Compression,
  level: number,
  options: { fsync?: boolean } = {},
): Promise<Usage & { storedBytes: number }> {
  return inScratchDir(async (dir) => {
    const file = path.join(dir, `dump${EXTENSION[compression]}`);
    const dump = ['mysqldump', `--defaults-file=${clientOptions}`, ...flags].map(quote).join(' ');
    // `sync FILE` fsyncs that file: the durability every product run pays for before it publishes.
    const sync = options.fsync ? ` && sync ${quote(file)}` : '';
    const usage = await measurePipeline(`${dump}${COMPRESSOR[compression](level)} > ${quote(file)}${sync}`);
    return { ...usage, storedBytes: (await stat(file)).size };
  });
}

/** One `mysql-backup-sidecar backup` as a user runs it, with its own env and nothing else. */
export async function productBackup(
  server: TestServer,
  compression: Compression,
  level: number,
  keepIn?: string,
): Promise<ProductUsage> {
  const run = async (dir: string) => {
    const usageFile = path.join(dir, 'node-usage.json');
    const usage = await measure(process.execPath, [CLI, 'backup'], {
      cwd: dir,
      env: {
        ...productEnv(server, dir),
        BACKUP_COMPRESSION: compression,
        ...(compression === 'none' ? {} : { BACKUP_COMPRESSION_LEVEL: String(level) }),
        NODE_OPTIONS: `--import=${NODE_USAGE_HOOK}`,
        BENCH_NODE_USAGE_FILE: usageFile,
      },
    });
    const node = JSON.parse(await readFile(usageFile, 'utf8')) as { cpuSeconds: number; maxRssKiB: number };
    const { storedBytes, rawBytes } = await manifestIn(dir);
    return { ...usage, nodeCpuSeconds: node.cpuSeconds, nodeMaxRssKiB: node.maxRssKiB, storedBytes, rawBytes };
  };
  return keepIn ? run(keepIn) : inScratchDir(run);
}

/** The environment a deployment gives the sidecar, pointed at `server` and `dir`. */
export function productEnv(server: TestServer, dir: string): Record<string, string> {
  return {
    MYSQL_HOST: server.host,
    MYSQL_PORT: String(server.port),
    MYSQL_USER: BACKUP_ACCOUNT.user,
    MYSQL_PASSWORD: BACKUP_ACCOUNT.password,
    BACKUP_DIR: dir,
    LOG_LEVEL: 'warn',
  };
}

/** mydumper with as many threads as cores, consistent snapshot, routines, events and triggers. */
export async function mydumper(clientOptions: string, compress: boolean): Promise<Usage & { storedBytes: number }> {
  return inScratchDir(async (dir) => {
    const out = path.join(dir, 'out');
    const usage = await measure('mydumper', [
      `--defaults-file=${clientOptions}`,
      `--outputdir=${out}`,
      `--threads=${os.availableParallelism()}`,
      '--trx-consistency-only',
      '--routines',
      '--events',
      '--triggers',
      '--verbose=1',
      ...(compress ? ['--compress'] : []),
    ]);
    return { ...usage, storedBytes: await directoryBytes(out) };
  });
}

/** The stock program that writes a stored file's SQL to stdout. */
export const DECOMPRESS: Record<Compression, string> = { none: 'cat', gzip: 'gzip -dc', zstd: 'zstd -q -dc' };

/** What a person restores by hand: the stored file, decompressed, into the `mysql` client. */
export function bareRestore(file: string, clientOptions: string, compression: Compression): Promise<Usage> {
  const client = `mysql --defaults-file=${quote(clientOptions)}`;
  const script = compression === 'none' ? `${client} < ${quote(file)}` : `${DECOMPRESS[compression]} ${quote(file)} | ${client}`;
  return measurePipeline(script);
}

/** `restore --yes FILE` into the target, which verifies the file first and then streams it. */
export function productRestore(source: TestServer, backupDir: string, file: string, targetOptions: string): Promise<Usage> {
  return measure(process.execPath, [CLI, 'restore', '--yes', `--defaults-file=${targetOptions}`, file], {
    cwd: backupDir,
    env: productEnv(source, backupDir),
  });
}

/** `verify FILE` alone: the part of a restore that reads the file before the server sees it. */
export function productVerify(source: TestServer, backupDir: string, file: string): Promise<Usage> {
  return measure(process.execPath, [CLI, 'verify', file], { cwd: backupDir, env: productEnv(source, backupDir) });
}

/** The manifest of the one backup a run left in `dir`. */
export async function manifestIn(dir: string): Promise<Manifest> {
  const manifest = await readManifest(manifestPath(await locateBackup(dir, 'latest')));
  if (!manifest) throw new Error(`the backup in ${dir} has no readable manifest`);
  return manifest;
}

const manifestPath = (dump: string) => path.join(path.dirname(dump), manifestFileName(path.basename(dump)));

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir)) total += (await stat(path.join(dir, entry))).size;
  return total;
}

export async function inScratchDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-bench-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
