import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { RunHistory } from '../../src/run-history.js';

/** A published dump as the run leaves it: the file, its .sha256 and a manifest with its raw size. */
async function plantDump(dir: string, minute: number, rawBytes: number): Promise<void> {
  const name = `full_dump_20261130_01${String(minute).padStart(2, '0')}00.sql.zst`;
  await writeFile(path.join(dir, name), 'x');
  await writeFile(path.join(dir, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
  await writeFile(path.join(dir, `${name}.manifest.json`), JSON.stringify({ formatVersion: 1, file: name, finishedAt: new Date().toISOString(), rawBytes }));
  const at = new Date(Date.UTC(2026, 10, 30, 1, minute));
  await utimes(path.join(dir, name), at, at);
}

async function suspectGauge(dir: string, sizeDropRatio: number): Promise<number> {
  const metrics = createMetrics({ history: new RunHistory(), backupDir: dir, version: 'test', maxAgeMs: 1000, sizePolicy: { dropRatio: sizeDropRatio, baselineMs: 7 * 86_400_000 } });
  const line = (await metrics.render()).split('\n').find((l) => l.startsWith('mysql_backup_last_size_suspect '));
  return Number(line?.split(' ')[1]);
}

describe('mysql_backup_last_size_suspect, the verdict the size-drop alert reads', () => {
  it('is 1 while the newest good dump is under the ratio of the median before it, 0 once a normal one follows', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-suspect-'));
    expect(await suspectGauge(dir, 0.5)).toBe(0);
    for (const minute of [1, 2, 3]) await plantDump(dir, minute, 100_000_000);
    expect(await suspectGauge(dir, 0.5)).toBe(0);
    await plantDump(dir, 4, 1_000_000);
    expect(await suspectGauge(dir, 0.5)).toBe(1);
    expect(await suspectGauge(dir, 0)).toBe(0);
    await plantDump(dir, 5, 99_000_000);
    expect(await suspectGauge(dir, 0.5)).toBe(0);
  });
});
