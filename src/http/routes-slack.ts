import type { ModalView } from '@slack/types';
import { Hono } from 'hono';
import { z } from 'zod';
import { AppError } from '../errors';
import { verifySlackSignature } from '../identity/slack-signature';
import type { Result } from '../hitl/result';
import type { Env } from '../env';
import { postJson } from '../notify/channel';
import { truncate } from '../notify/escape';
import { slackApi, slackSecrets, slackUserNames } from '../notify/slack-api';
import { parseActionValue } from '../notify/slack-ref';
import { executionStub } from './stub';
import type { AppEnv } from './types';

const User = z.looseObject({ id: z.string().regex(/^[A-Z0-9]{2,32}$/) });

const BlockActions = z.looseObject({
  type: z.literal('block_actions'),
  user: User,
  trigger_id: z.string().max(200),
  response_url: z.string().url().optional(),
  actions: z.array(z.looseObject({ action_id: z.string(), value: z.string().optional() })).min(1),
});

const REJECT_MODAL = 'hitl-reject';

const ViewSubmission = z.looseObject({
  type: z.literal('view_submission'),
  user: User,
  view: z.looseObject({
    id: z.string().max(200),
    callback_id: z.string(),
    private_metadata: z.string().max(3000),
    state: z.looseObject({ values: z.record(z.string(), z.record(z.string(), z.looseObject({ value: z.string().nullish() }))) }),
  }),
});

type Decided = Result<{ step: string; status: string; repeated: boolean }>;

/** What the reject modal remembers between the click and the submission. */
const ModalMemo = z.object({ ref: z.string(), responseUrl: z.string().url().optional() });

/** Answers only the clicking user, in the channel (Slack's `response_url`); failures are logged, not fatal. */
async function tellUser(responseUrl: string | undefined, text: string): Promise<void> {
  if (!responseUrl) return;
  try {
    await postJson(responseUrl, JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }));
  } catch (e) {
    console.warn(JSON.stringify({ msg: 'slack ephemeral reply failed', error: e instanceof Error ? e.message : String(e) }));
  }
}

function rejectModal(memo: z.infer<typeof ModalMemo>, about: { ensemble: string; step: string; prompt: string }): ModalView {
  return {
    type: 'modal',
    callback_id: REJECT_MODAL,
    private_metadata: JSON.stringify(memo),
    title: { type: 'plain_text', text: 'Reject' },
    submit: { type: 'plain_text', text: 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'section', text: { type: 'plain_text', text: truncate(`${about.ensemble} / ${about.step}: ${about.prompt}`, 2900) } },
      {
        type: 'input',
        block_id: 'reason',
        label: { type: 'plain_text', text: 'Reason for rejecting' },
        element: { type: 'plain_text_input', action_id: 'reason', multiline: true, max_length: 3000 },
      },
    ],
  };
}

/** What a refused Slack user is told; when Slack would not share their email, that is likely why. */
const refusalText = (error: { code: string; message: string }, lookupError?: string) =>
  error.code === 'NOT_AN_APPROVER'
    ? `You are not an approver of this request, so nothing was recorded. (${error.message}${lookupError ? `; your Slack email could not be read: ${lookupError}` : ''})`
    : `Nothing was recorded: ${error.message}`;

/** The execution's object for an action value, or undefined for a value that is not ours. */
function stubFor(env: Env, value: string | undefined) {
  const ref = parseActionValue(value);
  return ref ? { ref, stub: executionStub(env, ref.executionId) } : undefined;
}

/**
 * `POST /slack/interactions`: the Slack app's Request URL. The signature is verified on the raw
 * body before anything is parsed (401 otherwise). The clicking Slack user is the identity: their
 * id and profile email are matched against the approvers, and a decision through Slack is verified.
 */
