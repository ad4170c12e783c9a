/**
 * The MySQL option-file format (`.my.cnf`), read and written the way the MySQL and MariaDB
 * clients do (mysys/my_default.c): `[group]` headers, `key=value` or bare `key`, `#` and `;`
 * comment lines, a `#` outside quotes ends the value, surrounding quotes are stripped, and
 * backslash escapes \n \t \r \b \s \\ \" \' are decoded.
 */

export type OptionGroups = ReadonlyMap<string, ReadonlyMap<string, string>>;

export class OptionFileError extends Error {}

export function parseOptionFile(text: string): OptionGroups {
  const groups = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    if (line.startsWith('!')) {
      // Following includes would read files we were not pointed at; say so rather than guess.
      throw new OptionFileError(
        `line ${index + 1}: "${line.split(/\s/)[0]}" is not supported; put the options in this file itself`,
      );
    }
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) {
      const name = header[1]!.trim().toLowerCase();
      current = groups.get(name) ?? new Map();
      groups.set(name, current);
      return;
    }
    if (!current) throw new OptionFileError(`line ${index + 1}: an option appears before any [group] header`);
    const content = removeEndComment(line);
    const eq = content.indexOf('=');
    const key = normaliseKey(eq === -1 ? content : content.slice(0, eq));
    const value = eq === -1 ? '' : decodeValue(content.slice(eq + 1).trim());
    if (key !== '') current.set(key, value);
  });
  return groups;
}

/** Options of the groups named, later groups overriding earlier ones, as the clients merge them. */
export function mergeGroups(groups: OptionGroups, names: readonly string[]): Map<string, string> {
  const merged = new Map<string, string>();
  for (const name of names) {
    for (const [key, value] of groups.get(name) ?? []) merged.set(key, value);
  }
  return merged;
}

/** One `key="value"` line whose value any MySQL or MariaDB client reads back unchanged. */
export function formatOption(key: string, value: string): string {
  const escaped = value.replace(/[\\"\n\r\t\b]/g, (c) => ESCAPES_OUT[c]!);
  return `${key}="${escaped}"`;
}

const ESCAPES_OUT: Record<string, string> = {
  '\\': '\\\\',
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
};

const ESCAPES_IN: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  s: ' ',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

function normaliseKey(key: string): string {
  return key.trim().toLowerCase().replace(/_/g, '-');
}

function removeEndComment(line: string): string {
  let quote = '';
  let escaped = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if ((c === '"' || c === "'") && !escaped) {
      if (!quote) quote = c;
      else if (quote === c) quote = '';
    } else if (!quote && c === '#') {
      return line.slice(0, i).trimEnd();
    }
    escaped = quote !== '' && c === '\\' && !escaped;
  }
  return line;
}

function decodeValue(value: string): string {
  let inner = value;
  const first = inner[0];
  if (inner.length >= 2 && (first === '"' || first === "'") && inner.endsWith(first)) {
    inner = inner.slice(1, -1);
  }
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c === '\\' && i + 1 < inner.length) {
      const next = inner[++i]!;
      // Unknown escapes keep their backslash, as the C reader does.
      out += ESCAPES_IN[next] ?? `\\${next}`;
    } else {
      out += c;
    }
  }
  return out;
}
