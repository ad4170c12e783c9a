import { formatElapsed } from '../config/duration.js';
import type { SidecarEvent } from '../events.js';
import type { WebhookOccasion } from '../config/schema.js';
import { formatMiB } from '../units.js';

export type RunResult = Extract<SidecarEvent, { type: 'backup.succeeded' | 'backup.failed' | 'drill.succeeded' | 'drill.failed' }>;

/** Who is speaking: a chat channel may hear from several sidecars. */
export interface Speaker {
  /** The sidecar's host name (the container's, in compose). */
  readonly host: string;
  /** MYSQL_HOST:MYSQL_PORT, the server being backed up. */
  readonly target: string;
}

/** The fail ping's body: healthchecks.io shows it beside the failure; short, plain text. */
export function failureText(event: Extract<RunResult, { type: 'backup.failed' | 'drill.failed' }>): string {
  if (event.type === 'drill.failed') return `restore drill of ${event.file} into ${event.target} failed: ${event.problems.join('; ')}\n`;
  return `backup failed: ${event.cause}\n${event.hint ? `${event.hint}\n` : ''}run ${event.runId}\n`;
}

/**
 * The webhook's JSON: `text` for Slack, Mattermost and Discord's Slack-compatible endpoint (what
 * a person reads), and beside it the fields the log has, for a program. No field is secret: a
 * run's cause is redacted where it is made (the password never reaches it).
 */
export function webhookPayload(event: RunResult, occasion: WebhookOccasion, speaker: Speaker, failuresBefore: number): Record<string, unknown> {
  const { type, ...fields } = event;
  return {
    text: webhookText(event, occasion, speaker, failuresBefore),
    event: type,
    occasion,
    host: speaker.host,
    server: speaker.target,
    time: new Date().toISOString(),
    ...fields,
    ...(occasion === 'recovery' ? { failuresBefore } : {}),
  };
}

function webhookText(event: RunResult, occasion: WebhookOccasion, speaker: Speaker, failuresBefore: number): string {
  const who = `mysql-backup-sidecar on ${speaker.host}`;
  const after = occasion === 'recovery' ? ` after ${failuresBefore} failed ${failuresBefore === 1 ? 'run' : 'runs'}` : '';
  switch (event.type) {
    case 'backup.failed':
      return `${who}: backup of ${speaker.target} FAILED (run ${event.runId}): ${event.cause}${event.hint ? `\n${event.hint}` : ''}`;
    case 'backup.succeeded':
      return (
        `${who}: backup of ${speaker.target} ${occasion === 'recovery' ? 'works again' : 'stored'}${after}: ` +
        `${event.file} (${formatMiB(event.storedBytes)} stored, ${formatElapsed(event.durationMs)})`
      );
    case 'drill.failed':
      return `${who}: restore drill of ${event.file} into ${event.target} FAILED: ${event.problems.join('; ')}`;
    case 'drill.succeeded':
      return `${who}: restore drill of ${event.file} into ${event.target} passed${after}: ${event.tables} tables checked in ${formatElapsed(event.durationMs)}`;
  }
}
