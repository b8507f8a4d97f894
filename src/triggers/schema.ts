import { z } from 'zod';
import { Cron } from 'croner';
import { EVENT_NAME, EVENT_NAME_RULE } from '../events/names';

// An ensemble's `trigger:` list: what starts its runs besides `POST /ensembles/:name`. Each entry
// is checked when the ensemble loads (src/ensemble/loader.ts); the Worker's handlers (scheduled,
// fetch under /hooks/, queue, email) find the ensembles whose triggers match (src/triggers/).

/** `$env.NAME` or `${env.NAME}`: a secret read by name, never written in the file. */
const SecretRef = z.string().regex(/^(\$env\.[A-Za-z_][A-Za-z0-9_]*|\$\{\s*env\.[A-Za-z_][A-Za-z0-9_]*\s*\})$/, 'a secret is named, not written: "$env.NAME" (set with `wrangler secret put NAME`)');

export const secretName = (ref: string): string => /env\.([A-Za-z_][A-Za-z0-9_]*)/.exec(ref)![1]!;

const SignedAuth = z.strictObject({
  type: z.enum(['github', 'stripe', 'slack', 'hmac-sha256']).describe('github: X-Hub-Signature-256; stripe: Stripe-Signature; slack: X-Slack-Signature; hmac-sha256: X-Signature: sha256=<hex>'),
  secret: SecretRef.describe('the signing secret, by name: "$env.GITHUB_WEBHOOK_SECRET"'),
  tolerance: z.number().int().min(1).max(3600).optional().describe('stripe and slack: how old a signed timestamp may be, in seconds (default 300)'),
});
const BearerAuth = z.strictObject({ type: z.literal('bearer').describe("the Worker's API key as `Authorization: Bearer <key>`") });

export const CronTrigger = z.strictObject({
  type: z.literal('cron'),
  cron: z.string().min(1).max(200).meta({ description: 'five fields: minute hour day-of-month month day-of-week (ranges, steps, lists, names)', examples: ['30 9 * * MON-FRI'] }),
  timezone: z.string().min(1).max(64).optional().meta({ description: 'IANA time zone the fields are read in (default UTC); daylight-saving changes are followed', examples: ['Europe/Paris'] }),
  input: z.record(z.string(), z.unknown()).optional().describe('the input of each run it starts'),
  enabled: z.boolean().optional().describe('false: the schedule is kept but starts nothing'),
});

export const WebhookTrigger = z.strictObject({
  type: z.literal('webhook'),
  path: z.string().regex(/^\/hooks\/[A-Za-z0-9][A-Za-z0-9._~-]*(\/[A-Za-z0-9][A-Za-z0-9._~-]*)*$/, 'a path under /hooks/, written in full: /hooks/github-push').max(200)
    .meta({ description: 'where the webhook is received, in full', examples: ['/hooks/github-push'] }),
  auth: z.union([SignedAuth, BearerAuth]).optional().describe('how a request proves where it comes from (or `public: true`)'),
  public: z.literal(true).optional().describe('anyone may start a run here: said explicitly'),
  respond: z.enum(['async', 'sync']).optional().describe('async (default): 202 with the execution id; sync: the run\'s answer when it completes within the request'),
  emit: z.strictObject({
    event: z.string().regex(EVENT_NAME, `an event name: ${EVENT_NAME_RULE}`).meta({ description: 'the event each request becomes (its data is the body)', examples: ['payment.settled'] }),
    key: z.string().min(1).max(500).meta({ description: 'its key, from the body: an expression over `input` (the body)', examples: ['${input.data.object.metadata.orderId}'] }),
  }).optional().describe('instead of starting a run, each request is an event for the `agent: wait` steps waiting on (event, key)'),
});

export const QueueTrigger = z.strictObject({
  type: z.literal('queue'),
  queue: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'a queue name').meta({ description: 'the Cloudflare Queue this Worker consumes ([[queues.consumers]] in wrangler.toml); each message body is a run\'s input', examples: ['ensemble-hitl'] }),
});

export const EmailTrigger = z.strictObject({
  type: z.literal('email'),
  addresses: z.array(z.string().min(3).max(254)).min(1).max(50).meta({ description: 'the addresses it receives (Email Routing), `*` as a wildcard', examples: [['approvals@example.com', 'ap-*@example.com']] }),
  from: z.array(z.string().min(3).max(254)).min(1).max(100).optional().describe('only these senders (`*` as a wildcard); other mail is rejected'),
});

export const Trigger = z.discriminatedUnion('type', [CronTrigger, WebhookTrigger, QueueTrigger, EmailTrigger]);
export type Trigger = z.infer<typeof Trigger>;
export type TriggerType = Trigger['type'];
export const triggerTypes = ['cron', 'webhook', 'queue', 'email'] as const;

/** Conductor's trigger types this runtime does not have, with what to use. */
export const UNSUPPORTED_TRIGGERS: Record<string, string> = {
  http: 'every ensemble answers POST /ensembles/:name (the API key); for a third party, use `type: webhook`',
  mcp: 'not an MCP server',
  build: 'nothing runs at build time',
  cli: 'run it with `npm run hitl -- run <ensemble>`',
};

/** How a run was started, as its record and the index keep it. */
export type StartedBy = 'api' | TriggerType | 'event';

/** A cron expression and time zone checked (croner parses; Intl knows the zone). */
export function cronProblem(expr: string, timezone: string | undefined): { field: 'cron' | 'timezone'; message: string } | undefined {
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: timezone });
    } catch {
      return { field: 'timezone', message: `unknown time zone '${timezone}': an IANA name such as Europe/Paris or America/New_York` };
    }
  }
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return { field: 'cron', message: `a cron expression has five fields (minute hour day-of-month month day-of-week); '${expr}' has ${fields.length}` };
  try {
    scheduleOf(expr, timezone);
  } catch (e) {
    return { field: 'cron', message: `invalid cron expression '${expr}': ${e instanceof Error ? e.message : String(e)}` };
  }
  return undefined;
}

/** The schedule of an expression in a zone (never started: only matched against given times). */
export function scheduleOf(expr: string, timezone: string | undefined): Cron {
  return new Cron(expr.trim(), { timezone: timezone ?? 'UTC', mode: '5-part', paused: true });
}

/** Whether a schedule fires at this minute (the minute of a scheduled event, in UTC). */
export function firesAt(schedule: Cron, minute: Date): boolean {
  // The first run after the minute before: croner follows daylight-saving changes as cron does.
  const next = schedule.nextRun(new Date(minute.getTime() - 1000));
  return next !== null && Math.floor(next.getTime() / 60_000) === Math.floor(minute.getTime() / 60_000);
}

/** An address pattern (`ap-*@example.com`) against an address, case-insensitively. */
export function addressMatches(pattern: string, address: string): boolean {
  const p = pattern.toLowerCase();
  const a = address.toLowerCase().trim();
  if (!p.includes('*')) return p === a;
  const parts = p.split('*');
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === 0) {
      if (!a.startsWith(part)) return false;
      at = part.length;
      continue;
    }
    if (i === parts.length - 1) return a.length - part.length >= at && a.endsWith(part);
    const found = a.indexOf(part, at);
    if (found === -1) return false;
    at = found + part.length;
  }
  return true;
}
