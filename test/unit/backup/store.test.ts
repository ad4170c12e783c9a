import { link, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { dumpFileName } from '../../../src/backup/naming.js';
import { createPartialDump, discardPartialDump, publishDump } from '../../../src/backup/store.js';
import { canMountFat, mountFatVolume } from '../../support/small-filesystem.js';

const name = (at: Date) => dumpFileName(at, 'zstd', 'UTC');
const fatMountable = await canMountFat();

describe('claiming a dump name', () => {
  it('gives a run that starts in the same second as another the next free second, and never a name in use', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-store-'));
    const at = new Date('2026-11-30T03:00:00.250Z');
    const first = await createPartialDump(dir, at, name);
    const second = await createPartialDump(dir, new Date('2026-11-30T03:00:00.900Z'), name);
    expect(first.dumpName).toBe('full_dump_20261130_030000.sql.zst');
    expect(second.dumpName).toBe('full_dump_20261130_030001.sql.zst');
    expect((await readdir(dir)).sort()).toEqual(['.full_dump_20261130_030000.sql.zst.partial', '.full_dump_20261130_030001.sql.zst.partial']);
    for (const claim of [first, second]) await discardPartialDump(claim.partial);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe.skipIf(!fatMountable)('publishing on a volume without hard links (FAT through fusefat; needs root)', () => {
  const volumes: Array<{ unmount(): Promise<void> }> = [];
  afterEach(async () => {
    for (const volume of volumes.splice(0)) await volume.unmount();
  });

  async function fatDir(): Promise<string> {
    const volume = await mountFatVolume(16);
    volumes.push(volume);
    return volume.dir;
  }

  /** A finished partial dump holding `content`, as a run leaves it before publishing. */
  async function finishedPartial(dir: string, content: string) {
    const claim = await createPartialDump(dir, new Date('2026-11-30T03:00:00Z'), name);
    await pipeline(Readable.from([Buffer.from(content)]), claim.partial.stream);
    return claim;
  }

  it('gives the dump its name though link() fails there, with its checksum and manifest, and no partial file left', async () => {
    const dir = await fatDir();
    await writeFile(path.join(dir, 'probe'), '');
    await expect(link(path.join(dir, 'probe'), path.join(dir, 'probe-link'))).rejects.toMatchObject({ code: 'EPERM' });

    const claim = await finishedPartial(dir, 'the dump');
    await publishDump(claim.partial, dir, claim.dumpName, { sha256: 'a'.repeat(64), manifest: { rawBytes: 8 } });
    expect((await readdir(dir)).filter((n) => n !== 'probe').sort()).toEqual([
      claim.dumpName,
      `${claim.dumpName}.manifest.json`,
      `${claim.dumpName}.sha256`,
    ]);
    expect(await readFile(path.join(dir, claim.dumpName), 'utf8')).toBe('the dump');
  });

  it('never replaces a file that already has the name: publishing fails and leaves it as it was', async () => {
    const dir = await fatDir();
    const claim = await finishedPartial(dir, 'the new dump');
    // Another backup of the same name appears after the name was claimed (a clock set back).
    await writeFile(path.join(dir, claim.dumpName), 'the backup that was there');
    await expect(publishDump(claim.partial, dir, claim.dumpName, { sha256: 'b'.repeat(64), manifest: {} })).rejects.toThrow(
      `${claim.dumpName} already exists in ${dir}; it was left as it is`,
    );
    expect(await readFile(path.join(dir, claim.dumpName), 'utf8')).toBe('the backup that was there');
    // The sidecars it had written are taken back; the partial file is the caller's to discard.
    expect((await readdir(dir)).sort()).toEqual([`.${claim.dumpName}.partial`, claim.dumpName]);
  });
});
