import { z } from 'zod';
import { StepError } from '../errors';
import { parseDuration, DurationError } from '../ensemble/duration';
import type { ConfigProblem, StepRun } from '../runtime/step-kind';
import { normalizeIdentity } from '../identity/normalize';
import { LIMITS } from '../limits';
import { didYouMean, suggest } from '../ensemble/suggest';
import { plainIssue, valueAt } from '../ensemble/issue-words';
import { durationPattern, notADuration } from '../ensemble/schema';
import { Channel, dataFormats, NotificationConfig, onTimeoutPolicies, type ApprovalRequest } from './request';
import { FormField, FormSpec, readResponse } from './form';

const MAX_TIMEOUT_MS = 365 * 86_400_000;
/** What a stored webhookUrl reads when it is kept as written (`writtenCredentials`). */
const WRITTEN = '(kept as written: completed when sent)';
const DEFAULT_TIMEOUT_MS = 86_400_000;

/**
 * A wait in the unit of its style: a number is seconds in inputs and milliseconds in config. The
 * bounds and the pattern are metadata for editors: the loader refuses a wait of 0 or less, over 365
 * days or without a known unit with its own message (checkHitlStep), so the runtime accepts and
 * says exactly what it did.
 */
const wait = (unit: 's' | 'ms') => z.union([
  z.number().meta({ exclusiveMinimum: 0, maximum: unit === 's' ? MAX_TIMEOUT_MS / 1000 : MAX_TIMEOUT_MS }),
  z.string().meta({ pattern: durationPattern(true), errorMessage: notADuration(unit === 's' ? 'seconds' : 'milliseconds') }),
]);

/**
 * inputs style (spec "Inputs"): data, prompt, approvers, timeout (s), minApprovals, metadata.
 * Strict: a misspelt control key (`minApprovls`, `timout`, `reqeuster`) must never be ignored,
 * because ignoring it silently removes the control the author wrote.
 */
export const HitlInput = z.strictObject({
  data: z.unknown().optional().meta({ description: 'What reviewers see on the page and in notifications (any JSON), usually an earlier step\'s output.', examples: ['${draft.output}'] }),
  approvalData: z.unknown().optional().meta({ description: 'Synonym of `data` (the name spec 004\'s config style uses).' }),
  prompt: z.string().optional().meta({ description: 'The question approvers answer.', default: 'Approval required', examples: ['Publish this post?'] }),
  approvers: z.unknown().optional().meta({ description: 'Who may decide: emails, names or `slack:U…` ids. Each gets a personal link; with none, one shared link is made.', examples: [['lead@example.com', 'ops@example.com']] }),
  timeout: wait('s').optional().meta({ description: 'How long to wait: a number is SECONDS in inputs, or a string with its unit ("30m", "24h", "7 days"). At most 365 days.', default: 86400, examples: [3600, '24h'] }),
  minApprovals: z.number().int().min(1).optional().meta({ description: 'Distinct approvals needed. May be an expression, e.g. `${Math.ceil(approvers.length / 2)}`.', default: 1, examples: [2] }),
  metadata: z.record(z.string(), z.unknown()).optional().meta({ description: 'Facts shown beside the data (amount, customer...).', examples: [{ amount: '${quote.output.total}' }] }),
  onTimeout: z.enum(onTimeoutPolicies).optional().meta({ description: 'What the timeout means: continue (the step completes with status timeout), approve, reject, fail the run, or escalate (add escalateTo and wait another `timeout`).', default: 'continue' }),
  ...followUps('s'),
});

