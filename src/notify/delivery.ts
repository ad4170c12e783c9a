import { setTimeout as sleep } from 'node:timers/promises';

export interface Request {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly body?: string;
  readonly contentType?: string;
}

export type Outcome =
  | { readonly ok: true; readonly status: number; readonly attempts: number; readonly durationMs: number }
  | { readonly ok: false; readonly cause: string; readonly attempts: number; readonly durationMs: number };

/** Waits before the second and the third attempt: a receiver restarting gets a few seconds. */
export const RETRY_DELAYS_MS = [1_000, 3_000] as const;

/**
 * One notification, tried up to three times: each attempt ends within `timeoutMs`, and only what
 * a later attempt may change is retried (no answer, 5xx, 408, 429); a 4xx says the URL is wrong.
 * Never throws: the outcome says what happened. `signal` abandons it (the daemon stops).
 */
export async function deliver(request: Request, options: { timeoutMs: number; signal?: AbortSignal; retryDelaysMs?: readonly number[] }): Promise<Outcome> {
  const delays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  const began = Date.now();
  let cause = '';
  let attempts = 0;
  for (;;) {
    if (options.signal?.aborted) break;
    attempts++;
    const result = await attemptOnce(request, options.timeoutMs, options.signal);
    if (result.ok) return { ok: true, status: result.status, attempts, durationMs: Date.now() - began };
    cause = result.cause;
    const delay = delays[attempts - 1];
    if (!result.retry || delay === undefined || options.signal?.aborted) break;
    const waited = await sleep(delay, true, { signal: options.signal }).catch(() => false);
    if (!waited) break;
  }
  if (options.signal?.aborted) cause = `abandoned when the sidecar stopped${attempts > 0 ? ` (last: ${cause})` : ', before its first attempt'}`;
  return { ok: false, cause, attempts, durationMs: Date.now() - began };
}

async function attemptOnce(
  request: Request,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ ok: true; status: number } | { ok: false; retry: boolean; cause: string }> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(request.url, {
      method: request.method,
      ...(request.body !== undefined ? { body: request.body, headers: { 'content-type': request.contentType ?? 'text/plain; charset=utf-8' } } : {}),
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    // The body is read (and dropped) so that the connection is free again.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return { ok: true, status: response.status };
    const retry = response.status >= 500 || response.status === 408 || response.status === 429;
    return { ok: false, retry, cause: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}` };
  } catch (error) {
    if (timeout.aborted) return { ok: false, retry: true, cause: `no answer within ${timeoutMs} ms (NOTIFY_TIMEOUT)` };
    const e = error as Error & { cause?: { code?: string; message?: string } };
    // undici's "fetch failed" says nothing; its cause names the refusal or the name lookup.
    const detail = e.cause?.code ?? e.cause?.message ?? e.message;
    return { ok: false, retry: true, cause: String(detail) };
  }
}
