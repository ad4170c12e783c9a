import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { makeTempDir, startCli } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { freePort } from '../support/mysql-server.js';
import { startPrometheus, waitForQuery } from '../support/prometheus.js';

const PASSWORD = 'prometheus-pw';

describe('scraped by a real Prometheus', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });

  it('shows successful and failed runs, and the failing alert fires from the project rules', async () => {
    const port = await freePort();
    const daemon = startCli(
      ['run'],
      sidecarEnv(fixture.server, PASSWORD, await makeTempDir(), {
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
        BACKUP_SCHEDULE: '*/2 * * * * *',
        MYSQL_WAIT_TIMEOUT: '1s',
      }),
    );
    const prometheus = await startPrometheus(`127.0.0.1:${port}`);
    try {
      expect(await waitForQuery(prometheus, 'up{job="mysql-backup"}', (v) => v === 1)).toBe(1);
      const successes = await waitForQuery(prometheus, 'mysql_backup_runs_total{result="success"}', (v) => v >= 2);
      expect(successes).toBeGreaterThanOrEqual(2);
      const lastSuccess = await waitForQuery(prometheus, 'mysql_backup_last_success_timestamp_seconds', (v) => v > 0);
      expect(Math.abs(Date.now() / 1000 - lastSuccess)).toBeLessThan(60);

      await fixture.server.kill();
      expect(await waitForQuery(prometheus, 'mysql_backup_runs_total{result="failure"}', (v) => v >= 2)).toBeGreaterThanOrEqual(2);
      expect(
        await waitForQuery(prometheus, 'count(ALERTS{alertname="MySQLBackupFailing", alertstate="firing"})', (v) => v === 1),
      ).toBe(1);
    } finally {
      await prometheus.stop();
      daemon.kill('SIGTERM');
      await daemon;
    }
  });
});
