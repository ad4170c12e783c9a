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
  run: () => import('./run.js').then((m) => ({ run: m.runCommand, summary: m.summary })),
  backup: () => import('./backup.js').then((m) => ({ run: m.backupCommand, summary: m.summary })),
  prune: () => import('./prune.js').then((m) => ({ run: m.pruneCommand, summary: m.summary })),
  list: () => import('./list.js').then((m) => ({ run: m.listCommand, summary: m.summary })),
  verify: () => import('./verify.js').then((m) => ({ run: m.verifyCommand, summary: m.summary })),
  restore: () => import('./restore.js').then((m) => ({ run: m.restoreCommand, summary: m.summary })),
  drill: () => import('./drill.js').then((m) => ({ run: m.drillCommand, summary: m.summary })),
};
