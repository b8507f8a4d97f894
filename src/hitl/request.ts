import { z } from 'zod';
import { FormSpec } from './form';

export const channelNames = ['slack', 'email', 'webhook', 'teams', 'console'] as const;
export const Channel = z.enum(channelNames);
export type Channel = z.infer<typeof Channel>;

export const onTimeoutPolicies = ['continue', 'approve', 'reject', 'fail', 'escalate'] as const;

export const NotificationConfig = z.looseObject({
  webhookUrl: z.string().optional().meta({ description: 'webhook: the URL the approval request is POSTed to (JSON); slack: an incoming-webhook URL.', examples: ['${env.APPROVAL_WEBHOOK_URL}'] }),
  baseUrl: z.string().optional().meta({ description: 'Base URL of the review links (default PUBLIC_BASE_URL, else the request origin).', examples: ['https://approvals.example.com'] }),
  to: z.union([z.string(), z.array(z.string())]).optional().meta({ description: 'email: extra recipients besides the approvers.' }),
  from: z.string().optional().meta({ description: 'email: the sender (default EMAIL_FROM).' }),
  subject: z.string().optional().meta({ description: 'email: the subject (default: the prompt).' }),
  /** Slack app mode: the channel `chat.postMessage` posts to (id such as C0123, or #name). */
  channel: z.string().optional().meta({ description: 'slack (app mode): the channel posted to, an id such as C0123456789 or #name.' }),
  /** Where a notification goes once its channel gave up retrying (default console; `none` for nowhere). */
  fallback: z.union([Channel, z.literal('none')]).optional().meta({ description: 'Where a notification goes once its channel gave up retrying; none for nowhere.', default: 'console' }),
});

export const dataFormats = ['auto', 'markdown', 'diff', 'json'] as const;
export type DataFormat = (typeof dataFormats)[number];

