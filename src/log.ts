import pino, { type Logger } from 'pino';
import type { BackupEvent, EventSink } from './events.js';

/**
 * One JSON object a line, to stdout (for `docker logs`) and appended to the log file on the
 * backup volume (for `jq` on the host). Writes are synchronous: a handful of lines a run, and a
 * line about a failure must not be lost when the process dies right after it.
 */
export function createLogger(options: { file: string; level: string }): Logger {
  const streams = [
    { level: options.level as pino.Level, stream: pino.destination({ dest: 1, sync: true }) },
    { level: options.level as pino.Level, stream: pino.destination({ dest: options.file, sync: true, mkdir: true }) },
  ];
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: Secret already prints as [redacted].
      redact: ['password', '*.password'],
    },
    pino.multistream(streams),
  );
}

/** The log's view of the events: level, message and the fields a person reads. */
export function logEvents(logger: Logger): EventSink {
  return (event) => {
    const { type, ...fields } = event;
    const line = { event: type, ...fields };
    switch (event.type) {
      case 'mysql.waiting':
        logger.warn(line, `waiting for MySQL at ${event.target}: ${event.cause}; next try in ${event.retryInMs} ms`);
        break;
      case 'mysql.ready':
        logger.info(line, `MySQL at ${event.target} answers: ${event.serverVersion}`);
        break;
      case 'backup.warning':
        logger.warn(line, event.warning);
        break;
      case 'backup.started':
        logger.info(line, `backup started: ${event.file}`);
        break;
      case 'backup.succeeded':
        logger.info(line, `backup verified and stored: ${event.file} (${event.storedBytes} bytes in ${event.durationMs} ms)`);
        break;
      case 'backup.failed':
        logger.error(line, `backup failed: ${event.cause}`);
        break;
    }
  };
}

export type { BackupEvent };
