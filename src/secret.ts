import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Rule: the password never reaches a command line, a log line, a metric or an error message.
 * A Secret prints as "[redacted]" however it is stringified, logged or inspected, so passing the
 * config object to a logger by mistake cannot leak it; only `reveal()` gives the value, and the
 * few places that call it (the MySQL connection, the private defaults file) are easy to audit.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get isEmpty(): boolean {
    return this.#value.length === 0;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Replaces every occurrence of the secret in text that came from elsewhere (stderr, driver errors). */
export function redact(text: string, secret: Secret): string {
  const value = secret.reveal();
  // Very short passwords would redact ordinary words and make messages unreadable; they are
  // still never put into text by this program, so only outside text is at stake here.
  if (value.length < 3) return text;
  return text.split(value).join(REDACTED);
}
