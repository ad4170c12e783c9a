import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

let cwd: string;
beforeEach(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'mbs-config-'));
});

const load = (env: Record<string, string>) => loadConfig({ env, cwd });

function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = load({ MYSQL_USER: 'backup' });
    expect(config.mysql).toMatchObject({ host: '127.0.0.1', port: 3306, user: 'backup', waitTimeoutMs: 120_000 });
    expect(config.backup).toMatchObject({
      dir: '/backup/mysql',
      compression: 'zstd',
      compressionLevel: 3,
      logFile: '/backup/mysql/backup.log',
    });
    expect(config.schedule).toMatchObject({ expression: '0 */3 * * *', timeZone: 'UTC', onStart: true });
    expect(config.retention).toEqual({ maxAgeMs: 7 * 86_400_000, keepMin: 1, sizeDropRatio: 0.5 });
  });

  it('finds the client tools on PATH unless MYSQL_CLIENT_DIR names a directory, resolved from the working directory', async () => {
    expect(load({ MYSQL_USER: 'u' }).mysql.clientDir).toBeUndefined();
    expect(load({ MYSQL_USER: 'u', MYSQL_CLIENT_DIR: '.' }).mysql.clientDir).toBe(cwd);
    expect(problemsOf({ MYSQL_USER: 'u', MYSQL_CLIENT_DIR: 'no/such/dir' })).toEqual([
      'MYSQL_CLIENT_DIR="no/such/dir" is not a directory: expected the directory holding mysqldump and mysql',
    ]);
  });

  it('guards dumps against long statements from 5s by default; off turns the guard off', () => {
    expect(load({ MYSQL_USER: 'u' }).backup.longQueryGuardMs).toBe(5_000);
    expect(load({ MYSQL_USER: 'u', BACKUP_LONG_QUERY_GUARD: '1m' }).backup.longQueryGuardMs).toBe(60_000);
    expect(load({ MYSQL_USER: 'u', BACKUP_LONG_QUERY_GUARD: 'off' }).backup.longQueryGuardMs).toBeUndefined();
    expect(problemsOf({ MYSQL_USER: 'u', BACKUP_LONG_QUERY_GUARD: '10' })).toEqual([
      'BACKUP_LONG_QUERY_GUARD="10" expected off or a duration: a whole number and a unit s, m, h, d or w (e.g. 90s, 15m, 3h, 7d, 2w)',
    ]);
  });

  it('records binlog coordinates unless BACKUP_BINLOG_COORDINATES=off', () => {
    expect(load({ MYSQL_USER: 'u' }).backup.binlogCoordinates).toBe(true);
    expect(load({ MYSQL_USER: 'u', BACKUP_BINLOG_COORDINATES: 'off' }).backup.binlogCoordinates).toBe(false);
    expect(problemsOf({ MYSQL_USER: 'u', BACKUP_BINLOG_COORDINATES: 'no' })).toEqual(['BACKUP_BINLOG_COORDINATES="no" expected auto or off']);
  });

  it('is frozen, and never shows the password however it is printed', () => {
    const config = load({ MYSQL_USER: 'u', MYSQL_PASSWORD: 'hunter2-secret' });
    expect(Object.isFrozen(config.mysql)).toBe(true);
    expect(config.mysql.password.reveal()).toBe('hunter2-secret');
    for (const text of [JSON.stringify(config), inspect(config, { depth: 9 }), String(config.mysql.password)]) {
      expect(text).not.toContain('hunter2-secret');
    }
  });

  it('takes the environment over .env, and .env over the defaults', async () => {
    await writeFile(path.join(cwd, '.env'), 'MYSQL_USER=from-dotenv\nMYSQL_HOST=dotenv-host\n');
    const config = load({ MYSQL_HOST: 'env-host' });
    expect(config.mysql.user).toBe('from-dotenv');
    expect(config.mysql.host).toBe('env-host');
  });

  it('reads *_FILE secrets without their trailing newline', async () => {
    await writeFile(path.join(cwd, 'pw'), 'with space and "quotes"\n');
    const config = load({ MYSQL_USER: 'u', MYSQL_PASSWORD_FILE: 'pw' });
    expect(config.mysql.password.reveal()).toBe('with space and "quotes"');
  });

  it('refuses a password given twice', async () => {
    await writeFile(path.join(cwd, 'pw'), 'x');
    expect(problemsOf({ MYSQL_USER: 'u', MYSQL_PASSWORD: 'y', MYSQL_PASSWORD_FILE: 'pw' })).toEqual([
      'MYSQL_PASSWORD and MYSQL_PASSWORD_FILE are both set: keep one',
    ]);
  });

  it('reads [client] then [mysqldump] of MYSQL_DEFAULTS_FILE, under the environment', async () => {
    await writeFile(
      path.join(cwd, 'my.cnf'),
      '[client]\nuser=cnf-user\npassword="p#w"\nhost=mysql\nport=3307\n[mysqldump]\nuser=dump-user\n',
    );
    const config = load({ MYSQL_DEFAULTS_FILE: 'my.cnf', MYSQL_HOST: 'override' });
    expect(config.mysql).toMatchObject({ user: 'dump-user', host: 'override', port: 3307 });
    expect(config.mysql.password.reveal()).toBe('p#w');
  });

  it('names the .my.cnf option when its value is bad', async () => {
    await writeFile(path.join(cwd, 'my.cnf'), '[client]\nuser=u\nport=abc\n');
    expect(problemsOf({ MYSQL_DEFAULTS_FILE: 'my.cnf' })).toEqual([
      'port in MYSQL_DEFAULTS_FILE (my.cnf)="abc" expected a whole number from 1 to 65535',
    ]);
  });

  it('treats an empty variable as unset, but keeps an empty password', () => {
    const config = load({ MYSQL_USER: 'u', MYSQL_PORT: '', MYSQL_PASSWORD: '' });
    expect(config.mysql.port).toBe(3306);
    expect(config.mysql.password.isEmpty).toBe(true);
  });

  it.each([
    [{ BACKUP_COMPRESSION: 'zstd' }, 3],
    [{ BACKUP_COMPRESSION: 'zstd', BACKUP_COMPRESSION_LEVEL: '19' }, 19],
    [{ BACKUP_COMPRESSION: 'gzip', BACKUP_COMPRESSION_LEVEL: '1' }, 1],
  ])('takes the compression level for the compressor: %j', (env, level) => {
    expect(load({ MYSQL_USER: 'u', ...env }).backup.compressionLevel).toBe(level);
  });

  it.each([
    [{ BACKUP_COMPRESSION_LEVEL: '20' }, 'BACKUP_COMPRESSION_LEVEL="20" expected a whole number from 1 to 19 for zstd'],
    [{ BACKUP_COMPRESSION: 'gzip', BACKUP_COMPRESSION_LEVEL: '10' }, 'BACKUP_COMPRESSION_LEVEL="10" expected a whole number from 1 to 9 for gzip'],
    [
      { BACKUP_COMPRESSION: 'none', BACKUP_COMPRESSION_LEVEL: '3' },
      'BACKUP_COMPRESSION_LEVEL="3" is set but BACKUP_COMPRESSION is none: unset it, or choose gzip or zstd',
    ],
    [{ BACKUP_KEEP_MIN: '0' }, 'BACKUP_KEEP_MIN="0" expected a whole number from 1 to 100000'],
    [{ BACKUP_ON_START: 'maybe' }, 'BACKUP_ON_START="maybe" expected true or false'],
    [{ BACKUP_TIMEOUT: '0s' }, 'BACKUP_TIMEOUT="0s" is not a duration'],
    [{ BACKUP_SCHEDULE: '61 * * * *' }, 'BACKUP_SCHEDULE="61 * * * *" is not a valid cron expression'],
    [{ BACKUP_SCHEDULE: '* * * * * * *' }, 'BACKUP_SCHEDULE="* * * * * * *" has 7 fields'],
    [{ TZ: 'Europe/Atlantis' }, 'TZ="Europe/Atlantis" is not a time zone'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL="loud" expected one of fatal, error, warn, info, debug, trace'],
    [{ DRILL_SCHEDULE: '0 4 * * *' }, 'DRILL_DEFAULTS_FILE is not set but DRILL_SCHEDULE is'],
    [{ HTTP_PORT: '0' }, 'HTTP_PORT="0" expected a whole number from 1 to 65535'],
    // node-cron takes it; the first Tuesday of a month is never its 31st.
    [{ BACKUP_SCHEDULE: '0 0 31 * 2#1' }, 'BACKUP_SCHEDULE="0 0 31 * 2#1" never fires'],
    [{ MYSQL_SSL_MODE: 'verify_identity' }, 'MYSQL_SSL_MODE="verify_identity" needs MYSQL_SSL_CA'],
    [{ MYSQL_SSL_MODE: 'strict' }, 'MYSQL_SSL_MODE="strict" expected one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY'],
    [{ MYSQL_SSL_CERT: __filename }, 'MYSQL_SSL_KEY is not set but its pair is'],
  ])('names the variable and what it expects: %j', (env, message) => {
    const problems = problemsOf({ MYSQL_USER: 'u', ...env });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it('accepts 6-field schedules with seconds and any IANA zone', () => {
    const config = load({ MYSQL_USER: 'u', BACKUP_SCHEDULE: '*/2 * * * * *', TZ: 'America/Argentina/Buenos_Aires' });
    expect(config.schedule.expression).toBe('*/2 * * * * *');
  });

  it('resolves a relative BACKUP_DIR against the working directory, and the log inside it', () => {
    const config = load({ MYSQL_USER: 'u', BACKUP_DIR: 'backups' });
    expect(config.backup.dir).toBe(path.join(cwd, 'backups'));
    expect(config.backup.logFile).toBe(path.join(cwd, 'backups', 'backup.log'));
  });
});

const URL_TOKEN = '5f1c8e0a-token-in-the-path';

describe('notification settings', () => {
  it('are all off by default, with failure and recovery as the webhook occasions and 10 s per attempt', () => {
    expect(load({ MYSQL_USER: 'u' }).notify).toEqual({ pingUrl: undefined, drillPingUrl: undefined, webhookUrl: undefined, webhookOn: ['failure', 'recovery'], timeoutMs: 10_000 });
  });

  it('keep the URLs secret however the configuration is printed', () => {
    const config = load({ MYSQL_USER: 'u', NOTIFY_PING_URL: `https://hc-ping.com/${URL_TOKEN}`, NOTIFY_WEBHOOK_URL: `https://hooks.example/services/${URL_TOKEN}` });
    expect(config.notify.pingUrl?.reveal()).toBe(`https://hc-ping.com/${URL_TOKEN}`);
    expect(inspect(config, { depth: 10 }) + JSON.stringify(config)).not.toContain(URL_TOKEN);
  });

  it('read a URL from its _FILE, without the trailing newline', async () => {
    const file = path.join(cwd, 'ping-url');
    await writeFile(file, `https://hc-ping.com/${URL_TOKEN}\n`);
    expect(load({ MYSQL_USER: 'u', NOTIFY_PING_URL_FILE: file }).notify.pingUrl?.reveal()).toBe(`https://hc-ping.com/${URL_TOKEN}`);
  });

  it('refuse a value that is not an http(s) URL, naming the variable and never the value', () => {
    const problems = problemsOf({ MYSQL_USER: 'u', NOTIFY_PING_URL: `hc-ping.com/${URL_TOKEN}`, NOTIFY_WEBHOOK_URL: `ftp://files.example/${URL_TOKEN}` });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^NOTIFY_PING_URL is not a URL/);
    expect(problems[1]).toMatch(/^NOTIFY_WEBHOOK_URL is a ftp: URL: expected http:\/\/ or https:\/\//);
    expect(problems.join('\n')).not.toContain(URL_TOKEN);
  });

  it('take a list of webhook occasions, refusing unknown words and occasions without a webhook', () => {
    const url = 'https://hooks.example/x';
    expect(load({ MYSQL_USER: 'u', NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_ON: ' Failure, success,failure ' }).notify.webhookOn).toEqual(['failure', 'success']);
    expect(problemsOf({ MYSQL_USER: 'u', NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_ON: 'failure,sucess' })).toEqual([
      'NOTIFY_WEBHOOK_ON="failure,sucess" expected a comma-separated list of failure, recovery, success',
    ]);
    expect(problemsOf({ MYSQL_USER: 'u', NOTIFY_WEBHOOK_ON: 'failure' })).toEqual([
      'NOTIFY_WEBHOOK_ON="failure" is set but NOTIFY_WEBHOOK_URL is not: name the webhook, or unset it',
    ]);
  });

  it('bound NOTIFY_TIMEOUT to 1s..1m', () => {
    expect(load({ MYSQL_USER: 'u', NOTIFY_TIMEOUT: '30s' }).notify.timeoutMs).toBe(30_000);
    expect(problemsOf({ MYSQL_USER: 'u', NOTIFY_TIMEOUT: '2m' })[0]).toMatch(/^NOTIFY_TIMEOUT="2m" .*expected a duration from 1s to 1m/);
    expect(problemsOf({ MYSQL_USER: 'u', NOTIFY_TIMEOUT: 'soon' })[0]).toMatch(/^NOTIFY_TIMEOUT="soon"/);
  });
});
