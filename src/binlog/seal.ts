import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fsyncPath, indexFileName } from './archive-dir.js';
import type { FileFacts, ScanPosition } from './event-scanner.js';

/**
 * A sealed file is complete and will never change: the server closed it (its rotate is in) or
 * moved on with it at the size the archive has. Its index says what it holds, so that a restore
 * can pick files without reading them, and verify them before replaying.
 */
export interface BinlogIndex {
  readonly formatVersion: 1;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  /** UTC, ISO 8601; null for a file without timed events. */
  readonly firstEventAt: string | null;
  readonly lastEventAt: string | null;
  /** The last complete transaction's time, ISO 8601, and the offset just past it. */
  readonly committedAt: string | null;
  readonly committedBytes: number;
  readonly serverId: number | null;
  readonly serverVersion: string | null;
  /** First and last transaction number per source (MySQL: server uuid; MariaDB: domain-server). */
  readonly gtids: FileFacts['gtids'];
  /** The next file, as the closing rotate names it; null when the server stopped without one (a crash). */
  readonly nextFile: string | null;
  readonly sealedAt: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Checksums `name` (already fsynced) and writes its index beside it, atomically and durably. */
export async function sealFile(dir: string, name: string, bytes: number, position: ScanPosition, facts: FileFacts): Promise<BinlogIndex> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path.join(dir, name), { start: 0, end: bytes - 1 }), hash);
  const index: BinlogIndex = {
    formatVersion: 1,
    file: name,
    bytes,
    sha256: hash.digest('hex'),
    firstEventAt: iso(facts.firstEventAtMs),
    lastEventAt: iso(position.lastEventAtMs),
    committedAt: iso(position.committedAtMs),
    committedBytes: position.committedBytes,
    serverId: facts.serverId,
    serverVersion: facts.serverVersion,
    gtids: facts.gtids,
    nextFile: facts.nextFile,
    sealedAt: new Date().toISOString(),
  };
  const target = path.join(dir, indexFileName(name));
  const temporary = path.join(dir, `.${indexFileName(name)}.tmp`);
  await writeFile(temporary, `${JSON.stringify(index, null, 2)}\n`, { mode: 0o600 });
  await fsyncPath(temporary);
  await rename(temporary, target);
  await fsyncPath(dir);
  return index;
}

/** The index of a sealed file, or null when it has none (or one that does not describe `bytes` bytes). */
export async function readIndex(dir: string, name: string, bytes: number): Promise<BinlogIndex | null> {
  try {
    const index = JSON.parse(await readFile(path.join(dir, indexFileName(name)), 'utf8')) as BinlogIndex;
    return index.formatVersion === 1 && index.bytes === bytes ? index : null;
  } catch {
    return null;
  }
}
