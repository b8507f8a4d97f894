/** Every unit a duration string may carry, in milliseconds (the JSON Schema's pattern is built from these). */
export const UNITS: Readonly<Record<string, number>> = {
  ms: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

export class DurationError extends Error {}

/**
 * Converts a duration to milliseconds. Numbers are in `numberUnit` (the spec uses seconds for
 * `inputs.timeout` and milliseconds for `config.timeout`); strings carry their own unit.
 *
 * @example parseDuration('7 days') // 604800000
 * @example parseDuration(3600, 's') // 3600000
 */
export function parseDuration(value: unknown, numberUnit: 'ms' | 's' = 'ms'): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
    return numberUnit === 's' ? value * 1000 : value;
  }
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
    if (m) {
      const unit = m[2]!.toLowerCase();
      const factor = unit === '' ? (numberUnit === 's' ? 1000 : 1) : UNITS[unit];
      if (factor !== undefined) return Number(m[1]) * factor;
    }
  }
  throw new DurationError(`invalid duration ${JSON.stringify(value)} (use a number or e.g. "30s", "24h", "7 days")`);
}
