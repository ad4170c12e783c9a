import { UsageError } from '../errors.js';
import { ZoneOffsets } from '../schedule-times.js';

const TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})\s*(Z|[+-]\d{2}:?\d{2})?$/i;
const DAY_MS = 24 * 3600_000;

/**
 * `--to "YYYY-MM-DD HH:MM:SS[+HH:MM]"` as Unix ms. Without an offset the time is a wall-clock
 * time in `timeZone` (TZ; the system's zone when unset). Across a daylight-saving change a wall
 * time may not exist (the clocks jumped over it) or happen twice (they went back): both are
 * refused, naming the offsets to choose from, since a guess would restore the wrong hour.
 */
export function parseTargetTime(text: string, timeZone: string | undefined): number {
  const match = TIME.exec(text.trim());
  if (!match) throw new UsageError(`--to ${JSON.stringify(text)}: expected "YYYY-MM-DD HH:MM:SS", optionally with an offset ("+02:00", "Z")`);
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const back = new Date(wall);
  if (back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new UsageError(`--to ${JSON.stringify(text)}: no such date or time`);
  }
  const offset = match[7];
  if (offset !== undefined) return wall - offsetMinutes(offset) * 60_000;

  const name = zoneName(timeZone);
  const zone = new ZoneOffsets(name);
  const instants = zone.instantsOf(wall);
  if (instants.length === 1) return instants[0]!;
  const offsets = [...new Set([zone.at(wall - DAY_MS), zone.at(wall + DAY_MS)])];
  const choices = offsets.sort((a, b) => b - a).map((o) => `${text.trim()}${formatOffset(o)}`);
  if (instants.length === 0) {
    throw new UsageError(`--to ${JSON.stringify(text)}: that time does not exist in ${name} (the clocks were put forward across it); give the offset meant, e.g. ${choices.join(' or ')}`);
  }
  throw new UsageError(`--to ${JSON.stringify(text)}: that time happens twice in ${name} (the clocks were put back across it); give the offset meant: ${choices.join(' or ')}`);
}

/** TZ's IANA name (the system's zone when unset); a name Intl does not know is refused. */
export function zoneName(timeZone: string | undefined): string {
  try {
    return new Intl.DateTimeFormat('en-US', timeZone ? { timeZone: timeZone.replace(/^:/, '') } : {}).resolvedOptions().timeZone;
  } catch {
    throw new UsageError(`TZ=${timeZone} is not a time zone this program knows; give --to with an offset ("+02:00", "Z"), or set TZ to a name like Europe/Berlin`);
  }
}

function offsetMinutes(offset: string): number {
  if (offset.toUpperCase() === 'Z') return 0;
  const digits = offset.replace(':', '');
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
  return digits.startsWith('-') ? -minutes : minutes;
}

function formatOffset(offsetMs: number): string {
  const minutes = Math.round(Math.abs(offsetMs) / 60_000);
  return `${offsetMs < 0 ? '-' : '+'}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** UTC, as the plan and the log state it: "2026-03-29 00:30:00 UTC". */
export const formatUtc = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} UTC`;
