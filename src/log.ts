/**
 * Structured logs: one JSON line per event (run started/finished, suspended, decision,
 * notification attempt), always with the `executionId` when there is one, so Workers Logs can be
 * filtered by it. Never pass tokens, links or secrets here: every caller logs ids, names and codes.
 */
export function log(event: string, fields: Record<string, unknown> = {}, level: Level = 'info'): void {
  if (LEVELS[level] < threshold) return;
  const line = JSON.stringify({ level, event, at: new Date().toISOString(), ...fields });
  if (level === 'info') console.log(line);
  else if (level === 'warn') console.warn(line);
  else console.error(line);
}

type Level = 'info' | 'warn' | 'error';
const LEVELS: Record<Level, number> = { info: 0, warn: 1, error: 2 };

// The lowest level written. Module state set from env at each entry point (a request, the cron, an
// object waking): an isolate serves one deployment, so every entry point sets the same value.
let threshold = 0;

/**
 * `LOG_LEVEL`: `info` (default: every run, suspension, decision and notification), `warn` (only
 * what went wrong) or `error`. Anything else is the default. Each line costs its request some CPU
 * (and, under `wrangler dev`, far more), so a busy deployment may keep only warnings.
 */
export function configureLog(value: unknown): void {
  const name = typeof value === 'string' ? value.trim().toLowerCase() : '';
  threshold = Object.hasOwn(LEVELS, name) ? LEVELS[name as Level] : 0;
}
