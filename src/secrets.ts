import type { Env } from './env';

/**
 * Infrastructure secrets: the credentials of this Worker itself. No expression and no script may
 * read them (a load-time problem), whatever an ensemble says.
 */
const INFRA_SECRETS: ReadonlySet<string> = new Set([
  'API_KEY', 'MAILCHANNELS_API_KEY', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET',
]);

export const isInfraSecret = (name: string) => INFRA_SECRETS.has(name) || /^HITL_\w*SECRET$/.test(name) || name === SLACK_WEBHOOK;

/**
 * The Slack incoming webhook URL is a credential too (anyone holding it can post), but spec 004's
 * own example writes `webhookUrl: "$env.SLACK_WEBHOOK_URL"` in notificationConfig. There, and only
 * there, it may be named: it evaluates to nothing and the slack channel uses the variable itself.
 */
export const SLACK_WEBHOOK = 'SLACK_WEBHOOK_URL';

/** Settings of this product that are configuration, not secrets, wherever they are set. */
const CONFIGURATION: ReadonlySet<string> = new Set([
  'PUBLIC_BASE_URL', 'HITL_BASE_PATH', 'EXECUTION_RETENTION_DAYS', 'HITL_NOTIFY_BACKOFF_MS', 'HITL_PUBLIC_VARS',
  'MAILCHANNELS_API_URL', 'EMAIL_FROM', 'THINK_PROVIDER', 'OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL', 'SLACK_API_URL',
  'SLACK_CHANNEL', 'ACCESS_TEAM_DOMAIN', 'ACCESS_AUD', 'ACCESS_CERTS_URL', 'LOG_LEVEL',
]);

/** Values shorter than this are not redacted: they would match ordinary text (`true`, `30`). */
const MIN_SECRET_LENGTH = 8;

export const REDACTED = '[redacted]';

/**
 * The env names that are configuration, not secrets: this product's settings, the names of
 * wrangler.toml [vars] (`vars`, with the names its own HITL_PUBLIC_VARS lists, from the build), and
 * the names the deployment's `HITL_PUBLIC_VARS` lists (comma-separated). Every other name in env is
 * a secret: usable only where the Worker consumes it (docs/ensembles.md#secrets).
 */
export function publicNames(vars: readonly string[], listed: unknown): Set<string> {
  const extra = typeof listed === 'string' ? listed.split(',').map((s) => s.trim()).filter(Boolean) : [];
  return new Set([...CONFIGURATION, ...vars, ...extra]);
}

/**
 * The values to redact from run data: every string in env whose name is not public (above), as
 * written and as a URL would carry it. Longest first, so a secret that contains another is
 * replaced whole. A secret can only reach run data verbatim (the loader refuses any other use),
 * so its exact text is what an echo would hold.
 */
export function secretValues(env: Env, open: ReadonlySet<string>): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || open.has(name)) continue;
    values.add(value);
    values.add(encodeURIComponent(value));
    // A secret that is a URL (an incoming-webhook address) holds its credential in its path or
    // query: an endpoint echoing only those parts, or the URL as a parser normalised it, is caught too.
    for (const part of urlParts(value)) if (part.length >= MIN_SECRET_LENGTH) values.add(part);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

function urlParts(value: string): string[] {
  if (!/^https?:\/\//i.test(value)) return [];
  try {
    const url = new URL(value);
    const rest = url.pathname + url.search;
    return rest.length > 1 ? [url.href, rest, decodeURIComponent(rest)] : [url.href];
  } catch {
    return [];
  }
}

/** A copy of `value` with every occurrence of a secret replaced by `[redacted]` (strings and keys). */
export function redact<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const clean = (s: string) => {
    let out = s;
    for (const secret of secrets) if (out.includes(secret)) out = out.replaceAll(secret, REDACTED);
    return out;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return clean(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [clean(k), walk(x)]));
    return v;
  };
  return walk(value) as T;
}
