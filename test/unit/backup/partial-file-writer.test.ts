import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { PartialFileWriter, WRITEBACK_BYTES } from '../../../src/backup/partial-file-writer.js';

describe('the partial file writer', () => {
  it('writes every byte in order across several writebacks, then closes the file', async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'mbs-writer-')), 'dump.partial');
    const handle = await open(file, 'wx', 0o600);
    // Odd chunk sizes, so that no chunk boundary lines up with a writeback.
    const chunks = Array.from({ length: 80 }, (_, i) => randomBytes(1_000_003 + i));
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    expect(total).toBeGreaterThan(2 * WRITEBACK_BYTES);

    await pipeline(Readable.from(chunks), new PartialFileWriter(handle));

    const written = await readFile(file);
    expect(written.length).toBe(total);
    const digest = (data: Buffer | Buffer[]) => [data].flat().reduce((hash, part) => hash.update(part), createHash('sha256')).digest('hex');
    expect(digest(written)).toBe(digest(chunks));
    expect(handle.fd).toBe(-1);
  });

  it('closes the file when the stream is destroyed half-way', async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'mbs-writer-')), 'dump.partial');
    const handle = await open(file, 'wx', 0o600);
    const writer = new PartialFileWriter(handle);
    const failure = new Promise((resolve) => writer.once('error', resolve));
    const closed = new Promise((resolve) => writer.once('close', resolve));
    writer.write(randomBytes(1024));
    writer.destroy(new Error('mysqldump failed'));
    expect(((await failure) as Error).message).toBe('mysqldump failed');
    await closed;
    expect(handle.fd).toBe(-1);
  });
});