export const slackRoutes = new Hono<AppEnv>().post('/interactions', async (c) => {
  const secrets = slackSecrets(c.env);
  if (!secrets) throw new AppError('NOT_CONFIGURED', 'the Slack app is not configured (SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN)', 404);
  // Read as bytes: the signature covers the body exactly as sent.
  const raw = new TextDecoder().decode(await c.req.arrayBuffer());
  if (!verifySlackSignature(secrets.signingSecret, c.req.header('x-slack-request-timestamp'), raw, c.req.header('x-slack-signature'))) {
    throw new AppError('INVALID_SIGNATURE', 'the Slack request signature is missing, stale or wrong', 401);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new URLSearchParams(raw).get('payload') ?? '');
  } catch {
    throw new AppError('INVALID_INPUT', 'a Slack interaction is a form with a JSON `payload` field', 400);
  }
  const kind = z.looseObject({ type: z.string() }).safeParse(payload);
  if (!kind.success) throw new AppError('INVALID_INPUT', 'the Slack payload has no type', 400);

  if (kind.data.type === 'block_actions') {
    const p = BlockActions.safeParse(payload);
    if (!p.success) throw new AppError('INVALID_INPUT', 'unexpected Slack block_actions payload', 400);
    const action = p.data.actions[0]!;
    if (action.action_id !== 'approve' && action.action_id !== 'reject') return c.body(null, 200);
    const target = stubFor(c.env, action.value);
    if (!target) {
      await tellUser(p.data.response_url, 'This button does not belong to an approval request.');
      return c.body(null, 200);
    }
    const { names, lookupError } = await slackUserNames(c.env, p.data.user.id);
    if (lookupError) console.warn(JSON.stringify({ msg: 'slack users.info failed', user: p.data.user.id, error: lookupError }));
    if (action.action_id === 'approve') {
      const result = (await target.stub.decideInSlack(target.ref.requestId, names, { approved: true }, `block:${p.data.trigger_id}`)) as Decided;
      if (!result.ok) await tellUser(p.data.response_url, refusalText(result.error, lookupError));
      else if (!result.value.repeated) await tellUser(p.data.response_url, `You approved ${result.value.step}. The request is ${result.value.status}.`);
      return c.body(null, 200);
    }
    // Reject asks for a reason first; whether this user may decide is checked before the modal opens.
    const eligible = (await target.stub.slackEligibility(target.ref.requestId, names, `block:${p.data.trigger_id}`)) as Result<{ ensemble: string; step: string; prompt: string; repeated: boolean }>;
    if (!eligible.ok) {
      await tellUser(p.data.response_url, refusalText(eligible.error, lookupError));
      return c.body(null, 200);
    }
    // Slack retried a click whose form is already open.
    if (eligible.value.repeated) return c.body(null, 200);
    try {
      await slackApi(c.env, 'views.open', { trigger_id: p.data.trigger_id, view: rejectModal({ ref: action.value!, responseUrl: p.data.response_url }, eligible.value) }, z.looseObject({}));
    } catch (e) {
      await tellUser(p.data.response_url, `Could not open the rejection form: ${e instanceof Error ? e.message : String(e)}`);
    }
    return c.body(null, 200);
  }

  if (kind.data.type === 'view_submission') {
    const p = ViewSubmission.safeParse(payload);
    if (!p.success) throw new AppError('INVALID_INPUT', 'unexpected Slack view_submission payload', 400);
    if (p.data.view.callback_id !== REJECT_MODAL) return c.body(null, 200);
    let memo: z.infer<typeof ModalMemo>;
    try {
      memo = ModalMemo.parse(JSON.parse(p.data.view.private_metadata));
    } catch {
      throw new AppError('INVALID_INPUT', 'the rejection form lost its request reference', 400);
    }
    const target = stubFor(c.env, memo.ref);
    if (!target) throw new AppError('INVALID_INPUT', 'the rejection form lost its request reference', 400);
    const reason = p.data.view.state.values.reason?.reason?.value?.trim() ?? '';
    if (!reason) return c.json({ response_action: 'errors', errors: { reason: 'Say why you reject it.' } });
    const { names, lookupError } = await slackUserNames(c.env, p.data.user.id);
    const result = (await target.stub.decideInSlack(
      target.ref.requestId, names, { approved: false, reason: truncate(reason, 3000) }, `view:${p.data.view.id}`)) as Decided;
    if (!result.ok) return c.json({ response_action: 'errors', errors: { reason: truncate(refusalText(result.error, lookupError), 1900) } });
    if (!result.value.repeated) await tellUser(memo.responseUrl, `You rejected ${result.value.step}. The request is ${result.value.status}.`);
    return c.body(null, 200);
  }
  // Other interaction types (view_closed, shortcuts) are not ours to act on.
  return c.body(null, 200);
});
