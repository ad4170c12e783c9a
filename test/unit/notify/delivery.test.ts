import { describe, expect, it } from 'vitest';
import { deliver } from '../../../src/notify/delivery.js';
import { publicUrl, scrubUrl, withPathSuffix } from '../../../src/notify/endpoint.js';
import { Secret } from '../../../src/secret.js';
import { useHttpReceiver } from '../../support/http-receiver.js';

const receiver = useHttpReceiver();

const quickly = { timeoutMs: 1_000, retryDelaysMs: [20, 20] };

describe('a delivery', () => {
  it('is tried three times while the receiver answers 5xx, and reports the last answer', async () => {
    receiver.answer(500);
    const outcome = await deliver({ url: `${receiver.origin}/x`, method: 'GET' }, quickly);
    expect(outcome).toMatchObject({ ok: false, attempts: 3, cause: 'HTTP 500 Internal Server Error' });
    expect(receiver.requests).toHaveLength(3);
  });

  it('succeeds at the attempt the receiver answers again', async () => {
    receiver.answer(503, 200);
    const outcome = await deliver({ url: `${receiver.origin}/x`, method: 'POST', body: '{"text":"hi"}', contentType: 'application/json' }, { timeoutMs: 1_000, retryDelaysMs: [200, 200] });
    expect(outcome).toMatchObject({ ok: true, status: 200, attempts: 2 });
    expect(receiver.requests.map((r) => [r.method, r.body, r.contentType])).toEqual([
      ['POST', '{"text":"hi"}', 'application/json'],
      ['POST', '{"text":"hi"}', 'application/json'],
    ]);
  });

  it('to a receiver that never answers ends at each attempt\'s limit, naming NOTIFY_TIMEOUT', async () => {
    receiver.answer('hang');
    const began = Date.now();
    const outcome = await deliver({ url: `${receiver.origin}/x`, method: 'GET' }, { timeoutMs: 300, retryDelaysMs: [20, 20] });
    expect(outcome).toMatchObject({ ok: false, attempts: 3, cause: 'no answer within 300 ms (NOTIFY_TIMEOUT)' });
    expect(Date.now() - began).toBeGreaterThanOrEqual(900);
  });

  it('stops when its signal aborts, between attempts too', async () => {
    receiver.answer(502);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    const outcome = await deliver({ url: `${receiver.origin}/x`, method: 'GET' }, { timeoutMs: 1_000, retryDelaysMs: [5_000, 5_000], signal: stop.signal });
    expect(outcome).toMatchObject({ ok: false, attempts: 1, cause: 'abandoned when the sidecar stopped (last: HTTP 502 Bad Gateway)' });
  });
});

describe('a notification URL', () => {
  const url = new Secret('https://user:pa55@hc-ping.com:8443/0b7e3c52-token/?key=k3y');

  it('is shown as its scheme, host and port only', () => {
    expect(publicUrl(url)).toBe('https://hc-ping.com:8443/…');
    expect(publicUrl(new Secret('http://127.0.0.1:9000'))).toBe('http://127.0.0.1:9000/');
  });

  it('takes a signal into its path, before the query', () => {
    expect(withPathSuffix(url, 'fail')).toBe('https://user:pa55@hc-ping.com:8443/0b7e3c52-token/fail?key=k3y');
    expect(withPathSuffix(new Secret('http://kuma.lan/api/push/abc'), 'start')).toBe('http://kuma.lan/api/push/abc/start');
  });

  it('is taken out of text from elsewhere in every form it may appear', () => {
    const text = `request to https://user:pa55@hc-ping.com:8443/0b7e3c52-token/fail?key=k3y failed; path /0b7e3c52-token/, query ?key=k3y, pa55`;
    const scrubbed = scrubUrl(text, url);
    for (const secret of ['0b7e3c52-token', 'k3y', 'pa55']) expect(scrubbed).not.toContain(secret);
  });
});
