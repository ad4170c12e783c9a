import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { isDumpName, makeTempDir, readLogEvents, runCli } from '../support/cli.js';
import { useHttpReceiver } from '../support/http-receiver.js';

const PASSWORD = 'notify-test-password';
const TOKEN = '7d3f0c2e-ping-token';
const KEY = 'q5-key-in-the-query';

const receiver = useHttpReceiver();

describe('the backup command with a ping URL', () => {
  const fixture = useBackupServer({ password: PASSWORD });

  it('pings /start, then the URL, and no log line or output shows the token', async () => {
    const dir = await makeTempDir();
    const env = sidecarEnv(fixture.server, PASSWORD, dir, { NOTIFY_PING_URL: `${receiver.origin}/ping/${TOKEN}?k=${KEY}`, LOG_LEVEL: 'debug' });
    const result = await runCli(['backup'], env);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`GET /ping/${TOKEN}/start?k=${KEY}`, `GET /ping/${TOKEN}?k=${KEY}`]);
    const log = await readLogEvents(path.join(dir, 'backup.log'));
    expect(log.filter((e) => e.event === 'notify.delivered')).toHaveLength(2);
    const everything = JSON.stringify(log) + result.stdout + result.stderr;
    for (const secret of [TOKEN, KEY]) expect(everything).not.toContain(secret);
  });

  it('posts the cause to /fail when the run fails, without the password', async () => {
    const dir = await makeTempDir();
    const result = await runCli(['backup'], sidecarEnv(fixture.server, 'a-wrong-password', dir, { NOTIFY_PING_URL: `${receiver.origin}/ping/${TOKEN}` }));
    expect(result.exitCode).not.toBe(0);
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`GET /ping/${TOKEN}/start`, `POST /ping/${TOKEN}/fail`]);
    expect(receiver.requests[1]!.body).toMatch(/^backup failed: .*Access denied/);
    expect(receiver.requests[1]!.body).not.toContain('a-wrong-password');
  });

  it('still stores the backup when the receiver answers 500, logs the failure and exits within about NOTIFY_TIMEOUT', async () => {
    receiver.answer(500);
    const dir = await makeTempDir();
    const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, { NOTIFY_PING_URL: `${receiver.origin}/ping/${TOKEN}`, NOTIFY_TIMEOUT: '2s' }));
    expect(result.exitCode, result.stderr).toBe(0);
    expect((await readdir(dir)).filter(isDumpName)).toHaveLength(1);
    const failed = (await readLogEvents(path.join(dir, 'backup.log'))).filter((e) => e.event === 'notify.failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    // The command waits one NOTIFY_TIMEOUT after the run, so the retries may be cut short; each says so.
    expect(failed[0]).toMatchObject({ kind: 'ping', signal: 'start' });
    expect(failed[0]!.cause).toMatch(/HTTP 500 Internal Server Error/);
    expect(receiver.requests.length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('refuses a bad URL at start-up, naming the variable and not the value', async () => {
    const dir = await makeTempDir();
    const result = await runCli(['backup'], sidecarEnv(fixture.server, PASSWORD, dir, { NOTIFY_WEBHOOK_URL: `hooks.example/${TOKEN}` }));
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('NOTIFY_WEBHOOK_URL is not a URL');
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
    expect(receiver.requests).toEqual([]);
  });
});
