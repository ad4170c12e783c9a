import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dumpFileName } from '../../../src/backup/naming.js';
import { createPartialDump, discardPartialDump } from '../../../src/backup/store.js';

const name = (at: Date) => dumpFileName(at, 'zstd', 'UTC');

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
