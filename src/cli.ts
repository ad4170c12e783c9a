#!/usr/bin/env node
import { COMMANDS } from './commands/index.js';
import type { CommandContext } from './commands/context.js';
import { UsageError, UserError } from './errors.js';
import { packageVersion } from './version.js';

const PROGRAM = 'mysql-backup-sidecar';

async function usage(): Promise<string> {
  const commands = await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => [name, await load()] as const));
  const lines = commands.map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...lines,
    '',
    'Configuration comes from the environment, .env, *_FILE secrets and MYSQL_DEFAULTS_FILE;',
    'see the README for every variable.',
    '',
  ].join('\n');
}

export async function main(argv: string[], context: CommandContext): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    context.stdout.write(await usage());
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') {
    context.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) throw new UsageError(`unknown command "${command}"`);
  return (await load()).run(rest, context);
}

function report(error: unknown, context: CommandContext, debug: boolean): number {
  if (error instanceof UserError) {
    for (const line of error.message.split('\n')) context.stderr.write(`${PROGRAM}: ${line}\n`);
    if (error.hint) context.stderr.write(`  ${error.hint}\n`);
    if (debug) context.stderr.write(`${error.stack}\n`);
    return error.exitCode;
  }
  // Node's own argument parser errors are usage errors too.
  if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    return report(new UsageError((error as Error).message), context, debug);
  }
  context.stderr.write(`${PROGRAM}: unexpected error: ${(error as Error).message ?? String(error)}\n`);
  if (debug) context.stderr.write(`${(error as Error).stack}\n`);
  return 1;
}

const context: CommandContext = {
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
};
// Should the event loop ever drain with `main` unsettled (a promise nobody resolves), the
// process must not exit 0 as if a backup had been stored.
let settled = false;
process.exitCode = 1;
process.on('exit', () => {
  if (!settled) process.stderr.write(`${PROGRAM}: internal error: stopped before the command finished\n`);
});
main(process.argv.slice(2), context).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (error: unknown) => {
    settled = true;
    // Exit now: whatever a failed command had opened (a listening socket, a timer) must not keep
    // a broken daemon alive. Writes to pipes and files are synchronous on Linux, so none is lost.
    process.exit(report(error, context, context.env.LOG_LEVEL === 'debug'));
  },
);
