/** Durations are written one way everywhere: a whole number and one unit, e.g. 90s, 15m, 3h, 7d, 2w. */
const UNIT_MS = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

type Unit = keyof typeof UNIT_MS;

export const DURATION_FORMAT = 'a whole number and a unit s, m, h, d or w (e.g. 90s, 15m, 3h, 7d, 2w)';

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^([1-9][0-9]{0,8})([smhdw])$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as Unit];
}

/** The largest unit that expresses the duration exactly, so 604800000 prints as "1w". */
export function formatDuration(ms: number): string {
  const units = Object.entries(UNIT_MS).reverse() as [Unit, number][];
  for (const [unit, size] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A measured span to the second, in the same units: 3011 ms -> "3s", 10793 s -> "2h59m53s". */
export function formatElapsed(ms: number): string {
  let seconds = Math.max(1, Math.round(ms / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
  }
  return parts.join('');
}

/** How old something is, in whole minutes and at least one, as durations are written: "130m", "2d". */
export const formatAge = (ms: number) => formatDuration(Math.max(1, Math.floor(ms / 60_000)) * 60_000);
