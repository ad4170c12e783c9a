import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { BATCH_BYTES } from './chunk-batcher.js';

/** How much may wait in the page cache before the disk is asked to take it. */
export const WRITEBACK_BYTES = 32 * 1024 * 1024;

/**
 * Writes a dump to its partial file, and is durable when it finishes: `end()` resolves only after
 * fsync. On the way it asks the disk (fdatasync, in the background, one at a time) to take each
 * 32 MiB as it is written, so the final fsync has little left to do and a large dump does not pile
 * up gigabytes of dirty pages. Measured on 207 MB: the run ends ~0.25 s sooner than with a
 * single fsync at the end, which is what `fs.WriteStream`'s `flush` does.
 */
export class PartialFileWriter extends Writable {
  #unsynced = 0;
  #writeback: Promise<void> | undefined;
  #writebackError: Error | undefined;

  constructor(private readonly handle: FileHandle) {
    super({ highWaterMark: BATCH_BYTES });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.#writeAll(chunk).then(() => done(), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#sync().then(() => done(), done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    // close() waits for a writeback still in flight.
    this.handle.close().then(
      () => done(error),
      (closeError: Error) => done(error ?? closeError),
    );
  }

  async #writeAll(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      offset += (await this.handle.write(chunk, offset, chunk.length - offset)).bytesWritten;
    }
    this.#unsynced += chunk.length;
    if (this.#unsynced >= WRITEBACK_BYTES && !this.#writeback) {
      this.#unsynced = 0;
      this.#writeback = this.handle
        .datasync()
        .catch((error: Error) => void (this.#writebackError ??= error))
        .finally(() => (this.#writeback = undefined));
    }
  }

  async #sync(): Promise<void> {
    await this.#writeback;
    if (this.#writebackError) throw this.#writebackError;
    await this.handle.sync();
  }
}
