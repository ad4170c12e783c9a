import { mkdtemp, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunHistory } from '../../src/run-history.js';
import { RUN_STATE_FILE } from '../../src/run-state.js';

const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'mbs-history-'));

/** A published dump whose manifest says it finished at `finishedAt`. */
async function plantDump(dir: string, finishedAt: string): Promise<void> {
  const name = `full_dump_${finishedAt.slice(0, 10).replace(/-/g, '')}_${finishedAt.slice(11, 19).replace(/:/g, '')}.sql.zst`;
  await writeFile(path.join(dir, name), 'x');
  await writeFile(path.join(dir, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
  await writeFile(
    path.join(dir, `${name}.manifest.json`),
    JSON.stringify({ formatVersion: 1, file: name, finishedAt, storedBytes: 1, durationMs: 1000, rawBytes: 1 }),
  );
  await utimes(path.join(dir, name), new Date(finishedAt), new Date(finishedAt));
}

const state = (over: object) => JSON.stringify({ formatVersion: 1, consecutiveFailures: 0, lastFailure: null, runInFlight: null, ...over });

describe('the run history across a restart', () => {
  it('counts a run the last process never finished as one more failure, once', async () => {
    const dir = await tempDir();
    await plantDump(dir, '2026-11-30T00:00:05.000Z');
    const failure = { at: '2026-11-30T03:00:09.000Z', cause: 'mysqldump exited with code 2' };
    await writeFile(path.join(dir, RUN_STATE_FILE), state({ consecutiveFailures: 1, lastFailure: failure, runInFlight: { runId: 'abc12345', startedAt: '2026-11-30T06:00:00.000Z' } }));
    const history = await RunHistory.fromDisk(dir);
    expect(history.consecutiveFailures).toBe(2);
    expect(history.lastFailure?.at.toISOString()).toBe('2026-11-30T06:00:00.000Z');
    expect(history.lastFailure?.cause).toMatch(/^the previous process ended during run abc12345 \(started 2026-11-30T06:00:00.000Z\)/);
    // Written back at once: a second restart without a run counts nothing more.
    expect(JSON.parse(await readFile(path.join(dir, RUN_STATE_FILE), 'utf8'))).toMatchObject({ consecutiveFailures: 2, runInFlight: null });
    expect((await RunHistory.fromDisk(dir)).consecutiveFailures).toBe(2);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('does not count a run whose dump was published before the kill, nor failures a later good backup ended', async () => {
    const dir = await tempDir();
    await plantDump(dir, '2026-11-30T06:00:40.000Z');
    await writeFile(
      path.join(dir, RUN_STATE_FILE),
      state({ consecutiveFailures: 2, lastFailure: { at: '2026-11-30T03:00:09.000Z', cause: 'x' }, runInFlight: { runId: 'abc12345', startedAt: '2026-11-30T06:00:00.000Z' } }),
    );
    const history = await RunHistory.fromDisk(dir);
    expect(history.consecutiveFailures).toBe(0);
    expect(history.lastSuccess?.finishedAt.toISOString()).toBe('2026-11-30T06:00:40.000Z');
  });

  it.each([
    ['not JSON', '{"formatVersion": 1, "consec'],
    ['a failure time that is no time', state({ consecutiveFailures: 1, lastFailure: { at: 'yesterday', cause: 'x' } })],
    ['a negative count', state({ consecutiveFailures: -1 })],
    ['a fractional count', state({ consecutiveFailures: 1.5 })],
    ['a run in flight without a start', state({ runInFlight: { runId: 'abc' } })],
    ['another format', JSON.stringify({ formatVersion: 2, consecutiveFailures: 9 })],
  ])('starts clean, and starts, from a state file with %s', async (_what, text) => {
    const dir = await tempDir();
    await writeFile(path.join(dir, RUN_STATE_FILE), text);
    const history = await RunHistory.fromDisk(dir);
    expect(history.consecutiveFailures).toBe(0);
    expect(history.lastFailure).toBeNull();
    expect(JSON.parse(await readFile(path.join(dir, RUN_STATE_FILE), 'utf8'))).toMatchObject({ formatVersion: 1, consecutiveFailures: 0 });
  });
});