/** Reminders, escalation and separation of duties: accepted in inputs and in config. */
function followUps(unit: 's' | 'ms') {
  return {
    remindAfter: wait(unit).optional().meta({ description: 'Re-notify approvers who have not decided after this long (seconds in inputs, ms in config, or "4h").', examples: ['4h'] }),
    reminders: z.number().int().min(0).max(20).optional().meta({ description: 'How many reminders at most (with remindAfter).', default: 1 }),
    escalateAfter: wait(unit).optional().meta({ description: 'Add `escalateTo` as approvers and notify them after this long.', examples: ['12h'] }),
    escalateTo: z.unknown().optional().meta({ description: 'Approvers added on escalation.', examples: [['director@example.com']] }),
    requester: z.string().optional().meta({ description: 'Separation of duties: this identity cannot decide, and typed names are refused.', examples: ['${input.author}'] }),
    requireVerified: z.boolean().optional().meta({ description: 'Accept only verified decisions: personal links, the Slack app, Cloudflare Access (no typed names on a shared link).', default: false }),
    returnLinks: z.boolean().optional().meta({ description: 'Put the review links in the 202 answer to whoever started the run.', default: false }),
    format: z.enum(dataFormats).optional().meta({ description: 'How the data is shown: auto (a readable table), markdown (strings rendered as Markdown), diff (a unified diff), json.', default: 'auto' }),
    form: FormSpec.optional().meta({ description: 'Fields approvers fill in beside the decision; the answers are `${step.output.response.<field>}`.', examples: [{ rating: { type: 'integer', minimum: 1, maximum: 5, required: true }, note: { type: 'string', title: 'Note to the author' } }] }),
    onReject: z.enum(['any', 'impossible']).optional().meta({ description: 'any: one rejection rejects. impossible: rejected only once the approvers who have not decided can no longer reach minApprovals (a committee majority).', default: 'any' }),
    allowDelegation: z.boolean().optional().meta({ description: 'Whether a verified approver may hand their place to someone else.', default: true }),
    groupNotifications: z.boolean().optional().meta({ description: 'Requests this step opens at once (the items of a foreach, branches naming the same people) are announced in one message per channel, with one batch link per approver; false: one message per request.', default: true }),
  };
}

/** config style (spec "Actions"): action, timeout (ms), notificationChannel, notificationConfig. */
export const HitlConfig = z.strictObject({
  action: z.literal('suspend').optional().meta({ description: 'The only action: suspend the run until approvers decide.', default: 'suspend' }),
  timeout: wait('ms').optional().meta({ description: 'How long to wait: a number is MILLISECONDS in config, or a string with its unit ("24h").', default: 86400000, examples: [86400000, '24h'] }),
  notificationChannel: z.union([Channel, z.array(Channel)]).optional().meta({ description: 'Where approvers are told: slack, email, webhook, console, or a list of them. Default: email when approvers are emails and email is configured, else console.', examples: ['email', ['email', 'slack']] }),
  notificationConfig: z.strictObject(NotificationConfig.shape).optional().meta({ description: 'Settings of the channels (webhook URL, email recipients, Slack channel, link base URL).' }),
  prompt: z.string().optional().meta({ description: 'The question approvers answer (also accepted under inputs).', default: 'Approval required' }),
  approvers: z.unknown().optional().meta({ description: 'Who may decide (also accepted under inputs).' }),
  minApprovals: z.number().int().min(1).optional().meta({ description: 'Distinct approvals needed.', default: 1 }),
  onTimeout: z.enum(onTimeoutPolicies).optional().meta({ description: 'What the timeout means (see inputs.onTimeout).', default: 'continue' }),
  ...followUps('ms'),
});

/**
 * Approvers as a flat list of non-empty strings. Nested lists are flattened because the spec's
 * `approvers: [[email protected]]` (a flow sequence inside a flow sequence) must load as written.
 */
export function normalizeApprovers(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const flat = (Array.isArray(value) ? value : [value]).flat(Infinity as 1);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const v of flat) {
    if (v === null || v === undefined || v === '') continue;
    // An approver is a name: a number or an object here is a mistake (`approvers: 2` meant minApprovals).
    if (typeof v !== 'string') throw new StepError('INVALID_HITL_INPUT', `approvers must be names or emails, got ${JSON.stringify(v)}${typeof v === 'number' ? ' (did you mean minApprovals?)' : ''}`);
    const s = v.trim();
    // One person is one approver however often or however spelt they are listed.
    const key = normalizeIdentity(s);
    if (key && !seen.has(key)) {
      seen.add(key);
      out.push(s);
    }
  }
  return out;
}

/**
 * A duration given in either style: numbers are seconds in `inputs` (spec "Inputs") and
 * milliseconds in `config` (spec "Actions"); strings carry their unit. Undefined when neither is set.
 */
function styledDuration(inInput: unknown, inConfig: unknown): number | undefined {
  try {
    if (inInput !== undefined) return parseDuration(inInput, 's');
    if (inConfig !== undefined) return parseDuration(inConfig, 'ms');
    return undefined;
  } catch (e) {
    if (e instanceof DurationError) throw new StepError('INVALID_HITL_INPUT', e.message);
    throw e;
  }
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The keys each style accepts, for load-time checks and suggestions. */
export const hitlKeys = {
  inputs: Object.keys(HitlInput.shape),
  config: Object.keys(HitlConfig.shape),
  notificationConfig: Object.keys(NotificationConfig.shape),
} as const;

function issues(error: z.ZodError, style: 'inputs' | 'config'): string {
  return error.issues.map((i) => {
    const at = i.path.join('.');
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => unknownKeyMessage(k, style, at === 'notificationConfig')).join('; ');
    return `${at || 'value'}: ${i.message}`;
  }).join('; ');
}

