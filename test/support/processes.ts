import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface ProcessView {
  readonly pid: number;
  readonly ppid: number;
  readonly argv: string[];
  /** Null when the process is gone or its environment is not ours to read. */
  readonly environ: string[] | null;
}

/** Every process on the machine as /proc shows it: argv and (where readable) environment. */
export async function listProcesses(): Promise<ProcessView[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const views = await Promise.all(
    pids.map(async (pid) => {
      const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
      if (argv === null) return null;
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => null);
      // Field 4 of /proc/<pid>/stat, after the parenthesised command name (which may hold spaces).
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return {
        pid,
        ppid,
        argv: argv.split('\0').filter(Boolean),
        environ: environ?.split('\0').filter(Boolean) ?? null,
      };
    }),
  );
  return views.filter((v): v is ProcessView => v !== null);
}

/** The dump program, whichever family: MariaDB's may be called mariadb-dump. */
export const DUMP_PROGRAMS = ['mysqldump', 'mariadb-dump'];

/**
 * Whether the process runs one of `programs`: its argv[0], or, for the MySQL test root's tools
 * (started through that root's dynamic loader, scripts/mysql-root.sh), the program the loader runs.
 */
export function runsProgram(process: ProcessView, programs: readonly string[]): boolean {
  const loaded = path.basename(process.argv[0] ?? '').startsWith('ld-linux') ? process.argv[3] : process.argv[0];
  return programs.includes(path.basename(loaded ?? ''));
}
