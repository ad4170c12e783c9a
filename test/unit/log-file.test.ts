import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { LogFile, type LogFileEvents } from '../../src/log-file.js';
import { makeTempDir } from '../support/cli.js';
import { canMount, mountSmallFilesystem } from '../support/small-filesystem.js';

const mountable = await canMount();

/** What the log file told its owner, in order. */
function recorder() {
  const calls: Array<['failing', string] | ['recovered', Parameters<LogFileEvents['onRecovered']>[0]]> = [];
  const events: LogFileEvents = {
    onFailing: (cause) => calls.push(['failing', cause]),
    onRecovered: (summary) => calls.push(['recovered', summary]),
  };
  return { calls, events };
}

const line = (i: number) => `${JSON.stringify({ i, text: 'x'.repeat(80 + (i % 7)) })}\n`;
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe.skipIf(!mountable)('the log file on a full disk (tmpfs; needs root)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** A log file on a tmpfs with every block taken by a filler file, which `makeRoom` removes. */
  async function fullVolume() {
    const volume = await mountSmallFilesystem(64);
    cleanups.push(() => volume.unmount());
    const file = path.join(volume.dir, 'backup.log');
    await writeFile(file, line(-1));
    const filler = path.join(volume.dir, 'filler');
    await execa('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1k'], { reject: false });
    return { file, makeRoom: () => rm(filler) };
  }

  it('holds lines in order while the disk is full and writes each exactly once when it has room', async () => {
    const { file, makeRoom } = await fullVolume();
    const { calls, events } = recorder();
    const log = new LogFile(file, events);
    // The file's last block has some room: the first lines fit, one is cut short, then none fit.
    for (let i = 0; i < 100; i++) expect(log.write(line(i))).toBe(true);
    await settle();
    expect(log.state.problem?.cause).toMatch(/^ENOSPC/);
    expect(log.state.heldBytes).toBeGreaterThan(0);
    expect(calls).toEqual([['failing', expect.stringMatching(/^ENOSPC/)]]);

    await makeRoom();
    log.write(line(100));
    await settle();
    expect(log.state).toEqual({ problem: null, heldBytes: 0, droppedLines: 0 });
    const written = (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
    expect(written).toEqual(Array.from({ length: 102 }, (_, k) => k - 1));
    expect(calls).toHaveLength(2);
    expect(calls[1]).toEqual(['recovered', expect.objectContaining({ droppedLines: 0 })]);
    expect((calls[1]![1] as { heldLines: number }).heldLines).toBeGreaterThan(0);
  });

  it('keeps the oldest lines up to its limit, counts the rest as dropped, and says so once it recovers', async () => {
    const { file, makeRoom } = await fullVolume();
    // Past what the last block takes, so that the limit, not the block, decides.
    const { calls, events } = recorder();
    const log = new LogFile(file, events, { holdBytes: 2_000 });
    for (let i = 0; i < 200; i++) log.write(line(i));
    const { heldBytes, droppedLines } = log.state;
    expect(heldBytes).toBeLessThanOrEqual(2_000);
    expect(droppedLines).toBeGreaterThan(0);

    await makeRoom();
    log.write(line(200));
    await settle();
    const written = (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
    // Everything up to the first dropped line, in order, then the line that found room.
    const kept = written.slice(1, -1);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, k) => k));
    expect(kept.length + droppedLines).toBe(200);
    expect(written.at(-1)).toBe(200);
    expect(calls.at(-1)).toEqual(['recovered', expect.objectContaining({ droppedLines })]);
  });

  it('tries again by itself, without a new line to write', async () => {
    const { file, makeRoom } = await fullVolume();
    const { calls, events } = recorder();
    const log = new LogFile(file, events, { retryMs: 50 });
    for (let i = 0; i < 60; i++) log.write(line(i));
    expect(log.state.problem).not.toBeNull();
    await makeRoom();
    const deadline = Date.now() + 5_000;
    while (log.state.problem && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log.state.problem).toBeNull();
    await settle();
    expect(calls.map(([kind]) => kind)).toEqual(['failing', 'recovered']);
    expect((await readFile(file, 'utf8')).split('\n').filter(Boolean)).toHaveLength(61);
  });
});

describe('the log file that cannot be opened', () => {
  it('does not throw at start-up; its lines wait until the path can be opened', async () => {
    const dir = await makeTempDir();
    // A file where the log's directory should be: neither mkdir nor open can succeed.
    const blocked = path.join(dir, 'logs');
    await writeFile(blocked, '');
    const { calls, events } = recorder();
    const log = new LogFile(path.join(blocked, 'backup.log'), events);
    log.write(line(0));
    await settle();
    expect(log.state.problem?.cause).toMatch(/ENOTDIR|EEXIST/);
    expect(calls).toEqual([['failing', expect.stringMatching(/ENOTDIR|EEXIST/)]]);

    await rm(blocked);
    await mkdir(blocked);
    log.write(line(1));
    await settle();
    expect(log.state.problem).toBeNull();
    expect((await readFile(path.join(blocked, 'backup.log'), 'utf8')).split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('reopened after its directory went away, holds its lines instead of recreating the directory', async () => {
    const dir = await makeTempDir();
    const logDir = path.join(dir, 'backups');
    await mkdir(logDir);
    const file = path.join(logDir, 'backup.log');
    const { events } = recorder();
    const log = new LogFile(file, events);
    log.write(line(0));
    await rm(logDir, { recursive: true });
    log.reopen();
    log.write(line(1));
    expect(log.state.problem?.cause).toMatch(/ENOENT/);
    await expect(readFile(file)).rejects.toThrow(/ENOENT/);

    await mkdir(logDir);
    log.write(line(2));
    expect(log.state.problem).toBeNull();
    expect((await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([1, 2]);
  });
});
