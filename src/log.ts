/**
 * Structured logs: one JSON line per event (run started/finished, suspended, decision,
 * notification attempt), always with the `executionId` when there is one, so Workers Logs can be
 * filtered by it. Never pass tokens, links or secrets here: every caller logs ids, names and codes.
 */
export function log(event: string, fields: Record<string, unknown> = {}, level: 'info' | 'warn' | 'error' = 'info'): void {
  const line = JSON.stringify({ level, event, at: new Date().toISOString(), ...fields });
  if (level === 'info') console.log(line);
  else if (level === 'warn') console.warn(line);
  else console.error(line);
}