/**
 * Why a key of a hitl step is not accepted: it belongs to the other style, or it is misspelt
 * (with the closest known key), or it is simply unknown.
 */
export function unknownKeyMessage(key: string, style: 'inputs' | 'config', inNotificationConfig = false, value?: unknown): string {
  if (inNotificationConfig) return `unknown key '${key}' in hitl notificationConfig${didYouMean(key, hitlKeys.notificationConfig)}`;
  const other = style === 'inputs' ? 'config' : 'inputs';
  if (!hitlKeys[style].includes(key) && hitlKeys[other].includes(key)) {
    return `'${key}' is not a hitl ${style} key: it belongs under ${other}:`;
  }
  // A count is never an approver list: `approvals: 2` meant minApprovals, whatever the spelling says.
  const meant = typeof value === 'number' && /approv/i.test(key) ? 'minApprovals' : suggest(key, hitlKeys[style]);
  if (!meant) return `unknown key '${key}' in hitl ${style}${didYouMean(key, hitlKeys[style])}`;
  // A duration key written with a unit (timeoutMs, timeout_sec) must learn the unit of the real key.
  const unit = DURATION_KEYS.has(meant)
    ? ` (${style === 'inputs' ? 'seconds' : 'milliseconds'} here as a number, or a string with its unit such as "30s" or "24h")`
    : '';
  return `unknown key '${key}' in hitl ${style} — did you mean '${meant}'?${unit}`;
}

const DURATION_KEYS = new Set(['timeout', 'remindAfter', 'escalateAfter']);

