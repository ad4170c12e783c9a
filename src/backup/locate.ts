import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { readInventory } from './inventory.js';
import { DUMP_NAME } from './naming.js';

/**
 * Turns the FILE argument of `verify` and `restore` into a path. `latest` (or nothing) is the
 * newest checksummed backup in BACKUP_DIR; a bare name is looked up in BACKUP_DIR (never
 * through a symlink); an absolute path is taken as given, on purpose. A relative path with a
 * directory part is refused, so `../` can never reach outside BACKUP_DIR by accident.
 */
export async function locateBackup(dir: string, argument: string | undefined): Promise<string> {
  if (argument === undefined || argument === 'latest') {
    const newest = (await readInventory(dir)).backups.find((b) => b.checksummed);
    if (!newest) throw new UserError(`there is no backup in BACKUP_DIR ${dir}`);
    return newest.path;
  }
  if (path.isAbsolute(argument)) {
    const stats = await stat(argument).catch(() => null);
    if (!stats?.isFile()) throw new UserError(`${argument} is not a file`);
    return argument;
  }
  if (argument.includes('/') || argument === '.' || argument === '..') {
    throw new UserError(`"${argument}" is neither a backup name in BACKUP_DIR nor an absolute path`, {
      hint: 'Give the file name as `list` shows it, `latest`, or an absolute path.',
    });
  }
  if (!DUMP_NAME.test(argument)) {
    throw new UserError(`"${argument}" is not named like a backup (full_dump_YYYYMMDD_HHMMSS.sql[.gz|.zst])`);
  }
  const candidate = path.join(dir, argument);
  const stats = await lstat(candidate).catch(() => null);
  if (!stats?.isFile()) throw new UserError(`there is no backup ${argument} in BACKUP_DIR ${dir}`);
  return candidate;
}
