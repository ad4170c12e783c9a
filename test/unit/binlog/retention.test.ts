import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { pruneBinlogArchive } from '../../../src/binlog/retention.js';
import type { SidecarEvent } from '../../../src/events.js';
import { makeTempDir } from '../../support/cli.js';

/** A good dump as the daemon leaves it: the file, its .sha256 and a manifest naming its binlog file. */
async function dump(dir: string, stamp: string, finishedAt: string, binlogFile: string | null): Promise<void> {
  const name = `full_dump_${stamp}.sql.zst`;
  await writeFile(path.join(dir, name), 'dump');
  // Dumps are ordered by mtime, as retention judges them.
  await utimes(path.join(dir, name), new Date(finishedAt), new Date(finishedAt));
  await writeFile(path.join(dir, `${name}.sha256`), `0  ${name}\n`);
  const binlog = binlogFile === null ? null : { file: binlogFile, position: 4, gtid: null };
  await writeFile(path.join(dir, `${name}.manifest.json`), JSON.stringify({ formatVersion: 1, file: name, finishedAt, binlog }));
}

async function binlogs(dir: string, ...names: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of names) await writeFile(path.join(dir, name), 'x'.repeat(10));
}

describe('binlog archive retention', () => {
  let backupDir: string;
  let binlogDir: string;
  let events: SidecarEvent[];
  const emit = (event: SidecarEvent) => events.push(event);

  beforeEach(async () => {
    backupDir = await makeTempDir();
    binlogDir = path.join(backupDir, 'binlogs');
    events = [];
  });

  it('keeps what the oldest kept dump rolls forward from, deletes what is before it, and says so', async () => {
    await dump(backupDir, '20261201_000000', '2026-12-01T00:00:00Z', 'binlog.000005');
    await dump(backupDir, '20261202_000000', '2026-12-02T00:00:00Z', 'binlog.000008');
    await binlogs(binlogDir, 'binlog.000003', 'binlog.000004', 'binlog.000005', 'binlog.000008', 'binlog.000009');
    await pruneBinlogArchive(binlogDir, backupDir, emit);
    expect((await readdir(binlogDir)).sort()).toEqual(['binlog.000005', 'binlog.000008', 'binlog.000009']);
    expect(events).toEqual([{ type: 'binlog.pruned', deleted: ['binlog.000003', 'binlog.000004'], bytes: 20, keptFrom: 'binlog.000005' }]);
  });

  it('deletes nothing without a dump that records coordinates, nor when the dump\'s file is not in the archive', async () => {
    await binlogs(binlogDir, 'binlog.000001', 'binlog.000002');
    await dump(backupDir, '20261201_000000', '2026-12-01T00:00:00Z', null);
    await pruneBinlogArchive(binlogDir, backupDir, emit);
    await dump(backupDir, '20261202_000000', '2026-12-02T00:00:00Z', 'binlog.000007');
    await pruneBinlogArchive(binlogDir, backupDir, emit);
    expect((await readdir(binlogDir)).sort()).toEqual(['binlog.000001', 'binlog.000002']);
    expect(events).toEqual([]);
  });

  it('keeps an epoch while a dump from before its gap is kept, and the current epoch whole whatever names that dump recorded', async () => {
    // The server was reset at 12:00: the current epoch starts over at .000001.
    await binlogs(path.join(binlogDir, 'epoch-20261201T120000Z'), 'binlog.000040', 'binlog.000041');
    await binlogs(binlogDir, 'binlog.000001', 'binlog.000002');
    await dump(backupDir, '20261201_060000', '2026-12-01T06:00:00Z', 'binlog.000002');
    await dump(backupDir, '20261201_120005', '2026-12-01T12:00:05Z', 'binlog.000001');
    await pruneBinlogArchive(binlogDir, backupDir, emit);
    expect((await readdir(binlogDir)).sort()).toEqual(['binlog.000001', 'binlog.000002', 'epoch-20261201T120000Z']);
    expect(events).toEqual([]);
  });

  it('deletes an epoch once every dump from before its gap is gone', async () => {
    await binlogs(path.join(binlogDir, 'epoch-20261201T120000Z'), 'binlog.000040');
    await binlogs(binlogDir, 'binlog.000001', 'binlog.000002');
    await dump(backupDir, '20261201_120005', '2026-12-01T12:00:05Z', 'binlog.000002');
    await pruneBinlogArchive(binlogDir, backupDir, emit);
    expect((await readdir(binlogDir)).sort()).toEqual(['binlog.000002']);
    expect(events).toMatchObject([{ deleted: ['binlog.000001', 'epoch-20261201T120000Z/'], bytes: 20 }]);
  });
});
