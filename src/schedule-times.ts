import { createTask, parse, type ScheduledTask } from 'node-cron';

/**
 * When a cron expression fires in a time zone, by the rule Vixie cron follows across
 * daylight-saving changes (cron(8)):
 * - a job at a fixed time (neither its minute nor its hour field starts with `*`) runs once a
 *   day whatever the clock does: a time the clock skips runs right after the change, a time
 *   that occurs twice runs at its first occurrence only;
 * - a job with a wildcard minute or hour follows elapsed time: nothing runs for the skipped
 *   times, and the repeated ones run again.
 * node-cron alone drops a fixed-time job in the skipped hour (a nightly `30 2 * * *` backup in
 * Europe/Berlin vanished on the last Sunday of March) and the first pass of a repeated hour.
 *
 * node-cron still parses and matches the fields: wall-clock times are matched as if in UTC, where
 * no clock ever jumps, and mapped to instants here.
 */
export class CronTimes {
  readonly #fields: ReturnType<typeof parse>;
  /** The expression in UTC: matches a wall-clock time written as a UTC instant. */
  readonly #wallClock: ScheduledTask;
  readonly #fixedTime: boolean;
  readonly #offsets: ZoneOffsets;

  constructor(expression: string, timeZone: string) {
    const fields = parse(expression);
    const ascending = (values: readonly (number | string)[]) => (values as number[]).slice().sort((a, b) => a - b);
    this.#fields = { ...fields, second: ascending(fields.second), minute: ascending(fields.minute), hour: ascending(fields.hour) };
    this.#wallClock = createTask(expression, () => undefined, { timezone: 'UTC' });
    // It never runs, only matches: out of node-cron's registry of tasks, so that it can be collected.
    void this.#wallClock.destroy();
    this.#fixedTime = isFixedTime(expression);
    this.#offsets = new ZoneOffsets(timeZone);
  }

  /** The first instant after `afterMs` (Unix ms) at which the expression fires. */
  nextAfter(afterMs: number): number {
    const after = Math.floor(afterMs / 1000) * 1000;
    const offset = this.#offsets.at(after);
    let best = Infinity;
    for (let wall = this.#nextWallTime(after + offset); best === Infinity; wall = this.#nextWallTime(wall)) {
      const instants = this.#offsets.instantsOf(wall);
      if (instants.length === 0) {
        // A wall time the clock skips: a fixed-time job runs when the clock has jumped over it.
        if (this.#fixedTime) best = this.#offsets.transitionAround(wall);
        continue;
      }
      // A repeated wall time: a fixed-time job runs at its first occurrence only.
      const candidates = this.#fixedTime ? instants.slice(0, 1) : instants;
      best = candidates.find((instant) => instant > after) ?? Infinity;
    }
    // `after` in the first pass of a repeated hour: a wildcard job also runs in the second pass
    // at wall times behind the one `after` shows.
    const laterOffset = this.#offsets.at(after + MAX_SHIFT_MS);
    if (!this.#fixedTime && laterOffset < offset) {
      const change = this.#offsets.transitionBetween(after, after + MAX_SHIFT_MS);
      for (let wall = this.#nextWallTime(change + laterOffset - 1000); wall < change + offset; wall = this.#nextWallTime(wall)) {
        const second = wall - laterOffset;
        // Later wall times are later instants here: the first one after `after` is the one.
        if (second >= best) break;
        if (second > after) {
          best = second;
          break;
        }
      }
    }
    return best;
  }

  /** The next `count` instants after `afterMs`. */
  upcoming(afterMs: number, count: number): Date[] {
    const runs: Date[] = [];
    for (let at = afterMs; runs.length < count; ) {
      at = this.nextAfter(at);
      runs.push(new Date(at));
    }
    return runs;
  }

  /** The first wall-clock time (as a UTC instant) after `wall` that the fields match. */
  #nextWallTime(wall: number): number {
    const { second, minute, hour } = this.#fields;
    const start = new Date(wall + 1000);
    let day = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
    let from = [start.getUTCHours(), start.getUTCMinutes(), start.getUTCSeconds()] as const;
    for (let days = 0; days < MAX_DAYS; days++, day += DAY_MS, from = [0, 0, 0]) {
      // The day fields (day of month, month, weekday, with node-cron's L and # forms) decided by
      // node-cron, at the day's first matching time.
      if (!this.#wallClock.match(new Date(day + ((hour[0]! * 60 + minute[0]!) * 60 + second[0]!) * 1000))) continue;
      const time = firstTimeFrom(hour, minute, second, from);
      if (time !== null) return day + time * 1000;
    }
    throw new Error(`the schedule fires on no day within ${MAX_DAYS / 366} years`);
  }
}

const DAY_MS = 86_400_000;
/** The longest clock change DST makes anywhere (Lord Howe: 30 min; most: 1 h), with room. */
const MAX_SHIFT_MS = 3 * 3_600_000;
const MAX_DAYS = 366 * 30;

/** Vixie cron's test: no `*` at the start of the minute or hour field (and not @hourly). */
function isFixedTime(expression: string): boolean {
  const text = expression.trim();
  if (text.startsWith('@')) return !/^@(hourly|reboot)/i.test(text);
  const fields = text.split(/\s+/);
  const [minute, hour] = fields.length === 6 ? fields.slice(1, 3) : fields.slice(0, 2);
  return !minute!.startsWith('*') && !hour!.startsWith('*');
}

/** Seconds of the day of the first (hour, minute, second) the fields allow at or after `from`. */
function firstTimeFrom(
  hours: readonly number[],
  minutes: readonly number[],
  seconds: readonly number[],
  [h0, m0, s0]: readonly [number, number, number],
): number | null {
  for (const h of hours) {
    if (h < h0) continue;
    for (const m of minutes) {
      if (h === h0 && m < m0) continue;
      for (const s of seconds) {
        if (h === h0 && m === m0 && s < s0) continue;
        return (h * 60 + m) * 60 + s;
      }
    }
  }
  return null;
}

/** A time zone's offset from UTC at any instant, and the instants of a wall-clock time. */
export class ZoneOffsets {
  readonly #format: Intl.DateTimeFormat;

  constructor(timeZone: string) {
    this.#format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** Local minus UTC, in ms, at `instant` (whole seconds). */
  at(instant: number): number {
    const parts: Record<string, number> = {};
    for (const part of this.#format.formatToParts(instant)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
    const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
    return wall - Math.floor(instant / 1000) * 1000;
  }

  /** The instants whose wall-clock time is `wall`, earliest first: none in a gap, two in a repeat. */
  instantsOf(wall: number): number[] {
    const offsets = new Set([this.at(wall - DAY_MS), this.at(wall + DAY_MS)]);
    return [...offsets]
      .map((offset) => wall - offset)
      .filter((instant) => this.at(instant) === wall - instant)
      .sort((a, b) => a - b);
  }

  /** The instant the clock jumps over `wall`, a wall-clock time in a gap. */
  transitionAround(wall: number): number {
    // Read with the later offset, the wall time is an instant before the jump; with the earlier, after it.
    return this.transitionBetween(wall - this.at(wall + DAY_MS), wall - this.at(wall - DAY_MS));
  }

  /** The first instant in (`from`, `to`] whose offset differs from that at `from`, to the second. */
  transitionBetween(from: number, to: number): number {
    const before = this.at(from);
    let low = from;
    let high = to;
    while (high - low > 1000) {
      const middle = low + Math.floor((high - low) / 2000) * 1000;
      if (this.at(middle) === before) low = middle;
      else high = middle;
    }
    return high;
  }
}
