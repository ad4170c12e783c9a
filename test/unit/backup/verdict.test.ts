import { describe, expect, it } from 'vitest';
import { isGlobalReadLockTimeout, judgePipeline, type PipelineOutcome, splitStderr } from '../../../src/backup/verdict.js';

const good: PipelineOutcome = {
  dump: { exitCode: 0, signal: undefined, timedOut: false, cancelled: false, stderr: '', spawnError: undefined },
  writeError: undefined,
  inspection: { rawBytes: 1000, completed: true, binlog: null },
  timeoutMs: 3_600_000,
};

const judge = (change: { dump?: Partial<PipelineOutcome['dump']>; writeError?: Error; completed?: boolean }) =>
  judgePipeline({
    ...good,
    dump: { ...good.dump, ...change.dump },
    writeError: change.writeError,
    inspection: { ...good.inspection, completed: change.completed ?? true },
  });

describe('the verdict on a run', () => {
  it('passes a clean exit with the trailer', () => {
    expect(judge({})).toEqual({ ok: true, warnings: [] });
  });

  it('passes with warnings, which it keeps', () => {
    const verdict = judge({ dump: { stderr: "mysqldump: Deprecated program name. It will be removed in a future release, use 'mariadb-dump' instead" } });
    expect(verdict.ok).toBe(true);
    expect(verdict.warnings).toHaveLength(1);
  });

  it.each([
    [{ dump: { exitCode: 2, stderr: 'mysqldump: Got error: 2013: Lost connection to server during query' } }, /exited with code 2: mysqldump: Got error: 2013/],
    [{ dump: { exitCode: undefined, signal: 'SIGKILL' } }, /killed by SIGKILL/],
    [{ dump: { exitCode: undefined, signal: 'SIGTERM', timedOut: true } }, /did not finish within BACKUP_TIMEOUT \(1h\)/],
    [{ dump: { exitCode: undefined, signal: 'SIGTERM', cancelled: true } }, /cancelled/],
    [{ dump: { stderr: 'mysqldump: Couldn\'t execute \'SHOW EVENTS\': Access denied' } }, /reported an error: .*SHOW EVENTS/],
    [{ completed: false }, /"-- Dump completed" trailer/],
    [{ writeError: new Error('ENOSPC: no space left on device, write') }, /writing the dump failed: ENOSPC/],
    [{ dump: { exitCode: undefined, spawnError: 'spawn mysqldump ENOENT' } }, /could not be started/],
  ])('fails %j', (change, cause) => {
    const verdict = judge(change as Parameters<typeof judge>[0]);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.cause).toMatch(cause);
  });

  it('blames the write, not the broken pipe it caused mysqldump', () => {
    const verdict = judge({ writeError: new Error('ENOSPC'), dump: { exitCode: 2, stderr: 'mysqldump: Got errno 32 on write' } });
    expect(!verdict.ok && verdict.cause).toMatch(/^writing the dump failed/);
  });
});

describe('a lock wait that another attempt may get past', () => {
  // Verbatim from a failed CI run on MySQL 9.7, and the flush before it behind a LOCK TABLES.
  it.each([
    "mysqldump: Couldn't execute 'FLUSH /*!40101 LOCAL */ TABLES WITH READ LOCK': Lock wait timeout exceeded; try restarting transaction (1205)",
    "mysqldump: Couldn't execute 'FLUSH /*!40101 LOCAL */ TABLES': Lock wait timeout exceeded; try restarting transaction (1205)",
  ])('is %s', (stderr) => {
    expect(isGlobalReadLockTimeout(judge({ dump: { exitCode: 2, stderr } }))).toBe(true);
  });

  it.each([
    "mysqldump: Got error: 1045: Access denied for user 'backup'@'localhost' (using password: YES) when trying to connect",
    "mysqldump: Error 1205: Lock wait timeout exceeded; try restarting transaction when dumping table `t` at row: 0",
  ])('is not %s', (stderr) => {
    expect(isGlobalReadLockTimeout(judge({ dump: { exitCode: 2, stderr } }))).toBe(false);
  });

  it('is not a success', () => {
    expect(isGlobalReadLockTimeout(judge({}))).toBe(false);
  });
});

describe('mysqldump stderr', () => {
  it('separates warnings from errors', () => {
    expect(splitStderr('Warning: A partial dump\n\nmysqldump: Got error: 1045\n')).toEqual({
      warnings: ['Warning: A partial dump'],
      errors: ['mysqldump: Got error: 1045'],
    });
  });
});
