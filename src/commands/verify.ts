import { parseArgs } from 'node:util';
import { locateBackup } from '../backup/locate.js';
import { verifyBackup } from '../backup/verify.js';
import { loadConfig } from '../config/load.js';
import type { CommandContext } from './context.js';

export const summary = 'verify [FILE|latest]: checksum, manifest, full decompression and the completion trailer';

/** `verify [FILE|latest]`: exit 0 only when every check holds; otherwise each failed check, one a line. */
export async function verifyCommand(args: string[], context: CommandContext): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {}, strict: true });
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  const file = await locateBackup(config.backup.dir, positionals[0]);
  const report = await verifyBackup(file);
  if (report.ok) {
    const rows = report.tables.reduce((sum, t) => sum + t.rows, 0);
    context.stdout.write(
      `OK ${file}\n  sha256 ${report.sha256} matches the .sha256 file and the manifest; ` +
        `${report.storedBytes} bytes decompress to ${report.rawBytes} bytes of SQL ending in "-- Dump completed"; ` +
        `${report.tables.length} tables, ${rows} rows\n`,
    );
    return 0;
  }
  context.stdout.write(`FAILED ${file}\n${report.problems.map((p) => `  ${p}\n`).join('')}`);
  return 1;
}
