import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createCompressor, createDecompressor } from '../../src/backup/compression.js';

/** Random bytes do not compress: what goes in comes out at about the same size. */
const INCOMPRESSIBLE_BYTES = 160 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

function randomSource(hash: ReturnType<typeof createHash>): Readable {
  let left = INCOMPRESSIBLE_BYTES;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const chunk = randomBytes(Math.min(CHUNK_BYTES, left));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
}

function hashingSink(hash: ReturnType<typeof createHash>): Writable & { bytes: number } {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      sink.bytes += chunk.length;
      done();
    },
  }) as Writable & { bytes: number };
  sink.bytes = 0;
  return sink;
}

describe('the zstd stage', () => {
  // execa keeps a child's stdout for its result unless told not to, and fails past 100 MB: this
  // is what a large database's zstd backup and its verify did before the stages stopped it.
  it('streams more than 100 MB each way and gives back every byte', async () => {
    const input = createHash('sha256');
    const output = createHash('sha256');
    const sink = hashingSink(output);
    await pipeline(randomSource(input), createCompressor('zstd', 1)!, createDecompressor('zstd')!, sink);
    expect(sink.bytes).toBe(INCOMPRESSIBLE_BYTES);
    expect(output.digest('hex')).toBe(input.digest('hex'));
  }, 120_000);
});
