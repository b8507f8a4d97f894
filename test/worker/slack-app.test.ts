import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { slackSignature } from '../../src/identity/slack-signature';
import { auth } from './helpers';
import { eventually, fireAlarm, hitlApp, received, suspend } from './hitl-helpers';

// The Slack app: SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET are test bindings, SLACK_API_URL points at
// the local receiver's Web API stand-in, and interactions are signed here as Slack signs them.
const channel = () => `C${crypto.randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;

beforeAll(async () => {
  await fetch(`${env.RECEIVER}/_slack/users`, {
    method: 'POST',
    body: JSON.stringify({ UALICE: { email: 'Alice@Example.com' }, UEVE: { email: 'eve@example.com' }, UBOB: {}, UMALLORY: { email: 'mallory@example.com' } }),
  });
});

function app(name: string, room: string, inputs: string) {
  return hitlApp(name, `agents:
  - name: approve
    agent: hitl
    inputs:
      data: { amount: 42 }
      prompt: "Pay invoice? <!channel> <https://evil.example|click>"
${inputs}
    config: { notificationChannel: slack, notificationConfig: { channel: ${room} } }
`);
}

type App = ReturnType<typeof app>;

/** Posts an interaction as Slack does: form-encoded `payload`, signed with the signing secret. */
async function interact(a: App, payload: unknown, headers: Record<string, string> = {}, at = Math.floor(Date.now() / 1000)) {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const res = await a.request('/slack/interactions', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(at),
      'x-slack-signature': slackSignature(env.SLACK_SIGNING_SECRET as string, at, body),
      ...headers,
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const click = (user: string, action: 'approve' | 'reject', value: string, trigger = crypto.randomUUID()) => ({
  type: 'block_actions',
  user: { id: user },
  trigger_id: trigger,
  response_url: `${env.RECEIVER}/slack-response/${trigger}`,
  actions: [{ action_id: action, value, action_ts: '1' }],
});

/** Suspends a run and returns the message Slack got (chat.postMessage) and its button value. */
async function posted(a: App, name: string, room: string) {
  const id = await suspend(a, name);
  const hit = await eventually(async () => {
    await fireAlarm(id);
    const hits = (await received('/slack-api/chat.postMessage')).filter((h) => h.json.channel === room);
    expect(hits).toHaveLength(1);
    return hits[0];
  });
  const buttons = hit.json.blocks.find((b: any) => b.type === 'actions').elements;
  return { id, message: hit, buttons, value: buttons[0].value as string };
}

/** The chat.update calls for a channel once there are `count` of them (the alarm delivers them). */
const updatesOf = (id: string, room: string, count: number) => eventually(async () => {
  await fireAlarm(id);
  const hits = (await received('/slack-api/chat.update')).filter((h) => h.json.channel === room);
  expect(hits).toHaveLength(count);
  return hits;
});
const repliesTo = async (trigger: string) => received(`/slack-response/${trigger}`);

describe('Slack app: messages', () => {
  it('posts with chat.postMessage and the bot token; buttons carry a reference, never a link or token', async () => {
    const room = channel();
    const a = app('slack-post', room, '      approvers: [alice@example.com]');
    const { message, buttons, id } = await posted(a, 'slack-post', room);
    expect(message.headers.authorization).toBe('Bearer xoxb-test-token');
    expect(buttons.map((b: any) => [b.action_id, b.url])).toEqual([['approve', undefined], ['reject', undefined]]);
    expect(buttons[0].value).toBe(`hitl:${id}:1`);
    expect(JSON.stringify(message.json)).not.toMatch(/callback\//);
    // User text stays inert in mrkdwn: no mention, no link.
    const section = message.json.blocks.find((b: any) => b.type === 'section');
    expect(section.text.text).toContain('Pay invoice? &lt;!channel&gt; &lt;https://evil.example|click&gt;');
    expect(JSON.stringify(message.json)).not.toContain('<!channel>');
  });

  it('a failing chat.postMessage is retried and audited like any channel', async () => {
    const a = app('slack-missing', 'C_MISSING', '      approvers: [alice@example.com]');
    const id = await suspend(a, 'slack-missing');
    const failure = await eventually(async () => {
      const entry = (await a.audit(id)).find((e) => e.type === 'notify-failed');
      expect(entry).toBeDefined();
      return entry;
    });
    expect(failure.detail).toMatchObject({ channel: 'slack', attempt: 1, error: 'Slack chat.postMessage failed: channel_not_found' });
  });
});

describe('Slack app: the interactions route verifies Slack before reading anything', () => {
  const payload = click('UALICE', 'approve', 'hitl:exe_00000000000000000000000000000000:1');

  it.each([
    ['no signature', { 'x-slack-signature': '' }],
    ['a wrong signature', { 'x-slack-signature': `v0=${'0'.repeat(64)}` }],
    ['a signature of another body', { 'x-slack-signature': slackSignature('slack-signing-test', Math.floor(Date.now() / 1000), 'payload=%7B%7D') }],
    ['a signature made with another secret', { 'x-slack-signature': slackSignature('guess', Math.floor(Date.now() / 1000), new URLSearchParams({ payload: JSON.stringify(payload) }).toString()) }],
  ])('%s: 401', async (_, headers) => {
    const res = await interact(app('sig', 'C1', '      approvers: []'), payload, headers);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_SIGNATURE');
  });

  it('a correctly signed request older than 5 minutes: 401 (replay)', async () => {
    const res = await interact(app('sig', 'C1', '      approvers: []'), payload, {}, Math.floor(Date.now() / 1000) - 301);
    expect(res.status).toBe(401);
  });

  it('a signed request with a broken payload: 400', async () => {
    const a = app('sig', 'C1', '      approvers: []');
    const body = 'payload=%7Bnot-json';
    const at = Math.floor(Date.now() / 1000);
    const res = await a.request('/slack/interactions', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(at), 'x-slack-signature': slackSignature('slack-signing-test', at, body) },
      body,
    });
    expect(res.status).toBe(400);
  });
});

describe('Slack app: the clicking user is the identity', () => {
  it('approvers by email and by slack:U id; a non-approver is told privately and nothing is recorded', async () => {
    const room = channel();
    const a = app('slack-quorum', room, '      approvers: [alice@example.com, "slack:UBOB"]\n      minApprovals: 2');
    const { id, value, message } = await posted(a, 'slack-quorum', room);

    const eve = click('UEVE', 'approve', value);
    expect((await interact(a, eve)).status).toBe(200);
    const [reply] = await repliesTo(eve.trigger_id);
    expect(reply.json).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(reply.json.text).toContain('not an approver');
    expect((await a.execution(id)).body.pending.approvals).toEqual([]);

    // Slack does not know this user's email (users.info fails): told why, nothing recorded.
    const ghost = click('UGHOST', 'approve', value);
    await interact(a, ghost);
    expect((await repliesTo(ghost.trigger_id))[0].json.text).toContain('your Slack email could not be read: Slack users.info failed: user_not_found');

    const alice = click('UALICE', 'approve', value);
    expect((await interact(a, alice)).status).toBe(200);
    expect((await repliesTo(alice.trigger_id))[0].json.text).toContain('You approved approve. The request is pending.');
    expect((await a.execution(id)).body.pending.approvals).toEqual([
      expect.objectContaining({ approver: 'alice@example.com', approved: true, verified: true, via: 'slack' }),
    ]);

    // After each decision the message shows it, buttons still live while pending.
    const [update] = await updatesOf(id, room, 1);
    // The message Slack answered for chat.postMessage is the one updated.
    expect(update.json.ts).toMatch(/^1700000000\.\d{6}$/);
    expect(message.json.channel).toBe(room);
    expect(JSON.stringify(update.json.blocks)).toContain('alice@example.com (Slack)');
    expect(update.json.blocks.some((b: any) => b.type === 'actions')).toBe(true);

    const bob = click('UBOB', 'approve', value);
    await interact(a, bob);
    const done = await a.until(id, 'completed');
    expect(done.steps[0].output.approvals.map((x: any) => [x.approver, x.via])).toEqual([['alice@example.com', 'slack'], ['slack:UBOB', 'slack']]);
    const last = (await updatesOf(id, room, 2)).at(-1)!;
    expect(last.json.blocks.some((b: any) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(last.json.blocks)).toContain('Approved');
  });

  it('a retried interaction (X-Slack-Retry-Num) never records twice', async () => {
    const room = channel();
    const a = app('slack-retry', room, '      approvers: [alice@example.com, "slack:UBOB"]\n      minApprovals: 2');
    const { id, value } = await posted(a, 'slack-retry', room);
    const alice = click('UALICE', 'approve', value);
    await interact(a, alice);
    const retries = await Promise.all([1, 2].map((n) => interact(a, alice, { 'x-slack-retry-num': String(n), 'x-slack-retry-reason': 'http_timeout' })));
    expect(retries.map((r) => r.status)).toEqual([200, 200]);
    expect((await a.audit(id)).filter((e) => e.type === 'decision')).toHaveLength(1);
    expect(await repliesTo(alice.trigger_id)).toHaveLength(1);
  });

  it('the requester cannot decide through Slack either', async () => {
    const room = channel();
    const a = app('slack-sod', room, '      approvers: [alice@example.com, mallory@example.com]\n      requester: mallory@example.com');
    const { id, value } = await posted(a, 'slack-sod', room);
    const mallory = click('UMALLORY', 'approve', value);
    await interact(a, mallory);
    expect((await repliesTo(mallory.trigger_id))[0].json.text).toContain('cannot decide it');
    expect((await a.execution(id)).body.pending.approvals).toEqual([]);
  });

  it('Reject asks for a reason in a modal, then records it; the closed message has no buttons', async () => {
    const room = channel();
    const a = app('slack-reject', room, '      approvers: [alice@example.com, "slack:UBOB"]');
    const { id, value } = await posted(a, 'slack-reject', room);
    const bob = click('UBOB', 'reject', value);
    expect((await interact(a, bob)).status).toBe(200);
    const [open] = (await received('/slack-api/views.open')).filter((h) => h.json.trigger_id === bob.trigger_id);
    expect(open.json.view).toMatchObject({ type: 'modal', callback_id: 'hitl-reject' });
    expect((await a.execution(id)).body.pending.approvals).toEqual([]);

    const submit = (reason: string, viewId = `V-${crypto.randomUUID()}`) => ({
      type: 'view_submission',
      user: { id: 'UBOB' },
      view: { id: viewId, callback_id: 'hitl-reject', private_metadata: open.json.view.private_metadata, state: { values: { reason: { reason: { type: 'plain_text_input', value: reason } } } } },
    });
    const empty = await interact(a, submit('   '));
    expect(empty.body).toMatchObject({ response_action: 'errors', errors: { reason: expect.any(String) } });
    const eveSubmit = { ...submit('nope'), user: { id: 'UEVE' } };
    const refused = await interact(a, eveSubmit);
    expect(refused.body.errors.reason).toContain('not an approver');

    const ok = await interact(a, submit('Wrong amount'));
    expect(ok.status).toBe(200);
    expect((await repliesTo(bob.trigger_id)).at(-1).json.text).toContain('You rejected approve.');
    const done = await a.until(id, 'completed');
    expect(done.steps[0].output).toMatchObject({ status: 'rejected', reason: 'Wrong amount', approvals: [{ approver: 'slack:UBOB', verified: true, via: 'slack', approved: false }] });
    const last = (await updatesOf(id, room, 1)).at(-1)!;
    expect(last.json.blocks.some((b: any) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(last.json.blocks)).toContain('Wrong amount');
    expect(JSON.stringify(last.json.blocks)).toContain('Rejected');
  });

  it('a cancelled request updates the message: no live buttons', async () => {
    const room = channel();
    const a = app('slack-cancel', room, '      approvers: [alice@example.com]');
    const { id, value } = await posted(a, 'slack-cancel', room);
    expect((await a.request(`/executions/${id}/cancel`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    const [update] = await updatesOf(id, room, 1);
    expect(update.json.blocks.some((b: any) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(update.json.blocks)).toContain('Cancelled');
    const late = click('UALICE', 'approve', value);
    await interact(a, late);
    expect((await repliesTo(late.trigger_id))[0].json.text).toContain('cancelled');
  });
});
