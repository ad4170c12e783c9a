import path from 'node:path';
import { validateDetailed } from 'node-cron';
import { z } from 'zod';
import { SSL_MODES, type Tls, tlsFromSettings } from '../mysql/tls.js';
import { CronTimes } from '../schedule-times.js';
import { Secret } from '../secret.js';
import { DURATION_FORMAT, parseDuration } from './duration.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export interface Config {
  readonly mysql: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: Secret;
    /** How long a run waits for the server to answer before it fails. */
    readonly waitTimeoutMs: number;
    /** Where mysqldump and mysql are (MYSQL_CLIENT_DIR); undefined: found on PATH. */
    readonly clientDir: string | undefined;
    /** MYSQL_SSL_*; undefined when none is set: each client's own default. */
    readonly tls: Tls | undefined;
  };
  readonly backup: {
    readonly dir: string;
    readonly compression: Compression;
    readonly compressionLevel: number;
    readonly timeoutMs: number;
    readonly logFile: string;
    /** A dump that takes a global read lock waits while a statement has run longer; undefined: off. */
    readonly longQueryGuardMs: number | undefined;
    /** Record the binlog position and GTID set (auto), or neither, and take no global read lock (off). */
    readonly binlogCoordinates: boolean;
  };
  readonly schedule: {
    readonly expression: string;
    readonly timeZone: string;
    readonly onStart: boolean;
    readonly maxAgeMs: number | undefined;
    readonly stopGraceMs: number;
  };
  readonly retention: {
    readonly maxAgeMs: number;
    readonly keepMin: number;
    /**
     * A good dump under this fraction of the median of those before it is suspect (restore latest
     * asks for --force; it does not count towards keepMin); 0: none is.
     */
    readonly sizeDropRatio: number;
  };
  readonly http: {
    readonly host: string;
    readonly port: number;
  };
  /** Scheduled restore drills into a scratch server; off unless a schedule is set. */
  readonly drill: {
    readonly schedule: string | undefined;
    readonly defaultsFile: string | undefined;
  };
  /** The binlog archive (binlog/streamer.ts): the server's binary log streamed into `dir` as it is written. */
  readonly binlog: {
    readonly archive: boolean;
    /** Absolute; $BACKUP_DIR/binlogs unless BINLOG_DIR names another. */
    readonly dir: string;
    /** The replication server id the stream connects with; no other server or replica may use it. */
    readonly serverId: number;
  };
  /** Pings to a dead-man's switch and a chat webhook (notify/); each off unless its URL is set. */
  readonly notify: {
    /** Secrets: a ping or webhook URL carries its token in the path. */
    readonly pingUrl: Secret | undefined;
    readonly drillPingUrl: Secret | undefined;
    readonly webhookUrl: Secret | undefined;
    readonly webhookOn: readonly WebhookOccasion[];
    /** One attempt's limit; a delivery makes up to three. */
    readonly timeoutMs: number;
  };
  readonly logLevel: string;
}

/** When the webhook posts: a failed run, the first good one after failures, every good one. */
export const WEBHOOK_OCCASIONS = ['failure', 'recovery', 'success'] as const;
export type WebhookOccasion = (typeof WEBHOOK_OCCASIONS)[number];

/**
 * 8437 lies outside the ports the Prometheus project allocates to exporters (9100-9999) and its
 * own (9090-9094), so the sidecar collides with no exporter beside it, mysqld_exporter included.
 */
export const DEFAULT_HTTP_PORT = 8437;

