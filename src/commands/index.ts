import { backupCommand, summary as backupSummary } from './backup.js';
import type { CommandContext } from './context.js';
import { drillCommand, summary as drillSummary } from './drill.js';
import { listCommand, summary as listSummary } from './list.js';
import { pruneCommand, summary as pruneSummary } from './prune.js';
import { restoreCommand, summary as restoreSummary } from './restore.js';
import { runCommand, summary as runSummary } from './run.js';
import { summary as verifySummary, verifyCommand } from './verify.js';

export interface Command {
  readonly run: (args: string[], context: CommandContext) => Promise<number>;
  readonly summary: string;
}

/** The verbs of `mysql-backup-sidecar`, in the order `--help` lists them. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  run: { run: runCommand, summary: runSummary },
  backup: { run: backupCommand, summary: backupSummary },
  prune: { run: pruneCommand, summary: pruneSummary },
  list: { run: listCommand, summary: listSummary },
  verify: { run: verifyCommand, summary: verifySummary },
  restore: { run: restoreCommand, summary: restoreSummary },
  drill: { run: drillCommand, summary: drillSummary },
};
