import type { Env } from '../env';
import { parseDuration } from '../ensemble/duration';
import { LIMITS } from '../limits';
import { log } from '../log';

// What names an event: its name (`payment.settled`) and its key (the order it is about). One
// event box (src/events/event-box.ts) per (name, key) keeps the waits and the kept events.

/** An event name: what a wait and a sender agree on (`payment.settled`). */
export const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
export const EVENT_NAME_RULE = '1 to 64 characters: letters, digits and . _ : - (not first)';

/** Why a value cannot be an event key, or undefined when it can (as text: a number is its decimal form). */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key === 'number' && Number.isFinite(key)) return undefined;
  if (typeof key !== 'string') return `an event key is a string or a number, got ${key === null ? 'null' : Array.isArray(key) ? 'a list' : typeof key}`;
  if (key.length === 0 || key.length > LIMITS.eventKeyChars) return `an event key has 1 to ${LIMITS.eventKeyChars} characters (got ${key.length})`;
  // Control characters would make one key look like another in logs and on the console.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(key)) return 'an event key has no control characters';
  // Half a surrogate pair is no text: stored, it would come back as another key.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(key)) return 'an event key is well-formed text (it holds half of a surrogate pair)';
  return undefined;
}

/** A valid key as text. */
export const keyText = (key: string | number): string => (typeof key === 'number' ? String(key) : key);

/** The event box of (name, key). */
export function eventBox(env: Env, name: string, key: string) {
  return env.EVENTS.get(env.EVENTS.idFromName(JSON.stringify([name, key])));
}

const DAY_MS = 86_400_000;

/**
 * How long an event no wait took is kept for a wait that starts later: `EVENT_LOOKBACK` (a
 * duration such as "24h"; default 24 hours, at most 30 days, 0 keeps none).
 */
export function lookbackMs(env: Env): number {
  const raw = env.EVENT_LOOKBACK;
  if (raw === undefined || raw === '') return DAY_MS;
  try {
    const ms = parseDuration(raw, 's');
    if (ms <= LIMITS.eventLookbackMaxMs) return ms;
  } catch { /* reported below */ }
  log('event-lookback-invalid', { value: String(raw).slice(0, 40), using: '24h' }, 'warn');
  return DAY_MS;
}