/** The `hitl` step as it runs: validates the rendered step and describes the approval to wait for. */
export function prepareApproval(ctx: StepRun): ApprovalRequest {
  {
    const input = HitlInput.safeParse(ctx.input ?? {});
    if (!input.success) throw new StepError('INVALID_HITL_INPUT', `hitl inputs: ${issues(input.error, 'inputs')}`);
    const config = HitlConfig.safeParse(ctx.config ?? {});
    if (!config.success) throw new StepError('INVALID_HITL_CONFIG', `hitl config: ${issues(config.error, 'config')}`);
    const i = input.data;
    const c = config.data;
    const approvers = normalizeApprovers(i.approvers ?? c.approvers);
    const escalateToAll = normalizeApprovers(i.escalateTo ?? c.escalateTo);
    if (approvers.length + escalateToAll.length > LIMITS.approvers) {
      throw new StepError('INVALID_HITL_INPUT', `a hitl step takes at most ${LIMITS.approvers} approvers (with escalateTo); got ${approvers.length + escalateToAll.length}`);
    }
    const minApprovals = i.minApprovals ?? c.minApprovals ?? 1;
    if (approvers.length > 0 && minApprovals > approvers.length) {
      throw new StepError('INVALID_HITL_INPUT', `minApprovals (${minApprovals}) is more than the ${approvers.length} distinct approver(s): ${approvers.join(', ')}`);
    }
    const timeout = styledDuration(i.timeout, c.timeout) ?? DEFAULT_TIMEOUT_MS;
    if (timeout <= 0 || timeout > MAX_TIMEOUT_MS) throw new StepError('INVALID_HITL_INPUT', 'timeout must be more than 0 and at most 365 days');
    const remindAfterMs = styledDuration(i.remindAfter, c.remindAfter);
    const escalateAfterMs = styledDuration(i.escalateAfter, c.escalateAfter);
    const escalateTo = normalizeApprovers(i.escalateTo ?? c.escalateTo);
    const onTimeout = i.onTimeout ?? c.onTimeout ?? 'continue';
    if ((escalateAfterMs !== undefined || onTimeout === 'escalate') && escalateTo.length === 0) {
      throw new StepError('INVALID_HITL_INPUT', 'escalation needs escalateTo (one or more approvers)');
    }
    const requester = i.requester ?? c.requester;
    const onReject = i.onReject ?? c.onReject ?? 'any';
    if (onReject === 'impossible' && approvers.length === 0) {
      throw new StepError('INVALID_HITL_INPUT', 'onReject: impossible needs an approver list (with anyone deciding, a majority is never out of reach)');
    }
    const form = i.form ?? c.form;
    // A default (often an expression) must itself be a valid answer, or the form could never be sent as shown.
    if (form) {
      for (const [name, field] of Object.entries(form)) {
        if (field.default === undefined) continue;
        const one = readResponse({ [name]: field }, { [name]: field.default }, { fromHtml: false, approving: false });
        if (!one.ok) throw new StepError('INVALID_HITL_INPUT', `form field '${name}': the default ${JSON.stringify(field.default)} ${one.issues[0]!.message}`);
      }
    }
    // A webhook URL that holds a secret is kept as written (`${env.HOOK}`): it is completed only
    // when a notification is sent (src/hitl/credentials.ts), so the secret is never stored.
    const writtenHook = ctx.written(['notificationConfig', 'webhookUrl']);
    const notification = writtenHook === undefined ? c.notificationConfig ?? {} : { ...c.notificationConfig, webhookUrl: WRITTEN };
    const env = ctx.env;
    const baseUrl = (notification.baseUrl || (typeof env.PUBLIC_BASE_URL === 'string' && env.PUBLIC_BASE_URL) || ctx.origin || 'http://127.0.0.1:8787').replace(/\/+$/, '');
    return {
      step: ctx.step,
      prompt: i.prompt ?? c.prompt ?? 'Approval required',
      data: i.data !== undefined ? i.data : (i.approvalData ?? null),
      metadata: i.metadata,
      approvers,
      minApprovals,
      timeoutMs: timeout,
      onTimeout,
      channels: asList(c.notificationChannel),
      notification,
      baseUrl,
      ...(remindAfterMs ? { remindAfterMs } : {}),
      reminders: remindAfterMs ? (i.reminders ?? c.reminders ?? 1) : 0,
      ...(escalateAfterMs ? { escalateAfterMs } : {}),
      escalateTo,
      ...(requester ? { requester: String(requester) } : {}),
      requireVerified: i.requireVerified ?? c.requireVerified ?? false,
      returnLinks: i.returnLinks ?? c.returnLinks ?? false,
      format: i.format ?? c.format ?? 'auto',
      ...(form ? { form } : {}),
      onReject,
      allowDelegation: i.allowDelegation ?? c.allowDelegation ?? true,
      groupNotifications: i.groupNotifications ?? c.groupNotifications ?? true,
      ...(writtenHook === undefined ? {} : { writtenCredentials: { webhookUrl: writtenHook } }),
    };
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every key of the step as written (values may be expressions): known, or a problem at the key. */
function checkKeys(written: { config: unknown; input: unknown }): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (path: string[], message: string) => problems.push({ path, atKey: true, message });
  if (isPlainObject(written.input)) {
    for (const [key, value] of Object.entries(written.input)) if (!hitlKeys.inputs.includes(key)) at(['inputs', key], unknownKeyMessage(key, 'inputs', false, value));
  }
  if (isPlainObject(written.config)) {
    for (const [key, value] of Object.entries(written.config)) if (!hitlKeys.config.includes(key)) at(['config', key], unknownKeyMessage(key, 'config', false, value));
    const nc = written.config.notificationConfig;
    if (isPlainObject(nc)) {
      for (const key of Object.keys(nc)) if (!hitlKeys.notificationConfig.includes(key)) at(['config', 'notificationConfig', key], unknownKeyMessage(key, 'config', true));
    }
  }
  return problems;
}

/**
 * Load-time checks of a hitl step: every key as written (`written`, values may be expressions), and
 * the values that are static (`config`, `input`).
 */
/** What decides a gate: given in the config, never replaceable by the inputs. */
const GATE_KEYS = ['approvers', 'minApprovals', 'requester', 'escalateTo', 'escalateAfter', 'timeout', 'onTimeout', 'onReject', 'form', 'requireVerified', 'allowDelegation'] as const;

export function checkHitlStep(step: { config: Record<string, unknown>; input: Record<string, unknown>; written: { config: unknown; input: unknown } }): ConfigProblem[] {
  const problems = checkKeys(step.written);
  // Static values of both styles against their schemas (keys with expressions are checked when the
  // step runs); unknown keys are reported above, once, with a suggestion.
  for (const [where, schema, values] of [['config', HitlConfig, step.config], ['inputs', HitlInput, step.input]] as const) {
    const parsed = schema.partial().safeParse(values);
    if (parsed.success) continue;
    for (const i of parsed.error.issues) {
      if (i.code === 'unrecognized_keys') continue;
      problems.push({ path: [where, ...(i.path as (string | number)[])], message: plainIssue(i, valueAt(values, i.path)) });
    }
  }
  const input = step.input;
  // Who decides, and how, fixed in the config (often a library agent's definition) cannot be given
  // by the inputs too: inputs win, and a run's caller must not pick the approvers of a gate.
  const fixed = GATE_KEYS.filter((k) => Object.hasOwn(step.config, k) || (isPlainObject(step.written.config) && Object.hasOwn(step.written.config, k)));
  if (fixed.length) {
    const w = step.written.input;
    if (w !== undefined && w !== null && !isPlainObject(w)) {
      problems.push({ path: ['inputs'], message: `the config fixes ${fixed.join(', ')}: the inputs cannot be one expression, which could give them too (inputs win); write the inputs as a mapping` });
    } else if (isPlainObject(w)) {
      for (const k of fixed) if (Object.hasOwn(w, k)) problems.push({ path: ['inputs', k], atKey: true, message: `'${k}' is given by both the config and the inputs: keep one (the config's cannot be replaced by inputs)` });
    }
  }
  // A form default that does not fit its field would make the form impossible to send as shown.
  for (const where of ['inputs', 'config'] as const) {
    const form = (where === 'inputs' ? input : step.config).form;
    if (!isPlainObject(form)) continue;
    for (const [name, raw] of Object.entries(form)) {
      const field = FormField.safeParse(raw);
      if (!field.success || field.data.default === undefined) continue;
      const one = readResponse({ [name]: field.data }, { [name]: field.data.default }, { fromHtml: false, approving: false });
      if (!one.ok) problems.push({ path: [where, 'form', name, 'default'], message: `form field '${name}': the default ${JSON.stringify(field.data.default)} ${one.issues[0]!.message}` });
    }
  }
  const approvers = input.approvers ?? step.config.approvers;
  const listed = Array.isArray(approvers) ? approvers.flat(Infinity as 1) : approvers === undefined ? [] : [approvers];
  if (listed.some((a) => a !== null && typeof a !== 'string')) {
    problems.push({ path: [input.approvers !== undefined ? 'inputs' : 'config', 'approvers'], message: `approvers must be names or emails${listed.some((a) => typeof a === 'number') ? ' (a number here? the count is minApprovals)' : ''}` });
  }
  const min = input.minApprovals ?? step.config.minApprovals;
  // Counted as listed: spec 004 prints its example approvers as identical `[email protected]`
  // placeholders, and its examples must load as written. Duplicates are merged when the step runs.
  if (Array.isArray(approvers) && typeof min === 'number' && approvers.length > 0) {
    const count = approvers.flat(Infinity as 1).length;
    if (min > count) problems.push({ path: ['inputs', 'minApprovals'], message: `minApprovals (${min}) is more than the ${count} approver(s)` });
  }
  // Written, not static: `escalateTo: ${input.boss}` is set, its value known only when the step runs.
  const writtenInput = isPlainObject(step.written.input) ? step.written.input : {};
  const writtenConfig = isPlainObject(step.written.config) ? step.written.config : {};
  const escalateTo = writtenInput.escalateTo ?? writtenConfig.escalateTo;
  const wantsEscalation = [input.escalateAfter, step.config.escalateAfter].some((v) => v !== undefined) || [input.onTimeout, step.config.onTimeout].includes('escalate');
  if (wantsEscalation && escalateTo === undefined) {
    problems.push({ path: [input.escalateAfter !== undefined || input.onTimeout !== undefined ? 'inputs' : 'config'], message: 'escalation needs escalateTo (one or more approvers)' });
  }
  for (const [where, key, unit] of [
    ['inputs', 'timeout', 's'], ['config', 'timeout', 'ms'],
    ['inputs', 'remindAfter', 's'], ['config', 'remindAfter', 'ms'],
    ['inputs', 'escalateAfter', 's'], ['config', 'escalateAfter', 'ms'],
  ] as const) {
    const value = (where === 'inputs' ? input : step.config)[key];
    if (value === undefined || (typeof value !== 'number' && typeof value !== 'string')) continue;
    try {
      const ms = parseDuration(value, unit);
      if (ms <= 0 || ms > MAX_TIMEOUT_MS) problems.push({ path: [where, key], message: `${key} must be more than 0 and at most 365 days (got ${JSON.stringify(value)}${unit === 's' ? ' seconds' : ' ms'})` });
    } catch (e) {
      if (!(e instanceof DurationError)) throw e;
      problems.push({ path: [where, key], message: e.message });
    }
  }
  return problems;
}
