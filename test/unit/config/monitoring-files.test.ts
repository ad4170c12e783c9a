import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics.js';
import { RunHistory } from '../../../src/run-history.js';

const CONFIG = path.resolve(import.meta.dirname, '../../../config');

/** Every mysql_backup_* name the sidecar exports, read from a real rendering of its registry. */
async function exportedNames(): Promise<Set<string>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mbs-metrics-'));
  const metrics = createMetrics({ history: new RunHistory(), backupDir: dir, version: 'test', maxAgeMs: 1000, sizePolicy: { dropRatio: 0.5, baselineMs: 7 * 86_400_000 }, notificationKinds: ['ping'],
    binlog: () => ({ up: true, sinceMs: 0, problem: null, archivedBytes: 0, lagBytes: 0, lastEventAtMs: null, recoverableUntilMs: null }),
  });
  const text = await metrics.render();
  return new Set([...text.matchAll(/^(mysql_backup_\w+)/gm)].map((m) => m[1]!));
}

describe('the monitoring files in config/', () => {
  it('promtool accepts the rules and the scrape config', async () => {
    await execa('promtool', ['check', 'rules', 'alerts.yml'], { cwd: CONFIG });
    await execa('promtool', ['check', 'config', 'prometheus.yml'], { cwd: CONFIG });
  });

  it('amtool accepts the example Alertmanager route, which routes every severity the rules use', async () => {
    await execa('amtool', ['check-config', 'alertmanager.yml'], { cwd: CONFIG });
    const rules = await readFile(path.join(CONFIG, 'alerts.yml'), 'utf8');
    const severities = new Set([...rules.matchAll(/severity: (\w+)/g)].map((m) => m[1]!));
    const route = await readFile(path.join(CONFIG, 'alertmanager.yml'), 'utf8');
    expect([...severities].sort()).toEqual(['critical', 'warning']);
    for (const severity of severities) expect(route, severity).toContain(`'severity = "${severity}"'`);
  });

  it("the alert rules pass promtool's unit tests", async () => {
    const result = await execa('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: CONFIG, reject: false });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.exitCode, result.stderr).toBe(0);
  });

  it('the rules and the dashboard use only metrics the sidecar exports', async () => {
    const exported = await exportedNames();
    for (const file of ['alerts.yml', 'grafana-dashboard.json']) {
      const used = new Set([...(await readFile(path.join(CONFIG, file), 'utf8')).matchAll(/mysql_backup_\w+/g)].map((m) => m[0]));
      expect(used.size, file).toBeGreaterThan(3);
      for (const name of used) expect(exported, `${file} uses ${name}`).toContain(name);
    }
  });

  it('the dashboard is valid JSON with its panels', async () => {
    const dashboard = JSON.parse(await readFile(path.join(CONFIG, 'grafana-dashboard.json'), 'utf8'));
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(6);
    for (const panel of dashboard.panels) expect(panel.targets.length).toBeGreaterThan(0);
  });
});
