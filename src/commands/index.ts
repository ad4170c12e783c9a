import type { CommandContext } from './context.js';

export interface Command {
  readonly run: (args: string[], context: CommandContext) => Promise<number>;
  readonly summary: string;
}

/**
 * The verbs of `mysql-backup-sidecar`, in the order `--help` lists them. Each is imported only
 * when it runs: `backup` then loads neither the HTTP server, Prometheus client nor scheduler,
 * which took about a tenth of a second of every one-shot command's start.
 */
export const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  run: async () => {
    const { runCommand, summary } = await import('./run.js');
    return { run: runCommand, summary };
  },
  backup: async () => {
    const { backupCommand, summary } = await import('./backup.js');
    return { run: backupCommand, summary };
  },
  prune: async () => {
    const { pruneCommand, summary } = await import('./prune.js');
    return { run: pruneCommand, summary };
  },
  list: async () => {
    const { listCommand, summary } = await import('./list.js');
    return { run: listCommand, summary };
  },
  verify: async () => {
    const { verifyCommand, summary } = await import('./verify.js');
    return { run: verifyCommand, summary };
  },
  restore: async () => {
    const { restoreCommand, summary } = await import('./restore.js');
    return { run: restoreCommand, summary };
  },
  drill: async () => {
    const { drillCommand, summary } = await import('./drill.js');
    return { run: drillCommand, summary };
  },
};
