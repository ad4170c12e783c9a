import { parseArgs } from 'node:util';
import path from 'node:path';
import { readInventory } from '../backup/inventory.js';
import { readManifest } from '../backup/manifest.js';
import { assessSizes, sizePolicy } from '../backup/size-check.js';
import { manifestFileName } from '../backup/naming.js';
import { compressionOf } from '../backup/compression.js';
import { type RecoverableWindow, readRecoverableWindow } from '../binlog/window.js';
import { loadConfig } from '../config/load.js';
import type { CommandContext } from './context.js';
import { formatMiB } from '../units.js';

export const summary = 'the backups in BACKUP_DIR, newest first, and the binlog archive\'s window; --json for scripts';

/** `list [--json]`: what is there, from names, sizes and manifests; it reads no dump. */
export async function listCommand(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true });
  const config = loadConfig({ env: context.env, cwd: context.cwd });
  const { backups } = await readInventory(config.backup.dir);
  const sizes = await assessSizes(backups, sizePolicy(config.retention));
  const rows = await Promise.all(
    backups.map(async (b) => {
      const manifest = await readManifest(path.join(config.backup.dir, manifestFileName(b.name)));
      return {
        file: b.name,
        time: manifest?.startedAt ?? new Date(b.mtimeMs).toISOString(),
        storedBytes: b.size,
        rawBytes: manifest?.rawBytes ?? null,
        compression: compressionOf(b.name),
        level: manifest?.compression.level ?? null,
        checksum: b.checksummed ? 'present' : 'missing',
        /** Far smaller than the good dumps before it (BACKUP_SIZE_DROP_RATIO). */
        suspect: sizes.get(b.name)?.suspect ?? false,
        manifest: manifest !== null,
        binlog: manifest?.binlog ?? null,
      };
    }),
  );
  if (values.json) {
    context.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const window = config.binlog.archive ? describeWindow(await readRecoverableWindow(config.binlog.dir, config.backup.dir)) : '';
  if (rows.length === 0) {
    context.stdout.write(`no backups in ${config.backup.dir}\n${window}`);
    return 0;
  }
  const table = [
    ['FILE', 'STARTED (UTC)', 'STORED', 'SQL', 'COMPRESSION', 'CHECKSUM', 'BINLOG'],
    ...rows.map((r) => [
      r.file,
      r.time.replace('T', ' ').slice(0, 19),
      formatMiB(r.storedBytes),
      (r.rawBytes === null ? '?' : formatMiB(r.rawBytes)) + (r.suspect ? ' (!)' : ''),
      r.level === null ? r.compression : `${r.compression} ${r.level}`,
      r.checksum,
      r.binlog ? [r.binlog.file && `${r.binlog.file}:${r.binlog.position}`, r.binlog.gtid && `gtid ${r.binlog.gtid}`].filter(Boolean).join(' ') : '-',
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) context.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  if (rows.some((r) => r.suspect)) {
    context.stdout.write(
      `(!) far smaller than the good dumps before it (under ${config.retention.sizeDropRatio} of their median): ` +
        'a dropped database, or a server rebuilt empty? restore latest asks for --force\n',
    );
  }
  context.stdout.write(window);
  return 0;
}

const utc = (ms: number | null) => (ms === null ? '-' : `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`);

/** The archive under the table: how far back and forward a restore can go, and every gap. */
function describeWindow(window: RecoverableWindow): string {
  const current = window.epochs.at(-1)!;
  const span = (epoch: RecoverableWindow['epochs'][number]) =>
    epoch.files.length === 0 ? 'no files' : `${epoch.files[0]!.name} .. ${epoch.files.at(-1)!.name}, ${formatMiB(epoch.bytes)}`;
  const lines = [`\nbinlog archive ${current.dir}: ${span(current)}`];
  lines.push(
    window.from
      ? `recoverable: from ${window.from.file} (${utc(Date.parse(window.from.finishedAt))}, ${window.from.binlogFile}) to ${utc(current.recoverableUntilMs)}`
      : 'recoverable: no dump rolls forward into this archive yet (the next dump will)',
  );
  for (const epoch of window.epochs.slice(0, -1)) {
    lines.push(`gap at ${utc(epoch.endedAtMs)}: the epoch before it (${path.basename(epoch.dir)}/: ${span(epoch)}) rolls forward to ${utc(epoch.recoverableUntilMs)} and no further`);
  }
  return `${lines.join('\n')}\n`;
}

