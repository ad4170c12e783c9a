import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';

/** The built CLI, exactly what `npm install -g` would put on PATH. */
export const CLI_PATH = path.resolve(import.meta.dirname, '../../dist/cli.js');

type Env = Record<string, string | undefined>;

/**
 * Runs `mysql-backup-sidecar ARGS` as a real process with only the environment given (plus PATH),
 * so nothing of the test runner's own environment leaks into the configuration.
 */
export function startCli(args: string[], env: Env, options: { cwd?: string; user?: number } = {}): ResultPromise<{
  reject: false;
}> {
  const command = options.user === undefined ? [process.execPath, CLI_PATH, ...args] : asUser(options.user, args);
  return execa(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH, ...env },
    extendEnv: false,
    reject: false,
    cwd: options.cwd ?? os.tmpdir(),
  });
}

export const runCli = (args: string[], env: Env, options: { cwd?: string; user?: number } = {}) =>
  startCli(args, env, options);

function asUser(uid: number, args: string[]): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, CLI_PATH, ...args];
}

export async function makeTempDir(prefix = 'mbs-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A stored dump's name, whatever its compression (not its .sha256, manifest or partial file). */
export const isDumpName = (name: string) => /^full_dump_\d{8}_\d{6}\.sql(\.gz|\.zst)?$/.test(name);

/** Every entry that looks like a dump or work on one, by a looser test than the product's own. */
export async function dumpLikeEntries(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.includes('full_dump')).sort();
}

export async function readLogEvents(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * The JSON lines of output still being written, each that parses: the newest may be half written
 * when read (and on some FUSE volumes, such as fusefat, a log file stays unreadable for a while),
 * and a wait must not give up on the whole of it for that. Assertions read with readLogEvents,
 * which takes no torn line.
 */
export function eventsSoFar(text: string): Array<Record<string, unknown>> {
  return text.split('\n').flatMap((line) => {
    try {
      return line ? [JSON.parse(line) as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** Polls a JSON-lines log until `done` holds for its events; returns them. */
export async function waitForLog(
  file: string,
  done: (events: Array<Record<string, unknown>>) => boolean,
  timeoutMs = 60_000,
): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + timeoutMs;
  let events: Array<Record<string, unknown>> = [];
  while (Date.now() < deadline) {
    events = eventsSoFar(await readFile(file, 'utf8').catch(() => ''));
    if (done(events)) return events;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`log ${file} did not reach the expected state within ${timeoutMs} ms; last events:\n${events
    .slice(-10)
    .map((e) => JSON.stringify(e))
    .join('\n')}`);
}

export const countEvents = (events: Array<Record<string, unknown>>, type: string) =>
  events.filter((e) => e.event === type).length;

/** What a started CLI prints on stdout as it comes, to wait for a line before the process ends. */
export function followOutput(cli: ReturnType<typeof startCli>): { readonly text: string } {
  const chunks: string[] = [];
  cli.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return {
    get text() {
      return chunks.join('');
    },
  };
}

export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