/** What a suspended `hitl` step waits for; built by the agent, stored by the HITL object. */
export const ApprovalRequest = z.object({
  step: z.string(),
  prompt: z.string(),
  data: z.unknown(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  approvers: z.array(z.string()),
  minApprovals: z.number().int().min(1),
  timeoutMs: z.number().positive(),
  onTimeout: z.enum(onTimeoutPolicies),
  channels: z.array(Channel),
  notification: NotificationConfig,
  /** Base URL of links, resolved when the request was made. */
  baseUrl: z.string(),
  /** Re-notify undecided approvers every `remindAfterMs`, at most `reminders` times. */
  remindAfterMs: z.number().positive().optional(),
  reminders: z.number().int().min(0).default(0),
  /** Add `escalateTo` as approvers after `escalateAfterMs` (or at the timeout with onTimeout: escalate). */
  escalateAfterMs: z.number().positive().optional(),
  escalateTo: z.array(z.string()).default([]),
  /** Separation of duties: a decision by this identity is refused (403). */
  requester: z.string().optional(),
  /** Refuse every decision that does not come from a verified identity. */
  requireVerified: z.boolean().default(false),
  /** Include the review links in the 202 answer to whoever started the run (bearer credentials). */
  returnLinks: z.boolean().default(false),
  /** How the data is shown to people: `auto` (a table), `markdown`, `diff`, `json`. */
  format: z.enum(dataFormats).default('auto'),
  /** Fields approvers fill in; their answers are `output.response`. */
  form: FormSpec.optional(),
  /** `any`: one rejection rejects; `impossible`: only once minApprovals is out of reach. */
  onReject: z.enum(['any', 'impossible']).default('any'),
  allowDelegation: z.boolean().default(true),
  /** Announced with the other requests opened at once (one message, a batch link per approver). */
  groupNotifications: z.boolean().default(true),
  /**
   * Fields of `notification` kept as written because they use a secret (literal text and the
   * source of each env-only expression); completed from env when a notification is sent.
   */
  writtenCredentials: z.object({ webhookUrl: z.array(z.union([z.string(), z.object({ expr: z.string() })])).optional() }).optional(),
  /**
   * An `agent: wait` step: what it waits for is an event (name and key), not people. Such a
   * request has no approvers, links or notifications; an event closes it (src/events/).
   * `lookbackMs`: how old a kept event it accepts may be (default: as long as events are kept).
   */
  event: z.object({ name: z.string(), key: z.string(), lookbackMs: z.number().min(0).optional() }).optional(),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequest>;

/**
 * How a decision arrived: `link` a personal link (verified by possession), `shared` a shared link
 * with a typed name (not verified), `slack` a Slack app button (verified by Slack), `access` a
 * Cloudflare Access identity (verified by its signed assertion).
 */
export const DecisionVia = z.enum(['link', 'shared', 'slack', 'access']);
export type DecisionVia = z.infer<typeof DecisionVia>;

export const Approval = z.object({
  approver: z.string(),
  approved: z.boolean(),
  timestamp: z.string(),
  feedback: z.string().optional(),
  reason: z.string().optional(),
  verified: z.boolean(),
  via: DecisionVia.optional(),
  /** Other verified names of the same person (a Slack user's `slack:U…` id and email). */
  aliases: z.array(z.string()).optional(),
  /** The approver's answers to the step's form. */
  response: z.record(z.string(), z.unknown()).optional(),
});
export type Approval = z.infer<typeof Approval>;

/** The step output, exactly spec 004's schema (plus `verified` per approval). */
export const HitlOutput = z.object({
  status: z.enum(['pending', 'approved', 'rejected', 'timeout']),
  approved: z.boolean(),
  rejected: z.boolean(),
  timedOut: z.boolean(),
  approvals: z.array(Approval),
  reason: z.string().optional(),
  feedback: z.string().optional(),
  /** With a form: the answers of the decision that closed the request (defaults when none did). */
  response: z.record(z.string(), z.unknown()).optional(),
  /** Places handed on (delegation), in order. */
  delegations: z.array(z.object({ from: z.string(), to: z.string(), at: z.string(), reason: z.string().optional(), depth: z.number() })).optional(),
});
export type HitlOutput = z.infer<typeof HitlOutput>;

/**
 * A key of a form answer. `__proto__`, `constructor` and `prototype` are refused like any field the
 * form does not have: a plain object would drop `__proto__` silently, and no form has them.
 */
const FieldKey = z.string().refine((k) => !['__proto__', 'constructor', 'prototype'].includes(k), { message: 'is not a field of this form' });

/** The body of `POST /callback/:token`, JSON or form. Forms send strings, hence the coercion. */
export const DecisionBody = z.object({
  approved: z.union([
    z.boolean(),
    z.enum(['true', 'false', 'approve', 'reject']).transform((v) => v === 'true' || v === 'approve'),
  ]),
  feedback: z.string().max(10_000).optional(),
  reason: z.string().max(10_000).optional(),
  approver: z.string().trim().min(1).max(320).optional(),
  /** Answers to the step's form (a page sends them as `response.<field>`). */
  response: z.record(FieldKey, z.unknown()).optional(),
});
export type DecisionBody = z.infer<typeof DecisionBody>;

/** `POST /callback/:token` handing the approver's place to someone else. */
export const DelegationBody = z.strictObject({
  delegateTo: z.string().trim().min(1).max(320),
  reason: z.string().max(10_000).optional(),
});
export type DelegationBody = z.infer<typeof DelegationBody>;

/** A page posts form answers as `response.<field>`: gathered into `response` before validation. */
function gatherResponse(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const entries = Object.entries(raw as Record<string, unknown>);
  if (!entries.some(([k]) => k.startsWith('response.'))) return raw;
  // No prototype: `response.__proto__` becomes a key like any other (and is then refused), not the
  // object's prototype.
  const response: Record<string, unknown> = Object.create(null);
  const rest: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    if (k.startsWith('response.')) response[k.slice('response.'.length)] = v;
    else rest[k] = v;
  }
  return { ...rest, response };
}

/** Any body of `POST /callback/:token`, before it is told apart: a delegation names `delegateTo`. */
export const CallbackBody = z.preprocess(gatherResponse, z.record(z.string(), z.unknown()));
