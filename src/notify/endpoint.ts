import type { Secret } from '../secret.js';

/**
 * A ping or webhook URL carries its secret in the path (hc-ping.com/<uuid>,
 * hooks.slack.com/services/T/B/<token>) or the query, sometimes in user info: what may be shown
 * of it is the scheme, host and port only.
 */
export function publicUrl(url: Secret): string {
  const parsed = new URL(url.reveal());
  const hidden = parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '' || parsed.password !== '';
  return `${parsed.protocol}//${parsed.host}${hidden ? '/…' : '/'}`;
}

/** healthchecks.io's signals: `URL/start`, `URL/fail`; the suffix goes into the path, before any query. */
export function withPathSuffix(url: Secret, suffix: string): string {
  const parsed = new URL(url.reveal());
  parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/${suffix}`;
  return parsed.toString();
}

/** Text from elsewhere (a network error) with every form of the URL's secret parts taken out. */
export function scrubUrl(text: string, url: Secret): string {
  const parsed = new URL(url.reveal());
  const secrets = [url.reveal(), parsed.toString(), parsed.pathname, parsed.search, parsed.username, parsed.password]
    .filter((part) => part.length > 1)
    .sort((a, b) => b.length - a.length);
  return secrets.reduce((result, part) => result.split(part).join('/…'), text);
}