/** Defaults of the variables that have one; the README's configuration table mirrors this. */
export const DEFAULTS = {
  MYSQL_HOST: '127.0.0.1',
  MYSQL_PORT: '3306',
  MYSQL_PASSWORD: '',
  MYSQL_WAIT_TIMEOUT: '2m',
  BACKUP_DIR: '/backup/mysql',
  BACKUP_SCHEDULE: '0 */3 * * *',
  BACKUP_ON_START: 'true',
  BACKUP_RETENTION: '7d',
  BACKUP_KEEP_MIN: '1',
  // Half: a lost database or table shows; a week's ordinary churn does not.
  BACKUP_SIZE_DROP_RATIO: '0.5',
  // zstd -3 took half the time and CPU of gzip -6 for a size within 5% (bench/results, README).
  BACKUP_COMPRESSION: 'zstd',
  BACKUP_TIMEOUT: '6h',
  BACKUP_STOP_GRACE: '30s',
  // Also the dump session's lock wait, so the longest a flush may hold writes up (README: the global
  // read lock). mydumper's guard defaults to 60 s, a minute of stalled writes.
  BACKUP_LONG_QUERY_GUARD: '5s',
  BACKUP_BINLOG_COORDINATES: 'auto',
  BINLOG_ARCHIVE: 'false',
  // High, so as not to meet the small ids servers and replicas are usually given; checked at start.
  BINLOG_SERVER_ID: '4000000001',
  TZ: 'UTC',
  LOG_LEVEL: 'info',
  NOTIFY_TIMEOUT: '10s',
  HTTP_HOST: '0.0.0.0',
  HTTP_PORT: String(DEFAULT_HTTP_PORT),
} as const;

/** Level range and default per compressor: gzip as zlib takes it, zstd without --ultra. */
export const COMPRESSION_LEVELS: Record<Exclude<Compression, 'none'>, { min: number; max: number; default: number }> = {
  gzip: { min: 1, max: 9, default: 6 },
  zstd: { min: 1, max: 19, default: 3 },
};

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `is not a duration: expected ${DURATION_FORMAT}` });
    return z.NEVER;
  }
  return ms;
});

/** A duration within [minMs, maxMs], checked at its field as wholeNumber checks a number. */
const boundedDuration = (minMs: number, maxMs: number, expected: string) => duration.pipe(z.number().min(minMs, expected).max(maxMs, expected));

/** A duration, or off (returned as undefined). */
const durationOrOff = z.string().transform((text, ctx) => {
  if (text.trim() === 'off') return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected off or a duration: ${DURATION_FORMAT}` });
    return z.NEVER;
  }
  return ms;
});

/** A fraction from 0 to 1 ("0.5", "0.25"); 0 turns what it measures off. */
const fraction = z
  .string()
  .regex(/^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$/, 'expected a fraction from 0 to 1, e.g. 0.5 (0: off)')
  .transform(Number);

const wholeNumber = (min: number, max: number) => {
  const expected = `expected a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^[0-9]+$/, expected)
    .transform(Number)
    .pipe(z.number().min(min, expected).max(max, expected));
};

const TRUTHY = ['true', '1', 'yes', 'on'] as const;
const FALSY = ['false', '0', 'no', 'off'] as const;

const cronExpression = z.string().superRefine((expression, ctx) => {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    ctx.addIssue({
      code: 'custom',
      message: `has ${fields} fields: expected a cron expression of 5 fields (minute hour day month weekday) or 6 (seconds first), e.g. "0 */3 * * *"`,
    });
    return;
  }
  const result = validateDetailed(expression);
  if (!result.valid) {
    const why = result.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    ctx.addIssue({ code: 'custom', message: `is not a valid cron expression (${why})` });
    return;
  }
  try {
    new CronTimes(expression, 'UTC').nextAfter(Date.now());
  } catch {
    ctx.addIssue({ code: 'custom', message: 'never fires: no day within 30 years has what its fields ask for together' });
  }
});

/** An http(s) URL; its value is never shown in a message (it holds a token), only what is wrong. */
const notifyUrl = z.string().superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a URL: expected http:// or https:// followed by a host (the value is not shown: it may hold a token)' });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `is a ${url.protocol} URL: expected http:// or https://` });
  }
});

