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
export async function canMount(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    const probe = await mountSmallFilesystem(64);
    await probe.unmount();
    return true;
  } catch {
    return false;
  }
}
