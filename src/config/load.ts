import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { ConfigError } from '../errors.js';
import { mergeGroups, OptionFileError, parseOptionFile } from './option-file.js';
import { tlsSettingsOfOptionFile } from '../mysql/tls.js';
import { type Config, DEFAULTS, parseSettings, type Settings } from './schema.js';

/** Variables that may instead be read from a file named by `<NAME>_FILE` (Docker secrets). */
const FILE_VARIABLES = ['MYSQL_PASSWORD', 'MYSQL_USER', 'NOTIFY_PING_URL', 'NOTIFY_DRILL_PING_URL', 'NOTIFY_WEBHOOK_URL'] as const;

const TLS_FILE_VARIABLES = ['MYSQL_SSL_CA', 'MYSQL_SSL_CERT', 'MYSQL_SSL_KEY'] as const;
const TLS_VARIABLES = ['MYSQL_SSL_MODE', ...TLS_FILE_VARIABLES] as const;

/** Options of the defaults file's [client] and [mysqldump] groups, and the variable each feeds. */
const OPTION_FILE_KEYS = { user: 'MYSQL_USER', password: 'MYSQL_PASSWORD', host: 'MYSQL_HOST', port: 'MYSQL_PORT' } as const;

/**
 * The only reader of the process environment's values. Precedence, highest first:
 * the environment, `.env` in the working directory, `<NAME>_FILE`, MYSQL_DEFAULTS_FILE, defaults.
 * Every problem found is reported at once, so a user fixes them in one go.
 */
export function loadConfig(options: { env: NodeJS.ProcessEnv; cwd: string }): Config {
  const problems: string[] = [];
  const sources = new Map<string, string>();

  const settings: Settings = { ...readDotenv(options.cwd, problems) };
  for (const [name, value] of Object.entries(options.env)) {
    if (value !== undefined) settings[name] = value;
  }
  // An empty variable (`MYSQL_PORT=` in a compose file) means "not set"; an empty password is real.
  for (const [name, value] of Object.entries(settings)) {
    if (value === '' && name !== 'MYSQL_PASSWORD') delete settings[name];
  }

  for (const name of FILE_VARIABLES) {
    const fileVariable = `${name}_FILE`;
    const file = settings[fileVariable];
    if (file === undefined) continue;
    if (settings[name] !== undefined) {
      problems.push(`${name} and ${fileVariable} are both set: keep one`);
      continue;
    }
    try {
      // Secret files usually end in a newline that is not part of the secret.
      settings[name] = readFileSync(path.resolve(options.cwd, file), 'utf8').replace(/\r?\n$/, '');
      sources.set(name, `${fileVariable} (${file})`);
    } catch (error) {
      problems.push(`${fileVariable}=${JSON.stringify(file)} cannot be read: ${describeFsError(error)}`);
    }
  }

  const defaultsFile = settings.MYSQL_DEFAULTS_FILE;
  if (defaultsFile !== undefined) {
    const resolved = path.resolve(options.cwd, defaultsFile);
    try {
      const client = mergeGroups(parseOptionFile(readFileSync(resolved, 'utf8')), ['client', 'mysqldump']);
      for (const [key, variable] of Object.entries(OPTION_FILE_KEYS)) {
        const value = client.get(key);
        if (value !== undefined && settings[variable] === undefined) {
          settings[variable] = value;
          sources.set(variable, `${key} in MYSQL_DEFAULTS_FILE (${defaultsFile})`);
        }
      }
      // TLS settings come as a whole: none of the file's when the environment sets any.
      if (TLS_VARIABLES.every((variable) => settings[variable] === undefined)) {
        for (const [variable, value] of Object.entries(tlsSettingsOfOptionFile(client))) {
          // Paths in the file are read as the file's own, relative to its directory.
          settings[variable] = variable === 'MYSQL_SSL_MODE' ? value : path.resolve(path.dirname(resolved), value);
          sources.set(variable, `the ssl options of MYSQL_DEFAULTS_FILE (${defaultsFile})`);
        }
      }
    } catch (error) {
      const why = error instanceof OptionFileError ? error.message : `cannot be read: ${describeFsError(error)}`;
      problems.push(`MYSQL_DEFAULTS_FILE=${JSON.stringify(defaultsFile)} ${why}`);
    }
  }

  for (const [name, value] of Object.entries(DEFAULTS)) {
    settings[name] ??= value;
  }

  // Checked here, not at the first run: a missing CA would otherwise fail every run.
  for (const variable of TLS_FILE_VARIABLES) {
    const file = settings[variable];
    if (file === undefined) continue;
    try {
      readFileSync(path.resolve(options.cwd, file));
    } catch (error) {
      problems.push(`${sources.get(variable) ?? variable}=${JSON.stringify(file)} cannot be read: ${describeFsError(error)}`);
    }
  }

  // Checked here, not at the first run: a mistyped directory would otherwise fail every run.
  const clientDir = settings.MYSQL_CLIENT_DIR;
  if (clientDir !== undefined && !isDirectory(path.resolve(options.cwd, clientDir))) {
    problems.push(`MYSQL_CLIENT_DIR=${JSON.stringify(clientDir)} is not a directory: expected the directory holding mysqldump and mysql`);
  }

  const result = parseSettings(settings, {
    cwd: options.cwd,
    describe: (variable) => sources.get(variable) ?? variable,
  });
  if ('problems' in result) problems.push(...result.problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return (result as { config: Config }).config;
}

function readDotenv(cwd: string, problems: string[]): Settings {
  const file = path.join(cwd, '.env');
  try {
    return dotenv.parse(readFileSync(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    problems.push(`${file} cannot be read: ${describeFsError(error)}`);
    return {};
  }
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory, not a file';
    default:
      return e.message;
  }
}
