import type { Env } from '../env';

// Never exposed to expressions or scripts, even though they are strings in env: the credentials
// that prove who decided (a leaked Slack signing secret forges any approver's click).
const HIDDEN = new Set(['API_KEY', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET']);

/**
 * The part of env an ensemble may read (`${env.NAME}`): string vars and secrets. Bindings
 * (Durable Objects, D1, KV) are not data and stay out.
 */
export function publicEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string' && !HIDDEN.has(k)) out[k] = v;
  return out;
}