const webhookOccasions = z.string().transform((text, ctx) => {
  const words = text.split(',').map((word) => word.trim().toLowerCase()).filter(Boolean);
  const unknown = words.filter((word) => !(WEBHOOK_OCCASIONS as readonly string[]).includes(word));
  if (words.length === 0 || unknown.length > 0) {
    ctx.addIssue({ code: 'custom', message: `expected a comma-separated list of ${WEBHOOK_OCCASIONS.join(', ')}` });
    return z.NEVER;
  }
  return [...new Set(words)] as WebhookOccasion[];
});

const timeZone = z.string().refine(isTimeZone, {
  message: 'is not a time zone: expected an IANA name such as UTC or Europe/Berlin',
});

const variables = z.object({
    MYSQL_HOST: z.string().regex(/^[^\s]+$/, 'expected a host name or address without spaces'),
    MYSQL_PORT: wholeNumber(1, 65535),
    MYSQL_USER: z.string({ error: 'is not set: name the MySQL account, here or as `user` in MYSQL_DEFAULTS_FILE' }),
    MYSQL_PASSWORD: z.string(),
    MYSQL_WAIT_TIMEOUT: duration,
    MYSQL_CLIENT_DIR: z.string().optional(),
    MYSQL_SSL_MODE: z
      .string()
      .transform((mode) => mode.trim().toUpperCase())
      .pipe(z.enum(SSL_MODES, { error: `expected one of ${SSL_MODES.join(', ')}` }))
      .optional(),
    MYSQL_SSL_CA: z.string().optional(),
    MYSQL_SSL_CERT: z.string().optional(),
    MYSQL_SSL_KEY: z.string().optional(),
    BACKUP_DIR: z.string(),
    BACKUP_SCHEDULE: cronExpression,
    BACKUP_ON_START: z.enum([...TRUTHY, ...FALSY], { error: 'expected true or false' }),
    BACKUP_RETENTION: duration,
    BACKUP_KEEP_MIN: wholeNumber(1, 100_000),
    BACKUP_SIZE_DROP_RATIO: fraction,
    BACKUP_COMPRESSION: z.enum(['gzip', 'zstd', 'none'], { error: 'expected gzip, zstd or none' }),
    BACKUP_COMPRESSION_LEVEL: z.string().optional(),
    BACKUP_MAX_AGE: duration.optional(),
    BACKUP_TIMEOUT: duration,
    BACKUP_STOP_GRACE: duration,
    BACKUP_LONG_QUERY_GUARD: durationOrOff,
    BACKUP_BINLOG_COORDINATES: z.enum(['auto', 'off'], { error: 'expected auto or off' }),
    BACKUP_LOG_FILE: z.string().optional(),
    BINLOG_ARCHIVE: z.enum([...TRUTHY, ...FALSY], { error: 'expected true or false' }),
    BINLOG_DIR: z.string().optional(),
    BINLOG_SERVER_ID: wholeNumber(1, 4_294_967_295),
    TZ: timeZone,
    HTTP_HOST: z.string().regex(/^[^\s]+$/, 'expected an address to listen on, e.g. 0.0.0.0 or 127.0.0.1'),
    HTTP_PORT: wholeNumber(1, 65535),
    DRILL_SCHEDULE: cronExpression.optional(),
    DRILL_DEFAULTS_FILE: z.string().optional(),
    NOTIFY_PING_URL: notifyUrl.optional(),
    NOTIFY_DRILL_PING_URL: notifyUrl.optional(),
    NOTIFY_WEBHOOK_URL: notifyUrl.optional(),
    NOTIFY_WEBHOOK_ON: webhookOccasions.optional(),
    NOTIFY_TIMEOUT: boundedDuration(1_000, 60_000, 'expected a duration from 1s to 1m: one attempt of a delivery, made up to three times'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], {
      error: 'expected one of fatal, error, warn, info, debug, trace',
    }),
});

/** Every variable the configuration reads, for checking files that set them (compose, .env). */
export const CONFIG_VARIABLES: readonly string[] = [
  ...Object.keys(variables.shape),
  'MYSQL_DEFAULTS_FILE',
  'MYSQL_PASSWORD_FILE',
  'MYSQL_USER_FILE',
  'NOTIFY_PING_URL_FILE',
  'NOTIFY_DRILL_PING_URL_FILE',
  'NOTIFY_WEBHOOK_URL_FILE',
];

