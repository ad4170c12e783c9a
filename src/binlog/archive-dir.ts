import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BINLOG_MAGIC, BinlogEventScanner, type ScanPosition } from './event-scanner.js';

/**
 * BINLOG_DIR: the server's binary log files under their own names, copied byte for byte. The
 * streamer (mysqlbinlog --raw) writes each under FETCH_PREFIX first; a copy takes the real name
 * only once it holds at least as much as the one it replaces (archive.ts), so the archive never
 * shrinks. Directory 0700, files 0600: a binary log holds every row written.
 */
export const FETCH_PREFIX = '.fetch-';

/** "binlog.000042", "mysql-bin.000001", "db1-bin.1000000": a base name, a dot, six digits or more. */
const BINLOG_NAME = /^[^.][^/]*\.(\d{6,})$/;

export const isBinlogName = (name: string) => BINLOG_NAME.test(name);

/** Sequence number of a binlog file name: files sort by it, not by text (000999 < 1000000). */
export const sequenceOf = (name: string) => Number(BINLOG_NAME.exec(name)?.[1] ?? NaN);

export const byLogOrder = (a: string, b: string) => sequenceOf(a) - sequenceOf(b) || a.localeCompare(b);

export async function prepareArchiveDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // An existing directory keeps its mode under mkdir: an archive readable by others is tightened.
  await chmod(dir, 0o700);
}

export interface ArchivedFile {
  readonly name: string;
  readonly size: number;
}

/** The archived files in log order; in-flight copies (FETCH_PREFIX) are not among them. */
export async function listArchive(dir: string): Promise<ArchivedFile[]> {
  const names = (await readdir(dir)).filter(isBinlogName).sort(byLogOrder);
  const files: ArchivedFile[] = [];
  for (const name of names) {
    const info = await stat(path.join(dir, name)).catch(() => null);
    if (info?.isFile()) files.push({ name, size: info.size });
  }
  return files;
}

/** The copies mysqlbinlog is writing (or a killed one left), by the name they will take. */
export async function listFetches(dir: string): Promise<ArchivedFile[]> {
  const files: ArchivedFile[] = [];
  for (const entry of await readdir(dir)) {
    if (!entry.startsWith(FETCH_PREFIX) || !isBinlogName(entry.slice(FETCH_PREFIX.length))) continue;
    const info = await stat(path.join(dir, entry)).catch(() => null);
    if (info?.isFile()) files.push({ name: entry.slice(FETCH_PREFIX.length), size: info.size });
  }
  return files.sort((a, b) => byLogOrder(a.name, b.name));
}

export async function removeFetches(dir: string): Promise<void> {
  for (const fetch of await listFetches(dir)) await rm(path.join(dir, FETCH_PREFIX + fetch.name), { force: true });
}

/** Gives a fetched copy its real name (0600), replacing the shorter copy there, and makes the rename durable. */
export async function adoptFetch(dir: string, name: string): Promise<void> {
  const from = path.join(dir, FETCH_PREFIX + name);
  await chmod(from, 0o600);
  await rename(from, path.join(dir, name));
  await fsyncPath(dir);
}

/** fsync of a file or directory by path; mysqlbinlog never syncs what it writes, so the daemon does. */
export async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const READ_CHUNK_BYTES = 1024 * 1024;

/** Scans `file` from where `scanner` stopped up to `upTo` bytes, or until `done()` says it has seen enough. */
export async function scanFile(file: string, scanner: BinlogEventScanner, upTo: number, done: () => boolean = () => false): Promise<ScanPosition> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(READ_CHUNK_BYTES);
    let offset = scanner.fedBytes;
    while (offset < upTo && !done()) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(READ_CHUNK_BYTES, upTo - offset), offset);
      if (bytesRead === 0) break;
      scanner.feed(buffer.subarray(0, bytesRead));
      offset += bytesRead;
    }
    return scanner.position;
  } finally {
    await handle.close();
  }
}

