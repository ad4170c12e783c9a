import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, isDumpName, makeTempDir, runCli, startCli, waitForLog } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort } from '../support/mysql-server.js';
import { scrape } from '../support/scrape.js';

const PASSWORD = 'observe-pw';

/** Polls /health until it answers `expected` with one of `statuses`. */
async function waitForHealth(
  base: string,
  expected: number,
  statuses: string[],
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const response = await fetch(`${base}/health`).catch(() => null);
    if (response) {
      const body = (await response.json()) as Record<string, unknown>;
      last = body;
      if (response.status === expected && statuses.includes(String(body.status))) return body;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`/health did not answer ${expected} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

describe('the HTTP endpoints of run', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });

  it('answer GET and HEAD only, and 404 elsewhere', async () => {
    const dir = await makeTempDir();
    const port = await freePort();
    const daemon = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), BACKUP_ON_START: 'false' }));
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitForLog(path.join(dir, 'backup.log'), (e) => countEvents(e, 'daemon.started') === 1);
      expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
      const head = await fetch(`${base}/health`, { method: 'HEAD' });
      expect(await head.text()).toBe('');
      expect(head.headers.get('content-type')).toBe('application/json');
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const response = await fetch(`${base}/metrics`, { method });
        expect(response.status, method).toBe(405);
        expect(response.headers.get('allow')).toBe('GET, HEAD');
      }
      expect((await fetch(`${base}/backup`)).status).toBe(404);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await metrics.text();
      expect(text).toContain('process_resident_memory_bytes');
      // The password is in neither view of the daemon's state.
      expect(text).not.toContain(PASSWORD);
      expect(await (await fetch(`${base}/health`)).text()).not.toContain(PASSWORD);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });

  it('run exits 2 at once when HTTP_PORT is taken, instead of running without its endpoints', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => taken.once('listening', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const result = await runCli(
        ['run'],
        sidecarEnv(fixture.server, PASSWORD, await makeTempDir(), { HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), BACKUP_ON_START: 'false' }),
      );
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stderr).toContain(`cannot listen on HTTP_HOST=127.0.0.1 HTTP_PORT=${port}: EADDRINUSE`);
    } finally {
      taken.close();
    }
  });

  it('/health goes 200 -> 503 when the server dies and back to 200 after the next good backup', async () => {
    const dir = await makeTempDir();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const daemon = startCli(
      ['run'],
      sidecarEnv(fixture.server, PASSWORD, dir, {
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
        BACKUP_SCHEDULE: '*/2 * * * * *',
        MYSQL_WAIT_TIMEOUT: '1s',
      }),
    );
    try {
      const ok = await waitForHealth(base, 200, ['ok']);
      expect(ok.consecutiveFailures).toBe(0);
      // From the 2 s schedule: 2.5 times the gap between runs.
      expect(ok.maxAgeSeconds).toBe(5);

      await fixture.server.kill();
      const down = await waitForHealth(base, 503, ['failing', 'stale']);
      expect(String((down.lastFailure as { cause: string }).cause)).toMatch(/MySQL at .* did not answer|mysqldump/);
      expect(down.consecutiveFailures).toBeGreaterThan(0);

      await fixture.server.restart();
      const back = await waitForHealth(base, 200, ['ok']);
      expect(back.consecutiveFailures).toBe(0);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });

  it('after a restart, the metrics match the files on disk', async () => {
    const dir = await makeTempDir();
    const log = path.join(dir, 'backup.log');
    const first = startCli(['run'], sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_SCHEDULE: '*/2 * * * * *', HTTP_PORT: String(await freePort()) }));
    await waitForLog(log, (e) => countEvents(e, 'backup.succeeded') >= 3);
    first.kill('SIGTERM');
    await first;

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const second = startCli(
      ['run'],
      sidecarEnv(fixture.server, PASSWORD, dir, { BACKUP_ON_START: 'false', BACKUP_SCHEDULE: '0 0 1 1 *', HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) }),
    );
    try {
      await waitForHealth(base, 200, ['ok']);
      const metrics = await scrape(base);
      const dumps = (await readdir(dir)).filter(isDumpName).sort().reverse();
      const manifests = await Promise.all(
        dumps.map(async (n) => JSON.parse(await readFile(path.join(dir, `${n}.manifest.json`), 'utf8'))),
      );
      const sizes = await Promise.all(dumps.map(async (n) => (await stat(path.join(dir, n))).size));

      expect(metrics.get('mysql_backup_last_success_timestamp_seconds')).toBeCloseTo(Date.parse(manifests[0].finishedAt) / 1000, 2);
      expect(metrics.get('mysql_backup_last_size_bytes')).toBe(manifests[0].storedBytes);
      expect(metrics.get('mysql_backup_previous_size_bytes')).toBe(manifests[1].storedBytes);
      expect(metrics.get('mysql_backup_last_duration_seconds')).toBeCloseTo(manifests[0].durationMs / 1000, 3);
      expect(metrics.get('mysql_backup_backups')).toBe(dumps.length);
      expect(metrics.get('mysql_backup_stored_bytes')).toBe(sizes.reduce((a, b) => a + b, 0));
      const oldest = (await stat(path.join(dir, dumps.at(-1)!))).mtimeMs / 1000;
      expect(metrics.get('mysql_backup_oldest_backup_timestamp_seconds')).toBeCloseTo(oldest, 2);
      // Counters start again with the process, as Prometheus expects of counters.
      expect(metrics.get('mysql_backup_runs_total{result="success"}')).toBe(0);
    } finally {
      second.kill('SIGTERM');
      await second;
    }
  });
});
