import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/schema.js';
import type { SidecarEvent } from '../../../src/events.js';
import { Notifier } from '../../../src/notify/notifier.js';
import { Secret } from '../../../src/secret.js';
import { startHttpReceiver, useHttpReceiver } from '../../support/http-receiver.js';

const TOKEN = '0b7e3c52-9f3a-4c1e-token';
const SERVER = 'db.internal:3306';

const receiver = useHttpReceiver();

function settings(urls: { ping?: string; drillPing?: string; webhook?: string }, more: Partial<Config['notify']> = {}): Config['notify'] {
  const secret = (path: string | undefined) => (path === undefined ? undefined : new Secret(`${receiver.origin}${path}`));
  return {
    pingUrl: secret(urls.ping),
    drillPingUrl: secret(urls.drillPing),
    webhookUrl: secret(urls.webhook),
    webhookOn: ['failure', 'recovery'],
    timeoutMs: 2_000,
    ...more,
  };
}

/** A notifier and the events it reports about its own deliveries. */
function notifierFor(notify: Config['notify'], options: { consecutiveFailures?: number } = {}) {
  const reported: SidecarEvent[] = [];
  const notifier = new Notifier(notify, (event) => reported.push(event), { target: SERVER, host: 'sidecar-1', ...options });
  return { notifier, reported };
}

const started = (runId: string): SidecarEvent => ({ type: 'run.started', runId });
const succeeded = (runId: string): SidecarEvent => ({
  type: 'backup.succeeded',
  runId,
  file: `mysql-${runId}.sql.zst`,
  rawBytes: 4_194_304,
  storedBytes: 1_048_576,
  durationMs: 2_500,
  finishedAt: '2026-12-05T12:00:00.000Z',
  sha256: 'ab'.repeat(32),
  binlog: null,
});
const failed = (runId: string, cause = 'mysqldump exited with code 2'): SidecarEvent => ({ type: 'backup.failed', runId, cause, hint: 'Check the grants.', durationMs: 900 });
const drillStarted: SidecarEvent = { type: 'drill.started', runId: 'd1', file: 'mysql-1.sql.zst', target: 'scratch:3307' };
const drillPassed: SidecarEvent = { type: 'drill.succeeded', runId: 'd1', file: 'mysql-1.sql.zst', target: 'scratch:3307', tables: 12, durationMs: 4_000 };
const drillFailed: SidecarEvent = { type: 'drill.failed', runId: 'd1', file: 'mysql-1.sql.zst', target: 'scratch:3307', problems: ['shop.orders: 10/12 rows'], durationMs: 4_000 };

describe('the pings', () => {
  it('go out in order for a good run: /start, then the URL itself, with the query kept after the path', async () => {
    const { notifier, reported } = notifierFor(settings({ ping: `/ping/${TOKEN}?create=1` }));
    notifier.observe(started('r1'));
    notifier.observe(succeeded('r1'));
    await notifier.drain(5_000);
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`GET /ping/${TOKEN}/start?create=1`, `GET /ping/${TOKEN}?create=1`]);
    expect(reported.map((e) => e.type)).toEqual(['notify.delivered', 'notify.delivered']);
    expect(reported[0]).toMatchObject({ kind: 'ping', signal: 'start', status: 200, attempts: 1, url: `${receiver.origin}/…` });
    expect(JSON.stringify(reported)).not.toContain(TOKEN);
  });

  it('post the cause and the hint to /fail when a run fails', async () => {
    const { notifier } = notifierFor(settings({ ping: `/ping/${TOKEN}/` }));
    notifier.observe(started('r2'));
    notifier.observe(failed('r2', 'Access denied for user backup'));
    await notifier.drain(5_000);
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`GET /ping/${TOKEN}/start`, `POST /ping/${TOKEN}/fail`]);
    const fail = receiver.requests[1]!;
    expect(fail.contentType).toMatch(/^text\/plain/);
    expect(fail.body).toBe('backup failed: Access denied for user backup\nCheck the grants.\nrun r2\n');
  });

  it('of a drill go to NOTIFY_DRILL_PING_URL when set, never to the backups\' URL', async () => {
    const { notifier } = notifierFor(settings({ ping: '/backups', drillPing: '/drills' }));
    for (const event of [drillStarted, drillPassed, drillStarted, drillFailed]) notifier.observe(event);
    await notifier.drain(5_000);
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /drills/start', 'GET /drills', 'GET /drills/start', 'POST /drills/fail']);
  });

  it('without a drill URL, only a failed drill pings the backups\' /fail: a good drill is no good backup', async () => {
    const { notifier } = notifierFor(settings({ ping: '/backups' }));
    for (const event of [drillStarted, drillPassed, drillStarted, drillFailed]) notifier.observe(event);
    await notifier.drain(5_000);
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /backups/fail']);
    expect(receiver.requests[0]!.body).toContain('shop.orders: 10/12 rows');
  });
});

