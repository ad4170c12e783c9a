import { constants } from 'node:fs';
import { access, link, lstat, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { UserError } from '../errors.js';
import { checksumFileName, manifestFileName, partialFileName } from './naming.js';
import { PartialFileWriter } from './partial-file-writer.js';

/**
 * Rule: a file named like a backup is a complete, checksummed, fsynced dump; nothing else gets
 * the name. The dump is written under a hidden `.partial` name, fsynced, and only then given its
 * real name, after its checksum and manifest are already in place. The real name is created with
 * link(2), which fails instead of overwriting, so an existing backup is never replaced; the
 * directory is fsynced so the name survives a power cut. A crash at any step leaves at most a
 * `.partial` file or sidecars without a dump, which start-up hygiene removes.
 *
 * Volumes without hard links (vfat/exFAT, CIFS and some NAS mounts: link(2) fails with EPERM)
 * get the name by rename(2) instead, which would replace an existing file, so the name is first
 * checked to be free. That check and the rename are one step because every writer of this
 * program holds the directory lock (directory-lock.ts) while it publishes; only another program
 * writing the very same name in between could be overwritten.
 */

export const DUMP_FILE_MODE = 0o600;

export interface PartialDump {
  readonly path: string;
  /** Fsyncs before it closes: once a pipeline into it has resolved, the bytes are on disk. */
  readonly stream: Writable;
}

export async function assertWritableDirectory(dir: string): Promise<void> {
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? `BACKUP_DIR ${dir} does not exist` : `BACKUP_DIR ${dir} is not writable (${code})`,
      { hint: 'Mount the backup volume there and make it writable by the user the sidecar runs as.' },
    );
  }
}

/**
 * Claims a dump name and opens its partial file. The name is the one for `at`, or the next free
 * second when runs start within the same second (the contract's names have seconds resolution);
 * O_EXCL on the partial file settles a race between two runs choosing at the same moment.
 */
export async function createPartialDump(
  dir: string,
  at: Date,
  name: (at: Date) => string,
): Promise<{ dumpName: string; partial: PartialDump }> {
  for (let offset = 0; ; offset++) {
    const dumpName = name(new Date(at.getTime() + offset * 1000));
    const taken = await Promise.all(
      [dumpName, checksumFileName(dumpName), manifestFileName(dumpName)].map((n) =>
        access(path.join(dir, n)).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (taken.includes(true)) continue;
    const partialPath = path.join(dir, partialFileName(dumpName));
    try {
      const handle = await open(partialPath, 'wx', DUMP_FILE_MODE);
      return { dumpName, partial: { path: partialPath, stream: new PartialFileWriter(handle) } };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** A partial file that could not be removed, and why. */
export interface Leftover {
  readonly path: string;
  readonly reason: string;
}

/**
 * Closes and removes a partial dump. It does not throw: a directory gone read-only mid-run
 * fails the removal too, and the run must still report what failed first.
 */
export async function discardPartialDump(partial: PartialDump): Promise<Leftover | undefined> {
  partial.stream.destroy();
  try {
    await unlink(partial.path);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? undefined : { path: partial.path, reason: code ?? (error as Error).message };
  }
}

/** Publishes a finished (flushed and closed) partial dump as `dumpName`, with `<dump>.sha256` and `<dump>.manifest.json`. */
export async function publishDump(
  partial: PartialDump,
  dir: string,
  dumpName: string,
  sidecars: { sha256: string; manifest: object },
): Promise<string> {
  const finalPath = path.join(dir, dumpName);
  const written: string[] = [];
  try {
    // Two spaces: the text-mode line `sha256sum -c` reads, with the name relative to the file.
    written.push(await writeFileDurably(dir, checksumFileName(dumpName), `${sidecars.sha256}  ${dumpName}\n`));
    written.push(await writeFileDurably(dir, manifestFileName(dumpName), `${JSON.stringify(sidecars.manifest, null, 2)}\n`));
    await linkWithoutOverwrite(partial.path, finalPath);
  } catch (error) {
    await Promise.all(written.map((file) => unlink(file).catch(() => undefined)));
    throw error;
  }
  await removeIfThere(partial.path);
  await syncDirectory(dir);
  return finalPath;
}

async function writeFileDurably(dir: string, name: string, content: string): Promise<string> {
  const temporary = path.join(dir, partialFileName(name));
  const handle = await open(temporary, 'wx', DUMP_FILE_MODE);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  const finalPath = path.join(dir, name);
  try {
    await linkWithoutOverwrite(temporary, finalPath);
  } finally {
    await removeIfThere(temporary);
  }
  return finalPath;
}

/** Gives `from`'s file the name `to` without replacing a file there; `from` may be gone after. */
async function linkWithoutOverwrite(from: string, to: string): Promise<void> {
  const exists = () => new UserError(`${path.basename(to)} already exists in ${path.dirname(to)}; it was left as it is`);
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw exists();
    if (!NO_HARD_LINKS.has(code ?? '')) throw error;
    const taken = await lstat(to).then(
      () => true,
      (missing: NodeJS.ErrnoException) => {
        if (missing.code === 'ENOENT') return false;
        throw missing;
      },
    );
    if (taken) throw exists();
    await rename(from, to);
  }
}

/** What link(2) says on a file system without hard links: vfat/exFAT (EPERM), CIFS and FUSE mounts. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

async function removeIfThere(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
