import { parseArgs } from 'node:util';
import { UserError } from '../errors.js';
import { findClientTool } from '../mysql/client-tools.js';
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
 * SIGHUP reopens the log file after rotation. Exit 0 once nothing runs; exit 2 when a run found
 * a configuration no run can succeed with (client tools of another family than the server's).
 */
export async function runCommand(args: string[], context: CommandContext): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  await assertWritableDirectory(config.backup.dir);
  // A missing zstd or client tool stops the daemon now, as a bad setting does, not at the first run hours later.
  await checkCompressorAvailable(config.backup.compression);
  await findClientTool('mysqldump', config.mysql.clientDir);
  if (config.drill.schedule) await findClientTool('mysql', config.mysql.clientDir);
  const log = createLogger({ file: config.backup.logFile, level: config.logLevel, stdout: true });
  const emit = logEvents(log.logger);
  let refusal: { cause: string; hint?: string } | undefined;
  // Set once the stop below exists; a run cannot fail before then (it needs I/O, the stop does not).
  let stopForRefusal: () => void = () => undefined;
  const daemon = await startDaemon(config, {
    log: emit,
    version: packageVersion(),
    beforeEachRun: () => log.reopenIfMoved(),
    logState: log.fileState,
    onFatal: (failure) => {
      refusal = failure;
      emit({ type: 'daemon.refusing', ...failure });
      stopForRefusal();
    },
  });

  const reopen = () => log.reopen();
  process.on('SIGHUP', reopen);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      stopping = true;
      const began = Date.now();
      void daemon.stop(config.schedule.stopGraceMs).then((result) => {
        emit({ type: 'daemon.stopped', outcome: result, waitedMs: Date.now() - began });
        process.off('SIGTERM', onSignal).off('SIGINT', onSignal).off('SIGHUP', reopen);
        resolve();
      });
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        emit({ type: 'daemon.aborting', signal, runInFlight: daemon.scheduler.runInFlight });
        daemon.scheduler.abortNow();
        return;
      }
      emit({ type: 'daemon.stopping', signal, runInFlight: daemon.scheduler.runInFlight, graceMs: config.schedule.stopGraceMs });
      stop();
    };
    // A refusal during a stop already under way changes only the exit status.
    stopForRefusal = () => {
      if (!stopping) stop();
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
    if (refusal) stopForRefusal();
  });
  if (refusal) throw new UserError(refusal.cause, { ...(refusal.hint ? { hint: refusal.hint } : {}), exitCode: 2 });
  return 0;
}
