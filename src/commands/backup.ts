import { parseArgs } from 'node:util';
import { runBackup } from '../backup/run.js';
import { lockEvents, withDirectoryLock } from '../backup/directory-lock.js';
import { assertWritableDirectory } from '../backup/store.js';
import { loadConfig } from '../config/load.js';
import { createLogger, logEvents } from '../log.js';
import { describeAddress } from '../mysql/connect.js';
import { Notifier } from '../notify/notifier.js';
import type { EventSink } from '../events.js';
import type { CommandContext } from './context.js';

export const summary = 'take one backup now; exit 0 only when a verified dump is stored';

/** `backup`: one run now, with the daemon's configuration. Exit 0 only on a published dump. */
export async function backupCommand(args: string[], context: CommandContext): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  // Checked before the logger opens backup.log there, which would create a missing directory.
  await assertWritableDirectory(config.backup.dir);
  const { logger } = createLogger({ file: config.backup.logFile, level: config.logLevel, stdout: true });

  const abort = new AbortController();
  const cancel = () => abort.abort();
  process.once('SIGINT', cancel).once('SIGTERM', cancel);
  const logged = logEvents(logger);
  // Pings and the webhook as the daemon sends them, but no recovery: a command keeps no history of failures.
  const notifier = Notifier.ifConfigured(config.notify, logged, { target: describeAddress(config.mysql) });
  const emit: EventSink = (event) => {
    logged(event);
    notifier?.observe(event);
  };
  try {
    const dir = config.backup.dir;
    const purpose = 'a backup started by hand (the backup command)';
    // Refuses, rather than waits, while another writer is at work: a person is waiting for the answer.
    const say = (line: string) => context.stderr.write(`${line}\n`);
    const lockOptions = { scope: 'writer' as const, purpose, signal: abort.signal, ...lockEvents(emit, dir, purpose, say) };
    const outcome = await withDirectoryLock(dir, lockOptions, (lost) =>
      runBackup(config, { emit, signal: AbortSignal.any([abort.signal, lost]) }),
    );
    if (outcome.ok) return 0;
    context.stderr.write(`mysql-backup-sidecar: backup failed: ${outcome.cause}\n`);
    if (outcome.stderr) context.stderr.write(`${outcome.stderr.replace(/^/gm, '  ')}\n`);
    if (outcome.hint) context.stderr.write(`  ${outcome.hint}\n`);
    // A run that no retry can fix (client tools of another family) is a configuration error.
    return outcome.fatal ? 2 : 1;
  } finally {
    process.off('SIGINT', cancel).off('SIGTERM', cancel);
    // A cron job waits for the answer: the pings get one attempt's time after the run, no more.
    await notifier?.drain(config.notify.timeoutMs);
  }
}
