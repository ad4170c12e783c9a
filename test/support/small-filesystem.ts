import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { makeTempDir } from './cli.js';

/** A tmpfs of `sizeKiB` to use as BACKUP_DIR; only root may mount one. */
export async function mountSmallFilesystem(sizeKiB: number): Promise<{ dir: string; unmount(): Promise<void> }> {
  const mountPoint = await makeTempDir('mbs-tmpfs-');
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0755`, 'tmpfs', mountPoint]);
  const dir = path.join(mountPoint, 'backups');
  await mkdir(dir);
  return { dir, unmount: async () => void (await execa('umount', ['-l', mountPoint])) };
}

/** Whether this process may mount a tmpfs (root, outside a restricted sandbox). */
export const canMount = () => mountsHere(() => mountSmallFilesystem(64));

/** Whether `mount` works here: as root, and where the sandbox allows it. */
async function mountsHere(mount: () => Promise<{ unmount(): Promise<void> }>): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await (await mount()).unmount();
    return true;
  } catch {
    return false;
  }
}

/**
 * A FAT16 image of `sizeMiB` mounted with fusefat (the kernel here has no vfat module), as a
 * volume without hard links or file modes, as vfat/exFAT, CIFS and some NAS mounts are.
 * BACKUP_DIR is the volume's root: fusefat 1.0 fails file creation in a subdirectory with ENOENT
 * after a few create/rename/unlink rounds (its own bug, reproduced without the sidecar), and its
 * root holds 512 entries that deletions do not free: room for about 30 runs, enough for a test.
 */
export async function mountFatVolume(sizeMiB: number): Promise<{ dir: string; unmount(): Promise<void> }> {
  const work = await makeTempDir('mbs-fat-');
  const image = path.join(work, 'volume.img');
  const mountPoint = path.join(work, 'mnt');
  await mkdir(mountPoint);
  await execa('truncate', ['-s', `${sizeMiB}M`, image]);
  await execa('mkfs.vfat', [image]);
  // -s: one request at a time; fusefat's directory code is not safe for concurrent requests from two processes.
  await execa('fusefat', ['-s', '-o', 'rw+', image, mountPoint]);
  return { dir: mountPoint, unmount: async () => void (await execa('umount', [mountPoint])) };
}

/** Whether FUSE mounts of FAT images work here (root, /dev/fuse, fusefat installed). */
export const canMountFat = () => mountsHere(() => mountFatVolume(8));