const schema = variables.superRefine((values, ctx) => {
    if ((values.MYSQL_SSL_MODE === 'VERIFY_CA' || values.MYSQL_SSL_MODE === 'VERIFY_IDENTITY') && values.MYSQL_SSL_CA === undefined) {
      // MySQL's clients refuse the mode without a CA; the driver would take the system's CAs: they would disagree.
      ctx.addIssue({
        code: 'custom',
        path: ['MYSQL_SSL_MODE'],
        message: 'needs MYSQL_SSL_CA: the CA that signed the server\'s certificate (REQUIRED encrypts without checking it)',
      });
    }
    if ((values.MYSQL_SSL_CERT === undefined) !== (values.MYSQL_SSL_KEY === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [values.MYSQL_SSL_CERT === undefined ? 'MYSQL_SSL_CERT' : 'MYSQL_SSL_KEY'],
        message: 'is not set but its pair is: a client certificate needs MYSQL_SSL_CERT and MYSQL_SSL_KEY together',
      });
    }
    if (values.DRILL_SCHEDULE !== undefined && values.DRILL_DEFAULTS_FILE === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['DRILL_DEFAULTS_FILE'],
        message: 'is not set but DRILL_SCHEDULE is: name a .my.cnf (host, port, user, password) of the scratch server drills restore into',
      });
    }
    if (values.NOTIFY_WEBHOOK_ON !== undefined && values.NOTIFY_WEBHOOK_URL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['NOTIFY_WEBHOOK_ON'], message: 'is set but NOTIFY_WEBHOOK_URL is not: name the webhook, or unset it' });
    }
    const level = values.BACKUP_COMPRESSION_LEVEL;
    if (level === undefined) return;
    if (values.BACKUP_COMPRESSION === 'none') {
      ctx.addIssue({
        code: 'custom',
        path: ['BACKUP_COMPRESSION_LEVEL'],
        message: 'is set but BACKUP_COMPRESSION is none: unset it, or choose gzip or zstd',
      });
      return;
    }
    const range = COMPRESSION_LEVELS[values.BACKUP_COMPRESSION];
    const n = Number(level);
    if (!/^[0-9]+$/.test(level) || n < range.min || n > range.max) {
      ctx.addIssue({
        code: 'custom',
        path: ['BACKUP_COMPRESSION_LEVEL'],
        message: `expected a whole number from ${range.min} to ${range.max} for ${values.BACKUP_COMPRESSION}`,
      });
    }
  });

export type Settings = Record<string, string | undefined>;

/** Variables whose value must never be echoed back, not even in a validation message. */
const SECRET_VARIABLES = new Set(['MYSQL_PASSWORD', 'NOTIFY_PING_URL', 'NOTIFY_DRILL_PING_URL', 'NOTIFY_WEBHOOK_URL']);

/**
 * Validates the merged settings and returns the typed configuration, or the list of problems.
 * `describe(variable)` names where a value came from, for messages ("MYSQL_PORT", or "port in
 * /run/secrets/.my.cnf").
 */
