import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BATCH_BYTES } from './chunk-batcher.js';
import { compressionOf, createDecompressor } from './compression.js';
import { DigestTap } from './digest-tap.js';
import { type BinlogCoordinates, DumpInspector } from './dump-inspector.js';
import { type Manifest, readManifest } from './manifest.js';
import { checksumFileName, manifestFileName } from './naming.js';
import { RowCounter, type TableCount } from './row-counter.js';

export interface VerifyReport {
  readonly file: string;
  /** True only when every check below held. */
  readonly ok: boolean;
  /** What failed, one sentence each. */
  readonly problems: readonly string[];
  readonly sha256: string;
  readonly storedBytes: number;
  readonly rawBytes: number;
  readonly completed: boolean;
  /** Rows per table as the dump's INSERTs hold them. */
  readonly tables: readonly TableCount[];
  /** Binlog coordinates and GTID set as the dump itself records them. */
  readonly binlog: BinlogCoordinates | null;
  readonly manifest: Manifest | null;
}

/**
 * Reads a stored dump once, as a stream (constant memory whatever its size): hashes the stored
 * bytes, decompresses them, checks mysqldump's completion trailer and counts each table's rows.
 * Then compares with `<dump>.sha256` and the manifest.
 */
export async function verifyBackup(file: string): Promise<VerifyReport> {
  const name = path.basename(file);
  const problems: string[] = [];
  const digest = new DigestTap();
  const inspector = new DumpInspector();
  const rows = new RowCounter();
  const decompressor = createDecompressor(compressionOf(name));

  let readable = true;
  try {
    await pipeline([createReadStream(file, { highWaterMark: BATCH_BYTES }), digest, ...(decompressor ? [decompressor] : []), inspector, rows]);
  } catch (error) {
    readable = false;
    problems.push(`cannot be read back whole: ${(error as Error).message}`);
  }
  // A failed decompression stops the pipeline early; hash the whole file for the checksum checks.
  const sha256 = readable ? digest.digest() : await hashFile(file);
  const storedBytes = (await stat(file)).size;
  const inspection = inspector.result();

  const expected = await readChecksumFile(path.join(path.dirname(file), checksumFileName(name)));
  if (expected === null) problems.push(`${checksumFileName(name)} is missing`);
  else if (expected.name !== name) problems.push(`${checksumFileName(name)} names another file (${expected.name})`);
  else if (expected.sha256 !== sha256) problems.push(`the SHA-256 does not match ${checksumFileName(name)}`);

  const manifest = await readManifest(path.join(path.dirname(file), manifestFileName(name)));
  if (manifest === null) {
    problems.push(`${manifestFileName(name)} is missing or unreadable`);
  } else {
    if (manifest.sha256 !== sha256) problems.push('the SHA-256 does not match the manifest');
    if (manifest.storedBytes !== storedBytes) problems.push(`the manifest says ${manifest.storedBytes} stored bytes, the file has ${storedBytes}`);
    if (readable && manifest.rawBytes !== inspection.rawBytes) {
      problems.push(`the manifest says ${manifest.rawBytes} bytes of SQL, the file decompresses to ${inspection.rawBytes}`);
    }
  }
  if (readable && !inspection.completed) problems.push('the SQL does not end with mysqldump\'s "-- Dump completed" trailer');

  return {
    file,
    ok: problems.length === 0,
    problems,
    sha256,
    storedBytes,
    rawBytes: inspection.rawBytes,
    completed: inspection.completed,
    tables: rows.tables,
    binlog: inspection.binlog,
    manifest,
  };
}

async function readChecksumFile(file: string): Promise<{ sha256: string; name: string } | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  const match = text === null ? null : /^([0-9a-f]{64}) [ *](.+)$/m.exec(text);
  return match ? { sha256: match[1]!, name: match[2]! } : null;
}

async function hashFile(file: string): Promise<string> {
  const digest = new DigestTap();
  await pipeline(createReadStream(file), digest, async function* (source) {
    for await (const _ of source) {
      // drain
    }
  });
  return digest.digest();
}
