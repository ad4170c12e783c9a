import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useBackupServer } from '../support/backup-server.js';
import { countEvents, eventsSoFar, followOutput, isDumpName, runCli, startCli, waitUntil } from '../support/cli.js';
import { sidecarEnv } from '../support/daemon-env.js';
import { canMountFat, mountFatVolume } from '../support/small-filesystem.js';

const PASSWORD = 'fat-pw';
const mountable = await canMountFat();

describe.skipIf(!mountable)('BACKUP_DIR on a FAT volume: no hard links, no modes, 2-second times (fusefat; needs root)', () => {
  const fixture = useBackupServer({ password: PASSWORD, sampleData: true });

  it('the daemon stores verified backups there, a backup by hand beside it too, and leaves no partial or lock file', async () => {
    const volume = await mountFatVolume(64);
    try {
      const env = sidecarEnv(fixture.server, PASSWORD, volume.dir, { BACKUP_SCHEDULE: '*/2 * * * * *' });
      const daemon = startCli(['run'], env);
      try {
        // Counted on stdout, which carries the same lines: fusefat serves a file another process
        // appends to stale for a while when two volumes are busy at once (both flavours run).
        const output = followOutput(daemon);
        await waitUntil(() => countEvents(eventsSoFar(output.text), 'backup.succeeded') >= 3, 'three backups stored', 60_000);
        // By hand beside the daemon: it stores its dump between two runs, or is refused while one holds the directory.
        const byHand = await runCli(['backup'], env);
        expect(byHand.stderr).not.toMatch(/unexpected error/);
        expect([0, 1]).toContain(byHand.exitCode);
      } finally {
        daemon.kill('SIGTERM');
        const result = await daemon;
        expect(result.exitCode, `${result.stdout.slice(-3000)}\n${result.stderr}`).toBe(0);
      }
      const names = await readdir(volume.dir);
      const dumps = names.filter(isDumpName).sort();
      expect(dumps.length).toBeGreaterThanOrEqual(3);
      expect(names.filter((n) => n.endsWith('.partial') || n.endsWith('.lock'))).toEqual([]);
      await execa('sha256sum', ['-c', ...dumps.map((d) => `${d}.sha256`)], { cwd: volume.dir });
      const verify = await runCli(['verify', 'latest'], env);
      expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
      // What the README says of such volumes: modes are not kept, times have 2-second steps.
      const mtime = (await stat(path.join(volume.dir, dumps[0]!))).mtimeMs;
      expect(mtime % 2000).toBe(0);
      const list = await runCli(['list'], env);
      for (const dump of dumps) expect(list.stdout).toContain(dump);
    } finally {
      await volume.unmount();
    }
  });
});