describe('the webhook', () => {
  it('posts each failure and the first success after them, once, with a text and the run\'s fields', async () => {
    const { notifier } = notifierFor(settings({ webhook: `/hooks/${TOKEN}` }));
    for (const event of [succeeded('a'), failed('b'), failed('c'), succeeded('d'), succeeded('e')]) notifier.observe(event);
    await notifier.drain(5_000);
    const posts = receiver.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(receiver.requests.every((r) => r.method === 'POST' && r.contentType === 'application/json')).toBe(true);
    expect(posts.map((p) => [p.occasion, p.runId])).toEqual([
      ['failure', 'b'],
      ['failure', 'c'],
      ['recovery', 'd'],
    ]);
    expect(posts[0]).toMatchObject({ event: 'backup.failed', host: 'sidecar-1', server: SERVER, cause: 'mysqldump exited with code 2' });
    expect(posts[0]!.text).toBe(`mysql-backup-sidecar on sidecar-1: backup of ${SERVER} FAILED (run b): mysqldump exited with code 2\nCheck the grants.`);
    expect(posts[2]).toMatchObject({ event: 'backup.succeeded', failuresBefore: 2, file: 'mysql-d.sql.zst', storedBytes: 1_048_576 });
    expect(posts[2]!.text).toMatch(/works again after 2 failed runs: mysql-d\.sql\.zst \(1(\.0)? MiB stored/);
  });

  it('knows of the failures before a restart, from the run history', async () => {
    const { notifier } = notifierFor(settings({ webhook: '/hook' }), { consecutiveFailures: 3 });
    notifier.observe(succeeded('x'));
    await notifier.drain(5_000);
    expect(receiver.requests.map((r) => JSON.parse(r.body).failuresBefore)).toEqual([3]);
  });

  it('posts every success with NOTIFY_WEBHOOK_ON=success, and nothing else', async () => {
    const { notifier } = notifierFor(settings({ webhook: '/hook' }, { webhookOn: ['success'] }));
    for (const event of [succeeded('a'), failed('b'), succeeded('c')]) notifier.observe(event);
    await notifier.drain(5_000);
    expect(receiver.requests.map((r) => [JSON.parse(r.body).occasion, JSON.parse(r.body).runId])).toEqual([
      ['success', 'a'],
      ['success', 'c'],
    ]);
  });
});

describe('a receiver that does not take a notification', () => {
  it('makes it a failed notification, reported without the URL\'s token; a 4xx is not retried', async () => {
    receiver.answer(404);
    const { notifier, reported } = notifierFor(settings({ ping: `/ping/${TOKEN}` }));
    notifier.observe(started('r'));
    await notifier.drain(5_000);
    expect(receiver.requests).toHaveLength(1);
    expect(reported).toEqual([expect.objectContaining({ type: 'notify.failed', kind: 'ping', signal: 'start', attempts: 1, cause: 'HTTP 404 Not Found' })]);
  });

  it('that cannot be reached is named without the token', async () => {
    // A port that answered a moment ago and is closed now: connections to it are refused.
    const gone = await startHttpReceiver();
    const closed = gone.origin;
    await gone.close();
    const { notifier, reported } = notifierFor({ ...settings({}), pingUrl: new Secret(`${closed}/ping/${TOKEN}`) });
    notifier.observe(started('r'));
    // Refused connections are retried 1 s and 3 s later.
    await notifier.drain(10_000);
    expect(reported).toEqual([expect.objectContaining({ type: 'notify.failed', attempts: 3, cause: 'ECONNREFUSED', url: `${closed}/…` })]);
  }, 15_000);

  it('that hangs is abandoned when the notifier drains, and later ones wait their turn, up to 20', async () => {
    receiver.answer('hang');
    const { notifier, reported } = notifierFor(settings({ ping: `/ping/${TOKEN}` }, { timeoutMs: 30_000 }));
    for (let i = 0; i < 22; i++) notifier.observe(started(`r${i}`));
    expect(reported.map((e) => e.type === 'notify.failed' && e.cause)).toEqual([
      'dropped: 20 notifications already wait for this receiver',
      'dropped: 20 notifications already wait for this receiver',
    ]);
    const began = Date.now();
    await notifier.drain(300);
    expect(Date.now() - began).toBeLessThan(5_000);
    // The one in flight, abandoned; the 19 behind it, abandoned before their first attempt.
    expect(receiver.requests).toHaveLength(1);
    const abandoned = reported.slice(2);
    expect(abandoned).toHaveLength(20);
    expect(abandoned[0]).toMatchObject({ type: 'notify.failed', attempts: 1 });
    expect((abandoned[0] as { cause: string }).cause).toMatch(/^abandoned when the sidecar stopped \(last: /);
    expect(abandoned[19]).toMatchObject({ type: 'notify.failed', attempts: 0, cause: 'abandoned when the sidecar stopped, before its first attempt' });
    expect(JSON.stringify(reported)).not.toContain(TOKEN);
  });
});
