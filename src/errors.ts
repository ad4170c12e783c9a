/**
 * Errors are values with context: what failed, why, and what the user can do about it.
 * The CLI prints `message` (and `hint`) as plain lines and maps `exitCode`; stack traces only
 * appear with LOG_LEVEL=debug.
 */
export class UserError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** A configuration value is missing or malformed; every problem found is listed, one per line. */
export class ConfigError extends UserError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'), { exitCode: 2 });
    this.problems = problems;
  }
}

/** Wrong command-line usage. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, { exitCode: 2, hint: 'Run `mysql-backup-sidecar --help` for usage.' });
  }
}
