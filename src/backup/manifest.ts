import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Compression, Config } from '../config/schema.js';
import type { ClientTool } from '../mysql/client-tools.js';
import type { ServerInfo } from '../mysql/server-info.js';
import type { BinlogCoordinates, DumpInspection } from './dump-inspector.js';
import { readInventory } from './inventory.js';
import { manifestFileName } from './naming.js';

/** `<dump>.manifest.json`: what a person or `list`/`verify` needs to know about one backup. */
export interface Manifest {
  readonly formatVersion: 1;
  readonly file: string;
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Bytes mysqldump wrote, before compression. */
  readonly rawBytes: number;
  /** Bytes of the file on disk; `sha256` is of these, as in `<dump>.sha256`. */
  readonly storedBytes: number;
  readonly sha256: string;
  readonly compression: { readonly algorithm: Compression; readonly level: number | null };
  readonly server: { readonly host: string; readonly port: number; readonly version: string; readonly flavour: string };
  readonly dumpClient: { readonly binary: string; readonly version: string; readonly flavour: string; readonly banner: string };
  readonly flags: readonly string[];
  /** Where the dump stands in the binary log, or null when binary logging is off or unreadable. */
  readonly binlog: BinlogCoordinates | null;
}

export function buildManifest(run: {
  file: string;
  runId: string;
  startedAt: Date;
  finishedAt: Date;
  inspection: DumpInspection;
  storedBytes: number;
  sha256: string;
  config: Config;
  server: ServerInfo;
  client: ClientTool;
  flags: readonly string[];
}): Manifest {
  const { config, server, client } = run;
  return {
    formatVersion: 1,
    file: run.file,
    runId: run.runId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    durationMs: run.finishedAt.getTime() - run.startedAt.getTime(),
    rawBytes: run.inspection.rawBytes,
    storedBytes: run.storedBytes,
    sha256: run.sha256,
    compression: {
      algorithm: config.backup.compression,
      level: config.backup.compression === 'none' ? null : config.backup.compressionLevel,
    },
    server: { host: config.mysql.host, port: config.mysql.port, version: server.version, flavour: server.flavour },
    dumpClient: { binary: client.binary, version: client.version, flavour: client.flavour, banner: client.banner },
    flags: run.flags,
    binlog: run.inspection.binlog,
  };
}

/** The manifest of a dump, or null when it is missing or unreadable (a dump is judged by itself first). */
export async function readManifest(manifestPath: string): Promise<Manifest | null> {
  try {
    const parsed = JSON.parse(await readFile(manifestPath, 'utf8')) as Partial<Manifest>;
    return parsed.formatVersion === 1 && typeof parsed.finishedAt === 'string' ? (parsed as Manifest) : null;
  } catch {
    return null;
  }
}

/** The binary log file the newest good dump in `dir` stands in, from its manifest; null if it recorded none. */
export async function newestDumpBinlogFile(dir: string): Promise<string | null> {
  const newest = (await readInventory(dir)).backups.find((backup) => backup.checksummed);
  if (!newest) return null;
  return (await readManifest(path.join(dir, manifestFileName(newest.name))))?.binlog?.file ?? null;
}
