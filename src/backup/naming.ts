import type { Compression } from '../config/schema.js';

/**
 * Names are part of the product: `full_dump_YYYYMMDD_HHMMSS.sql[.gz|.zst]`, the bash loop's
 * pattern with seconds, so two runs in one minute cannot collide. Only these names are backups;
 * work in progress starts with a dot and ends in `.partial`, so neither `ls`, retention nor
 * `restore latest` can mistake it for one.
 */
export const DUMP_NAME = /^full_dump_(\d{8})_(\d{6})\.sql(\.gz|\.zst)?$/;
export const PARTIAL_NAME = /^\.full_dump_.*\.partial$/;

const EXTENSIONS: Record<Compression, string> = { gzip: '.sql.gz', zstd: '.sql.zst', none: '.sql' };

export function dumpFileName(at: Date, compression: Compression, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  );
  const stamp = `${parts.year}${parts.month}${parts.day}_${parts.hour}${parts.minute}${parts.second}`;
  return `full_dump_${stamp}${EXTENSIONS[compression]}`;
}

export const checksumFileName = (dumpName: string) => `${dumpName}.sha256`;
export const manifestFileName = (dumpName: string) => `${dumpName}.manifest.json`;
export const partialFileName = (name: string) => `.${name}.partial`;
