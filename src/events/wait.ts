import { z } from 'zod';
import { StepError } from '../errors';
import { DurationError, parseDuration } from '../ensemble/duration';
import { durationPattern, notADuration } from '../ensemble/schema';
import { didYouMean } from '../ensemble/suggest';
import { plainIssue, valueAt } from '../ensemble/issue-words';
import { LIMITS } from '../limits';
import type { ApprovalRequest } from '../hitl/request';
import type { ConfigProblem, StepAsWritten, StepKind } from '../runtime/step-kind';
import { EVENT_NAME, EVENT_NAME_RULE, keyProblem, keyText } from './names';

// `agent: wait`: the step suspends until an event with its name and key arrives (POST
// /events/:name, or a webhook that emits), or its timeout. Its output is
// `{ status: received | timeout, data, receivedAt, event }`. Like `agent: hitl`, its result is the
// suspension: the execution's object stores it as a request that no one decides (no approvers,
// links or notifications), registers it with the event box of (name, key), and closes it when the
// event comes.

const MAX_TIMEOUT_MS = 365 * 86_400_000;
const DEFAULT_TIMEOUT_MS = 86_400_000;

const duration = (description: string) => z.union([
  z.number().meta({ minimum: 0, maximum: MAX_TIMEOUT_MS / 1000 }),
  z.string().meta({ pattern: durationPattern(true), errorMessage: notADuration('seconds') }),
]).meta({ description });

export const WaitInput = z.strictObject({
  event: z.string().regex(EVENT_NAME, `an event name: ${EVENT_NAME_RULE}`).meta({ description: 'The name of the event to wait for, as senders give it (`POST /events/<name>`, or a webhook\'s `emit.event`).', examples: ['payment.settled'] }),
  key: z.union([z.string(), z.number()]).meta({ description: 'Which one: the value the event must carry as its `key` (usually from the input: an order id).', examples: ['${input.orderId}'] }),
  timeout: duration('How long to wait: a number is SECONDS, or a string with its unit ("30m", "24h", "7 days"). At most 365 days.').optional().meta({ default: 86400 }),
  onTimeout: z.enum(['continue', 'fail']).optional().meta({ description: 'continue: the step completes with status timeout (data null); fail: the step fails with WAIT_TIMEOUT (a try can catch it).', default: 'continue' }),
  lookback: duration('Accept an event that arrived before the wait started, at most this long before (default: any event still kept, see EVENT_LOOKBACK); 0: only events that arrive after it started.').optional(),
});

const KEYS = Object.keys(WaitInput.shape);
const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A duration in milliseconds, or why not (a number is seconds). */
function ms(value: unknown, key: string, min: number): number | string {
  try {
    const v = parseDuration(value, 's');
    if (v < min || v > MAX_TIMEOUT_MS) return `${key} must be ${min === 0 ? '0 or more' : 'more than 0'} and at most 365 days (got ${JSON.stringify(value)}${typeof value === 'number' ? ' seconds' : ''})`;
    return v;
  } catch (e) {
    if (e instanceof DurationError) return e.message;
    throw e;
  }
}

function check(step: StepAsWritten): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (isPlainObject(step.written.config)) {
    for (const k of Object.keys(step.written.config)) problems.push({ path: ['config', k], atKey: true, message: `a wait step takes no config: '${k}' goes under inputs${KEYS.includes(k) ? '' : didYouMean(k, KEYS)}` });
  }
  const written = step.written.input;
  if (!isPlainObject(written)) {
    if (written === undefined) problems.push({ path: [], message: 'a wait step needs inputs: { event, key } (and optionally timeout, onTimeout, lookback)' });
    return problems;
  }
  for (const k of Object.keys(written)) if (!KEYS.includes(k)) problems.push({ path: ['inputs', k], atKey: true, message: `unknown key '${k}' in wait inputs${didYouMean(k, KEYS)}` });
  for (const k of ['event', 'key'] as const) if (!Object.hasOwn(written, k)) problems.push({ path: ['inputs'], message: `a wait step needs inputs.${k}` });
  const parsed = WaitInput.partial().safeParse(Object.fromEntries(Object.entries(step.input).filter(([k]) => KEYS.includes(k))));
  if (!parsed.success) {
    for (const i of parsed.error.issues) problems.push({ path: ['inputs', ...(i.path as (string | number)[])], message: plainIssue(i, valueAt(step.input, i.path)) });
  }
  if (Object.hasOwn(step.input, 'key')) {
    const problem = keyProblem(step.input.key);
    if (problem) problems.push({ path: ['inputs', 'key'], message: problem });
  }
  for (const [k, min] of [['timeout', 1], ['lookback', 0]] as const) {
    const v = step.input[k];
    if (typeof v !== 'number' && typeof v !== 'string') continue;
    const got = ms(v, k, min);
    if (typeof got === 'string') problems.push({ path: ['inputs', k], message: got });
  }
  return problems;
}

export const wait: StepKind = {
  key: 'agent',
  config: z.strictObject({}),
  input: WaitInput,
  inputsFirst: true,
  retries: false,
  check: (step) => check(step),
  async run(ctx) {
    const parsed = WaitInput.safeParse(ctx.input ?? {});
    if (!parsed.success) throw new StepError('INVALID_WAIT_INPUT', `wait inputs: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'inputs'}: ${i.message}`).join('; ')}`);
    const i = parsed.data;
    const problem = keyProblem(i.key);
    if (problem) throw new StepError('INVALID_WAIT_INPUT', `wait inputs.key: ${problem}`);
    const timeoutMs = i.timeout === undefined ? DEFAULT_TIMEOUT_MS : ms(i.timeout, 'timeout', 1);
    if (typeof timeoutMs === 'string') throw new StepError('INVALID_WAIT_INPUT', timeoutMs);
    const lookbackMs = i.lookback === undefined ? undefined : ms(i.lookback, 'lookback', 0);
    if (typeof lookbackMs === 'string') throw new StepError('INVALID_WAIT_INPUT', lookbackMs);
    const key = keyText(i.key);
    const request: ApprovalRequest = {
      step: ctx.step,
      prompt: `Waiting for the event '${i.event}' (key ${key.length > 80 ? `${key.slice(0, 80)}…` : key})`,
      data: null,
      approvers: [],
      minApprovals: 1,
      timeoutMs,
      onTimeout: i.onTimeout ?? 'continue',
      channels: [],
      notification: {},
      baseUrl: '',
      reminders: 0,
      escalateTo: [],
      requireVerified: false,
      returnLinks: false,
      format: 'json',
      onReject: 'any',
      allowDelegation: false,
      groupNotifications: false,
      event: { name: i.event, key, ...(lookbackMs === undefined ? {} : { lookbackMs: Math.min(lookbackMs, LIMITS.eventLookbackMaxMs) }) },
    };
    return { suspend: request };
  },
};
