import os from 'node:os';
import type { Config } from '../config/schema.js';
import type { EventSink, SidecarEvent } from '../events.js';
import type { Secret } from '../secret.js';
import { deliver, type Request } from './delivery.js';
import { publicUrl, scrubUrl, withPathSuffix } from './endpoint.js';
import { failureText, type RunResult, type Speaker, webhookPayload } from './messages.js';

/** Where a notification goes: the backups' ping URL, the drills' own, or the webhook. */
export type NotificationKind = 'ping' | 'drill_ping' | 'webhook';
export const NOTIFICATION_KINDS: readonly NotificationKind[] = ['ping', 'drill_ping', 'webhook'];

/** What it says: healthchecks.io's three signals, or the webhook's occasion. */
export type NotificationSignal = 'start' | 'success' | 'fail' | 'failure' | 'recovery';

/** A receiver that does not answer must not grow memory without bound: later ones are dropped. */
const MAX_WAITING = 20;

/**
 * Turns run events into pings and webhook posts, and never holds up or fails a run: `observe`
 * only queues. Each receiver has its own queue, delivered in order (a start ping before its
 * success ping), each delivery ends in a `notify.delivered` or `notify.failed` event, which the
 * log and the metrics see like any other. Drills ping NOTIFY_DRILL_PING_URL; without it only a
 * failed drill pings NOTIFY_PING_URL's /fail, since a good drill must not pass for a good backup.
 */
export class Notifier {
  readonly #emit: EventSink;
  readonly #settings: Config['notify'];
  readonly #speaker: Speaker;
  readonly #queues = new Map<NotificationKind, Queue>();
  readonly #stopping = new AbortController();
  /** Failed runs in a row, per duty, for the webhook's recovery: seeded from the run history. */
  readonly #failures = { backup: 0, drill: 0 };

  constructor(settings: Config['notify'], emit: EventSink, options: { target: string; consecutiveFailures?: number; host?: string }) {
    this.#settings = settings;
    this.#emit = emit;
    this.#speaker = { host: options.host ?? os.hostname(), target: options.target };
    this.#failures.backup = options.consecutiveFailures ?? 0;
  }

  /** The receivers whose URL is set. */
  static configuredKinds(settings: Config['notify']): NotificationKind[] {
    const urls: Record<NotificationKind, Secret | undefined> = { ping: settings.pingUrl, drill_ping: settings.drillPingUrl, webhook: settings.webhookUrl };
    return NOTIFICATION_KINDS.filter((kind) => urls[kind] !== undefined);
  }

  /** A notifier when any URL is set; without one, none, so that nothing is wired in at all. */
  static ifConfigured(settings: Config['notify'], emit: EventSink, options: ConstructorParameters<typeof Notifier>[2]): Notifier | undefined {
    return Notifier.configuredKinds(settings).length > 0 ? new Notifier(settings, emit, options) : undefined;
  }

  readonly observe: EventSink = (event: SidecarEvent) => {
    const { pingUrl, drillPingUrl } = this.#settings;
    switch (event.type) {
      case 'run.started':
        if (pingUrl) this.#ping('ping', pingUrl, 'start');
        break;
      case 'drill.started':
        if (drillPingUrl) this.#ping('drill_ping', drillPingUrl, 'start');
        break;
      case 'backup.succeeded':
      case 'drill.succeeded': {
        const [kind, url] = event.type === 'backup.succeeded' ? (['ping', pingUrl] as const) : (['drill_ping', drillPingUrl] as const);
        if (url) this.#ping(kind, url, 'success');
        this.#webhookAfter(event);
        break;
      }
      case 'backup.failed':
      case 'drill.failed': {
        const url = event.type === 'backup.failed' ? pingUrl : (drillPingUrl ?? pingUrl);
        const kind = event.type === 'drill.failed' && drillPingUrl ? 'drill_ping' : 'ping';
        if (url) this.#ping(kind, url, 'fail', failureText(event));
        this.#webhookAfter(event);
        break;
      }
      default:
        break;
    }
  };

  /**
   * Resolves once every queued notification is delivered or has failed, waiting at most
   * `waitMs`; what is still under way then is abandoned (and reported failed).
   */
  async drain(waitMs: number): Promise<void> {
    const idle = Promise.all([...this.#queues.values()].map((queue) => queue.idle()));
    const timer = setTimeout(() => this.#stopping.abort(), waitMs);
    try {
      await idle;
    } finally {
      clearTimeout(timer);
    }
  }

  #webhookAfter(event: RunResult): void {
    const duty = event.type.startsWith('drill.') ? 'drill' : 'backup';
    const failuresBefore = this.#failures[duty];
    const failed = event.type.endsWith('.failed');
    this.#failures[duty] = failed ? failuresBefore + 1 : 0;
    const { webhookUrl, webhookOn } = this.#settings;
    if (!webhookUrl) return;
    const occasion = failed ? 'failure' : failuresBefore > 0 && webhookOn.includes('recovery') ? 'recovery' : 'success';
    if (!webhookOn.includes(occasion)) return;
    const body = JSON.stringify(webhookPayload(event, occasion, this.#speaker, failuresBefore));
    this.#enqueue('webhook', webhookUrl, occasion, { url: webhookUrl.reveal(), method: 'POST', body, contentType: 'application/json' });
  }

  #ping(kind: NotificationKind, url: Secret, signal: 'start' | 'success' | 'fail', body?: string): void {
    const target = signal === 'success' ? url.reveal() : withPathSuffix(url, signal);
    // healthchecks.io keeps the first 100 kB of a body; a cause is far shorter, a stderr may not be.
    const request: Request = body === undefined ? { url: target, method: 'GET' } : { url: target, method: 'POST', body: body.slice(0, 10_000) };
    this.#enqueue(kind, url, signal, request);
  }

  #enqueue(kind: NotificationKind, url: Secret, signal: NotificationSignal, request: Request): void {
    let queue = this.#queues.get(kind);
    if (!queue) this.#queues.set(kind, (queue = new Queue()));
    const shown = publicUrl(url);
    if (queue.waiting >= MAX_WAITING) {
      this.#emit({ type: 'notify.failed', kind, signal, url: shown, attempts: 0, durationMs: 0, cause: `dropped: ${MAX_WAITING} notifications already wait for this receiver` });
      return;
    }
    queue.add(async () => {
      const outcome = await deliver(request, { timeoutMs: this.#settings.timeoutMs, signal: this.#stopping.signal });
      const { attempts, durationMs } = outcome;
      if (outcome.ok) this.#emit({ type: 'notify.delivered', kind, signal, url: shown, status: outcome.status, attempts, durationMs });
      else this.#emit({ type: 'notify.failed', kind, signal, url: shown, attempts, durationMs, cause: scrubUrl(outcome.cause, url) });
    });
  }
}

/** Tasks run one after another; `idle` resolves when none waits. */
class Queue {
  #tail: Promise<void> = Promise.resolve();
  waiting = 0;

  add(task: () => Promise<void>): void {
    this.waiting++;
    // A task that throws (an observer of its event did) must not stop the ones after it.
    this.#tail = this.#tail
      .then(task)
      .catch(() => undefined)
      .finally(() => {
        this.waiting--;
      });
  }

  idle(): Promise<void> {
    return this.#tail;
  }
}
