import { describe, expect, it } from 'vitest';
import { checksumFileName, DUMP_NAME, dumpFileName, manifestFileName, PARTIAL_NAME, partialFileName } from '../../../src/backup/naming.js';

const at = new Date('2026-03-29T01:30:05Z');

describe('file names', () => {
  it('stamps the time in the configured zone, with seconds', () => {
    expect(dumpFileName(at, 'gzip', 'UTC')).toBe('full_dump_20260329_013005.sql.gz');
    // 01:30 UTC is 03:30 in Berlin after that night's switch to summer time.
    expect(dumpFileName(at, 'zstd', 'Europe/Berlin')).toBe('full_dump_20260329_033005.sql.zst');
    expect(dumpFileName(at, 'none', 'America/New_York')).toBe('full_dump_20260328_213005.sql');
  });

  it('recognises only dumps as backups', () => {
    const dump = dumpFileName(at, 'gzip', 'UTC');
    expect(DUMP_NAME.test(dump)).toBe(true);
    for (const other of [
      checksumFileName(dump),
      manifestFileName(dump),
      partialFileName(dump),
      'full_dump_20260329_0130.sql',
      'other.sql',
      'backup.log',
    ]) {
      expect(DUMP_NAME.test(other), other).toBe(false);
    }
  });

  it('marks every temporary file, dump or sidecar, as partial and hidden', () => {
    const dump = dumpFileName(at, 'gzip', 'UTC');
    for (const name of [dump, checksumFileName(dump), manifestFileName(dump)]) {
      const partial = partialFileName(name);
      expect(partial.startsWith('.')).toBe(true);
      expect(PARTIAL_NAME.test(partial)).toBe(true);
    }
    expect(PARTIAL_NAME.test(dump)).toBe(false);
  });
});
