import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

let cwd: string;
beforeEach(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'mbs-notify-config-'));
});

const load = (env: Record<string, string>) => loadConfig({ env: { MYSQL_USER: 'u', ...env }, cwd });

function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const TOKEN = '5f1c8e0a-token-in-the-path';

describe('notification settings', () => {
  it('are all off by default, with failure and recovery as the webhook occasions and 10 s per attempt', () => {
    expect(load({}).notify).toEqual({ pingUrl: undefined, drillPingUrl: undefined, webhookUrl: undefined, webhookOn: ['failure', 'recovery'], timeoutMs: 10_000 });
  });

  it('keep the URLs secret however the configuration is printed', () => {
    const config = load({ NOTIFY_PING_URL: `https://hc-ping.com/${TOKEN}`, NOTIFY_WEBHOOK_URL: `https://hooks.example/services/${TOKEN}` });
    expect(config.notify.pingUrl?.reveal()).toBe(`https://hc-ping.com/${TOKEN}`);
    expect(inspect(config, { depth: 10 }) + JSON.stringify(config)).not.toContain(TOKEN);
  });

  it('read a URL from its _FILE, without the trailing newline', async () => {
    const file = path.join(cwd, 'ping-url');
    await writeFile(file, `https://hc-ping.com/${TOKEN}\n`);
    expect(load({ NOTIFY_PING_URL_FILE: file }).notify.pingUrl?.reveal()).toBe(`https://hc-ping.com/${TOKEN}`);
  });

  it('refuse a value that is not an http(s) URL, naming the variable and never the value', () => {
    const problems = problemsOf({ NOTIFY_PING_URL: `hc-ping.com/${TOKEN}`, NOTIFY_WEBHOOK_URL: `ftp://files.example/${TOKEN}` });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^NOTIFY_PING_URL is not a URL/);
    expect(problems[1]).toMatch(/^NOTIFY_WEBHOOK_URL is a ftp: URL: expected http:\/\/ or https:\/\//);
    expect(problems.join('\n')).not.toContain(TOKEN);
  });

  it('take a list of webhook occasions, refusing unknown words and occasions without a webhook', () => {
    const url = 'https://hooks.example/x';
    expect(load({ NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_ON: ' Failure, success,failure ' }).notify.webhookOn).toEqual(['failure', 'success']);
    expect(problemsOf({ NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_ON: 'failure,sucess' })).toEqual([
      'NOTIFY_WEBHOOK_ON="failure,sucess" expected a comma-separated list of failure, recovery, success',
    ]);
    expect(problemsOf({ NOTIFY_WEBHOOK_ON: 'failure' })).toEqual([
      'NOTIFY_WEBHOOK_ON="failure" is set but NOTIFY_WEBHOOK_URL is not: name the webhook, or unset it',
    ]);
  });

  it('bound NOTIFY_TIMEOUT to 1s..1m', () => {
    expect(load({ NOTIFY_TIMEOUT: '30s' }).notify.timeoutMs).toBe(30_000);
    expect(problemsOf({ NOTIFY_TIMEOUT: '2m' })[0]).toMatch(/^NOTIFY_TIMEOUT="2m" .*expected a duration from 1s to 1m/);
    expect(problemsOf({ NOTIFY_TIMEOUT: 'soon' })[0]).toMatch(/^NOTIFY_TIMEOUT="soon"/);
  });
});