export function parseSettings(
  settings: Settings,
  options: { cwd: string; describe: (variable: string) => string },
): { config: Config } | { problems: string[] } {
  const result = schema.safeParse(settings);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '');
      const raw = settings[variable];
      const shown = raw === undefined || SECRET_VARIABLES.has(variable) ? '' : `=${JSON.stringify(raw)}`;
      return `${options.describe(variable)}${shown} ${issue.message}`;
    });
    return { problems };
  }
  const v = result.data;
  const backupDir = path.resolve(options.cwd, v.BACKUP_DIR);
  // Resolved as BACKUP_LOG_FILE is: relative to BACKUP_DIR.
  if (v.BINLOG_DIR !== undefined && path.resolve(backupDir, v.BINLOG_DIR) === backupDir) {
    return { problems: [`${options.describe('BINLOG_DIR')}=${JSON.stringify(v.BINLOG_DIR)} is BACKUP_DIR itself: binary logs need a directory of their own (the default is BACKUP_DIR/binlogs)`] };
  }
  const compressionLevel =
    v.BACKUP_COMPRESSION === 'none'
      ? 0
      : v.BACKUP_COMPRESSION_LEVEL !== undefined
        ? Number(v.BACKUP_COMPRESSION_LEVEL)
        : COMPRESSION_LEVELS[v.BACKUP_COMPRESSION].default;
  const config: Config = {
    mysql: {
      host: v.MYSQL_HOST,
      port: v.MYSQL_PORT,
      user: v.MYSQL_USER,
      password: new Secret(v.MYSQL_PASSWORD),
      waitTimeoutMs: v.MYSQL_WAIT_TIMEOUT,
      clientDir: v.MYSQL_CLIENT_DIR === undefined ? undefined : path.resolve(options.cwd, v.MYSQL_CLIENT_DIR),
      tls: tlsFromSettings(
        { MYSQL_SSL_MODE: v.MYSQL_SSL_MODE, MYSQL_SSL_CA: v.MYSQL_SSL_CA, MYSQL_SSL_CERT: v.MYSQL_SSL_CERT, MYSQL_SSL_KEY: v.MYSQL_SSL_KEY },
        (file) => path.resolve(options.cwd, file),
      ),
    },
    backup: {
      dir: backupDir,
      compression: v.BACKUP_COMPRESSION,
      compressionLevel,
      timeoutMs: v.BACKUP_TIMEOUT,
      logFile: path.resolve(backupDir, v.BACKUP_LOG_FILE ?? 'backup.log'),
      longQueryGuardMs: v.BACKUP_LONG_QUERY_GUARD,
      binlogCoordinates: v.BACKUP_BINLOG_COORDINATES === 'auto',
    },
    schedule: {
      expression: v.BACKUP_SCHEDULE.trim(),
      timeZone: v.TZ,
      onStart: (TRUTHY as readonly string[]).includes(v.BACKUP_ON_START),
      maxAgeMs: v.BACKUP_MAX_AGE,
      stopGraceMs: v.BACKUP_STOP_GRACE,
    },
    retention: {
      maxAgeMs: v.BACKUP_RETENTION,
      keepMin: v.BACKUP_KEEP_MIN,
      sizeDropRatio: v.BACKUP_SIZE_DROP_RATIO,
    },
    http: { host: v.HTTP_HOST, port: v.HTTP_PORT },
    binlog: {
      archive: (TRUTHY as readonly string[]).includes(v.BINLOG_ARCHIVE),
      dir: path.resolve(backupDir, v.BINLOG_DIR ?? 'binlogs'),
      serverId: v.BINLOG_SERVER_ID,
    },
    drill: {
      schedule: v.DRILL_SCHEDULE?.trim(),
      defaultsFile: v.DRILL_DEFAULTS_FILE === undefined ? undefined : path.resolve(options.cwd, v.DRILL_DEFAULTS_FILE),
    },
    notify: {
      pingUrl: secretUrl(v.NOTIFY_PING_URL),
      drillPingUrl: secretUrl(v.NOTIFY_DRILL_PING_URL),
      webhookUrl: secretUrl(v.NOTIFY_WEBHOOK_URL),
      webhookOn: v.NOTIFY_WEBHOOK_ON ?? ['failure', 'recovery'],
      timeoutMs: v.NOTIFY_TIMEOUT,
    },
    logLevel: v.LOG_LEVEL,
  };
  return { config: deepFreeze(config) };
}

const secretUrl = (text: string | undefined) => (text === undefined ? undefined : new Secret(text.trim()));

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object' && !(child instanceof Secret)) deepFreeze(child);
  }
  return Object.freeze(value);
}
