import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { startDaemon } from '../daemon.js';
import { createLogger, logEvents } from '../log.js';
import { checkCompressorAvailable } from '../backup/compression.js';
import { assertWritableDirectory } from '../backup/store.js';
import { packageVersion } from '../version.js';
import type { CommandContext } from './context.js';

export const summary = 'the daemon: back up on BACKUP_SCHEDULE, apply retention, stop cleanly on SIGTERM';

/**
 * `run`: until SIGTERM or SIGINT. The first signal stops scheduling and gives a run in flight
 * BACKUP_STOP_GRACE to finish before abandoning it cleanly; a second abandons it at once.
 * SIGHUP reopens the log file after rotation. Exit 0 once nothing runs.
 */
export async function runCommand(args: string[], context: CommandContext): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  await assertWritableDirectory(config.backup.dir);
  // A missing zstd stops the daemon now, as a bad setting does, not at the first run hours later.
  await checkCompressorAvailable(config.backup.compression);
  const log = createLogger({ file: config.backup.logFile, level: config.logLevel, stdout: true });
  const emit = logEvents(log.logger);
  const cron = log.logger.child({ component: 'node-cron' });
  const daemon = await startDaemon(config, {
    log: emit,
    version: packageVersion(),
    beforeEachRun: () => log.reopenIfMoved(),
    cronLogger: {
      info: (message) => cron.debug(message),
      warn: (message) => cron.warn(message),
      error: (message, error) => cron.error({ err: error }, String(message)),
      debug: (message) => cron.debug(String(message)),
    },
  });

  const reopen = () => log.reopen();
  process.on('SIGHUP', reopen);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        emit({ type: 'daemon.aborting', signal, runInFlight: daemon.scheduler.runInFlight });
        daemon.scheduler.abortNow();
        return;
      }
      stopping = true;
      emit({ type: 'daemon.stopping', signal, runInFlight: daemon.scheduler.runInFlight, graceMs: config.schedule.stopGraceMs });
      const began = Date.now();
      void daemon.stop(config.schedule.stopGraceMs).then((result) => {
        emit({ type: 'daemon.stopped', outcome: result, waitedMs: Date.now() - began });
        process.off('SIGTERM', onSignal).off('SIGINT', onSignal).off('SIGHUP', reopen);
        resolve();
      });
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
  return 0;
}