/** Bytes from the start of a file compared to tell whether two copies are of the same file. */
const IDENTITY_BYTES = 64 * 1024;

/**
 * Whether two copies under one name are of the same server's file: a new or restored server
 * writes a file of the same name with other contents. Compared over their common start, but for
 * the opening format description event's flags and checksum, which the server rewrites when it
 * closes the file (the in-use flag); its server id and creation time stay.
 */
export async function sameBinlogFile(a: string, b: string): Promise<boolean> {
  const [left, right] = await Promise.all([readStart(a), readStart(b)]);
  const length = Math.min(left.length, right.length);
  const start = BINLOG_MAGIC.length;
  const openingEnd = left.length >= start + 13 ? start + left.readUInt32LE(start + 9) : null;
  const masked = (buffer: Buffer) => {
    const copy = Buffer.from(buffer.subarray(0, length));
    // Header flags: bytes 17-18 of the event; its checksum: its last 4 bytes.
    if (length > start + 18) copy.fill(0, start + 17, start + 19);
    if (openingEnd !== null && length >= openingEnd) copy.fill(0, openingEnd - 4, openingEnd);
    return copy;
  };
  return masked(left).equals(masked(right));
}

async function readStart(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(IDENTITY_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, IDENTITY_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** `<file>.index.json` beside each sealed file (seal.ts). */
export const indexFileName = (name: string) => `${name}.index.json`;

/** BINLOG_DIR/.source.json: which server the current epoch is the log of (source.ts identityChange). */
const SOURCE_FILE = '.source.json';

export async function readSourceIdentity(dir: string): Promise<{ serverId: number; serverUuid: string | null } | null> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, SOURCE_FILE), 'utf8')) as { serverId?: unknown; serverUuid?: unknown };
    return typeof parsed.serverId === 'number' ? { serverId: parsed.serverId, serverUuid: typeof parsed.serverUuid === 'string' ? parsed.serverUuid : null } : null;
  } catch {
    return null;
  }
}

export async function writeSourceIdentity(dir: string, identity: { serverId: number; serverUuid: string | null }): Promise<void> {
  const temporary = path.join(dir, `${SOURCE_FILE}.tmp`);
  await writeFile(temporary, `${JSON.stringify(identity)}\n`, { mode: 0o600 });
  await fsyncPath(temporary);
  await rename(temporary, path.join(dir, SOURCE_FILE));
  await fsyncPath(dir);
}

/**
 * BINLOG_DIR/.restored.json: a restore went into the archived server. Its data changed outside
 * its binary log, so the log from here on cannot roll an older dump forward: the streamer starts
 * a new epoch there, and the daemon takes a dump at once.
 */
const RESTORED_FILE = '.restored.json';

export interface RestoreMarker {
  readonly atMs: number;
  /** "restore of full_dump_... to 2026-12-06 13:40:05 UTC", for the gap's cause. */
  readonly what: string;
}

export async function writeRestoreMarker(dir: string, marker: RestoreMarker): Promise<void> {
  const temporary = path.join(dir, `${RESTORED_FILE}.tmp`);
  await writeFile(temporary, `${JSON.stringify(marker)}\n`, { mode: 0o600 });
  await fsyncPath(temporary);
  await rename(temporary, path.join(dir, RESTORED_FILE));
  await fsyncPath(dir);
}

export async function readRestoreMarker(dir: string): Promise<RestoreMarker | null> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, RESTORED_FILE), 'utf8')) as Partial<RestoreMarker>;
    return { atMs: Number(parsed.atMs) || Date.now(), what: typeof parsed.what === 'string' ? parsed.what : 'a restore' };
  } catch (error) {
    // A marker that cannot be read still says a restore happened.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? null : { atMs: Date.now(), what: 'a restore' };
  }
}

export async function removeRestoreMarker(dir: string): Promise<void> {
  await rm(path.join(dir, RESTORED_FILE), { force: true });
}
