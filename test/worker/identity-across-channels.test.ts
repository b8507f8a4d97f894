// Identity across channels at once (Slack app, personal and shared links, Cloudflare Access): the
// attacks an adversarial review of the identity model found, each kept here as the behaviour that
// must hold.
import { env, runInDurableObject } from 'cloudflare:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app';
import { slackSignature } from '../../src/identity/slack-signature';
import { eventually, fireAlarm, hitlApp, received, stubOf, suspend, tokenOf } from './hitl-helpers';

const uid = (p: string) => `${p}${crypto.randomUUID().replace(/-/g, '').slice(0, 8).toUpperCase()}`;
const room = () => uid('C');

// ---- Access (same set-up as access.test.ts) ----
const ISSUER = 'https://team.example.test';
const AUD = 'aud-test';
let key: JoseKey;
const KID = `kid-x-${crypto.randomUUID()}`;
beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  await fetch(`${env.RECEIVER}/_serve`, { method: 'POST', body: JSON.stringify({ path: '/access/certs', body: { keys: [jwk] } }) });
});
const assertion = (email: string) => new SignJWT({ type: 'app', email, sub: crypto.randomUUID() })
  .setProtectedHeader({ alg: 'RS256', kid: KID }).setIssuer(ISSUER).setAudience(AUD).setIssuedAt().setExpirationTime('5m').sign(key);
// A browser on our own page says so (Sec-Fetch-Site); Access decisions without that evidence are refused.
const as = async (email: string) => ({ 'cf-access-jwt-assertion': await assertion(email), 'sec-fetch-site': 'same-origin' });

const slackUsers = (users: Record<string, { email?: string }>) =>
  fetch(`${env.RECEIVER}/_slack/users`, { method: 'POST', body: JSON.stringify(users) });

/** A hitl step posted by the Slack app to `channel` and (optionally) to a webhook (which carries the links). */
function gate(name: string, inputs: string, opts: { channel?: string; hook?: string }) {
  const channels = [opts.channel ? 'slack' : undefined, opts.hook ? 'webhook' : undefined].filter(Boolean);
  const cfg = [opts.channel ? `channel: ${opts.channel}` : '', opts.hook ? `webhookUrl: "\${env.RECEIVER}${opts.hook}"` : ''].filter(Boolean).join(', ');
  return hitlApp(name, `agents:
  - name: approve
    agent: hitl
    inputs:
      data: { amount: 900 }
      prompt: Pay it?
${inputs}
    config: { notificationChannel: [${channels.join(', ')}], notificationConfig: { ${cfg} } }
`);
}
type App = ReturnType<typeof gate>;

async function interact(a: App, payload: unknown) {
  const at = Math.floor(Date.now() / 1000);
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const res = await a.request('/slack/interactions', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(at), 'x-slack-signature': slackSignature(env.SLACK_SIGNING_SECRET as string, at, body) },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const click = (user: string, action: 'approve' | 'reject', value: string, trigger = crypto.randomUUID()) => ({
  type: 'block_actions', user: { id: user }, trigger_id: trigger,
  response_url: `${env.RECEIVER}/slack-response/${trigger}`, actions: [{ action_id: action, value, action_ts: '1' }],
});
const repliesTo = (trigger: string) => received(`/slack-response/${trigger}`);

/** Suspends and returns the Slack button value and/or the webhook's links. */
async function open(a: App, name: string, opts: { channel?: string; hook?: string }) {
  const id = await suspend(a, name);
  let value: string | undefined;
  if (opts.channel) {
    const hit = await eventually(async () => {
      await fireAlarm(id);
      const hits = (await received('/slack-api/chat.postMessage')).filter((h) => h.json.channel === opts.channel);
      expect(hits.length).toBeGreaterThan(0);
      return hits[0];
    });
    value = hit.json.blocks.find((b: any) => b.type === 'actions').elements[0].value;
  }
  let shared: string | undefined;
  let personal: Record<string, string> = {};
  if (opts.hook) {
    const hit = await eventually(async () => {
      await fireAlarm(id);
      const hits = await received(opts.hook!);
      expect(hits.length).toBeGreaterThan(0);
      return hits[0];
    });
    shared = hit.json.callbackUrl ? tokenOf(hit.json.callbackUrl) : undefined;
    personal = Object.fromEntries(hit.json.approvers.map((x: any) => [x.approver, tokenOf(x.callbackUrl)]));
  }
  return { id, value: value!, shared: shared!, personal };
}
const updates = async (r: string) => (await received('/slack-api/chat.update')).filter((h) => h.json.channel === r);
const post = async (a: App, token: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await a.request(`/callback/${token}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json };
};


describe('one person counts once, whatever names they go by', () => {
  it('with no approver list, a Slack user whose email Slack hides cannot count toward a quorum (they could count twice)', async () => {
    const r = room();
    const zed = uid('UZ');
    const a = gate('x-slack-hidden', '      approvers: []\n      minApprovals: 2', { channel: r });
    const { id, value } = await open(a, 'x-slack-hidden', { channel: r });
    const hidden = click(zed, 'approve', value);
    await interact(a, hidden);
    expect((await repliesTo(hidden.trigger_id))[0].json.text).toContain('Slack did not share your email, so this decision could count one person twice');
    await slackUsers({ [zed]: { email: `${zed.toLowerCase()}@example.com` } });
    await interact(a, click(zed, 'approve', value));
    const second = click(zed, 'approve', value);
    await interact(a, second);
    expect((await repliesTo(second.trigger_id))[0].json.text).toContain('already decided');
    expect((await a.execution(id)).body.pending.approvals).toEqual([expect.objectContaining({ approver: `${zed.toLowerCase()}@example.com`, aliases: [`slack:${zed}`] })]);
  });

  it('listed twice in two forms ([finance@…, "slack:U…"]), one Slack user cannot meet a quorum of 2', async () => {
    const r = room();
    const fin = uid('UF');
    await slackUsers({ [fin]: { email: 'finance@example.com' } });
    const a = gate('x-listed-twice', `      approvers: [finance@example.com, "slack:${fin}"]\n      minApprovals: 2`, { channel: r });
    const { id, value } = await open(a, 'x-listed-twice', { channel: r });
    await interact(a, click(fin, 'approve', value));
    await slackUsers({ [fin]: {} });
    await interact(a, click(fin, 'approve', value));
    expect((await a.execution(id)).body.pending.approvals).toEqual([
      expect.objectContaining({ approver: 'finance@example.com', aliases: [`slack:${fin}`], via: 'slack' }),
    ]);
  });

  it("the requester cannot approve through the personal link of their own slack: id (their Slack email is looked up)", async () => {
    const r = room();
    const mal = uid('UM');
    await slackUsers({ [mal]: { email: 'mallory@example.com' } });
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-sod-slack', `      approvers: ["slack:${mal}", alice@example.com]\n      requester: mallory@example.com`, { channel: r, hook });
    const { personal } = await open(a, 'x-sod-slack', { channel: r, hook });
    const viaLink = await post(a, personal[`slack:${mal}`]!, { approved: true });
    expect(viaLink.status).toBe(403);
    expect(viaLink.body.error.code).toBe('SELF_APPROVAL');
  });

  it('when Slack cannot tell who someone is, a step with a requester fails closed (503, nothing recorded)', async () => {
    const ghost = uid('UG');
    const hook = `/x-${crypto.randomUUID()}`;
    const r = room();
    const b = gate('x-sod-ghost', `      approvers: ["slack:${ghost}", alice@example.com]\n      requester: mallory@example.com`, { channel: r, hook });
    const { id, personal, value } = await open(b, 'x-sod-ghost', { channel: r, hook });
    const res = await post(b, personal[`slack:${ghost}`]!, { approved: true });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('IDENTITY_LOOKUP_FAILED');
    const viaSlack = click(ghost, 'approve', value);
    await interact(b, viaSlack);
    expect((await repliesTo(viaSlack.trigger_id))[0].json.text).toContain('cannot be told apart from the requester');
    expect(JSON.stringify(res.body)).not.toContain('users.info');
    expect((await b.execution(id)).body.pending.approvals).toEqual([]);
  });
});

describe('the requester and Slack ids', () => {
  it('a requester named by Slack id cannot approve through their email link or as their Access identity', async () => {
    const ann = uid('UA');
    await slackUsers({ [ann]: { email: 'ann@example.com' } });
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-sod-id', `      approvers: [ann@example.com, bob@example.com]\n      requester: "slack:${ann}"`, { hook });
    const { id, personal, shared } = await open(a, 'x-sod-id', { hook });
    const viaLink = await post(a, personal['ann@example.com']!, { approved: true });
    expect(viaLink.status).toBe(403);
    expect(viaLink.body.error.code).toBe('SELF_APPROVAL');
    const viaAccess = await post(a, shared, { approved: true }, { ...(await as('ann@example.com')), origin: 'http://worker.test' });
    expect(viaAccess.body.error.code).toBe('SELF_APPROVAL');
    expect((await a.execution(id)).body.pending.approvals).toEqual([]);
    expect((await post(a, personal['bob@example.com']!, { approved: true })).body.status).toBe('approved');
  });

  it('without a Slack bot token, a slack: link cannot be told apart from an email requester: refused (503), not approved', async () => {
    const mal = uid('UM');
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-sod-notoken', `      approvers: ["slack:${mal}", alice@example.com]\n      requester: mallory@example.com`, { hook });
    const { id, personal } = await open(a, 'x-sod-notoken', { hook });
    // A deployment without the Slack app: this object has no bot token to ask Slack with.
    const inObject = runInDurableObject as unknown as (stub: unknown, fn: (instance: { env: Record<string, unknown> }) => Promise<void>) => Promise<void>;
    await inObject(stubOf(id), async (instance) => {
      instance.env = { ...instance.env, SLACK_BOT_TOKEN: undefined };
    });
    const res = await post(a, personal[`slack:${mal}`]!, { approved: true });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('IDENTITY_LOOKUP_FAILED');
    expect((await a.execution(id)).body.status).toBe('suspended');
  });

  it('a closed request answers 409 before Slack is asked anything (and Slack errors never reach the client)', async () => {
    const ghost = uid('UG');
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-closed-first', `      approvers: ["slack:${ghost}", alice@example.com]\n      requester: mallory@example.com`, { hook });
    const { personal } = await open(a, 'x-closed-first', { hook });
    expect((await post(a, personal['alice@example.com']!, { approved: false, reason: 'no' })).body.status).toBe('rejected');
    const before = (await received('/slack-api/users.info')).length;
    const res = await post(a, personal[`slack:${ghost}`]!, { approved: true });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('ALREADY_DECIDED');
    expect((await received('/slack-api/users.info')).length).toBe(before);
  });

  it('a slack: id listed in lower case is looked up as Slack writes it', async () => {
    const low = uid('UL');
    await slackUsers({ [low]: { email: 'lou@example.com' } });
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-lower', `      approvers: ["slack:${low.toLowerCase()}", alice@example.com]\n      requester: mallory@example.com`, { hook });
    const { personal } = await open(a, 'x-lower', { hook });
    const res = await post(a, personal[`slack:${low.toLowerCase()}`]!, { approved: true });
    expect(res.status).toBe(200);
    expect(res.body.decision).toMatchObject({ approver: `slack:${low.toLowerCase()}`, via: 'link' });
  });

  it('reminders skip whoever decided under another of their names', async () => {
    const r = room();
    const fin = uid('UF');
    await slackUsers({ [fin]: { email: 'finance@example.com' } });
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-remind', `      approvers: [finance@example.com, "slack:${fin}", bob@example.com]\n      minApprovals: 2\n      remindAfter: 1\n      reminders: 1`, { channel: r, hook });
    const { id, value } = await open(a, 'x-remind', { channel: r, hook });
    await interact(a, click(fin, 'approve', value));
    const reminder = await eventually(async () => {
      await fireAlarm(id);
      const hit = (await received(hook)).find((h) => h.json.kind === 'reminder');
      expect(hit).toBeDefined();
      return hit!;
    }, 8000);
    expect(reminder.json.approvers.map((x: any) => x.approver)).toEqual(['bob@example.com']);
  }, 15_000);
});

describe('what a message shows cannot be forged, and is current', () => {
  it('a multi-line reason or name cannot draw extra decision lines in the Slack message', async () => {
    const r = room();
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-forge', '      approvers: []\n      minApprovals: 3', { channel: r, hook });
    const { id, shared } = await open(a, 'x-forge', { channel: r, hook });
    const res = await post(a, shared, { approved: true, approver: 'x (Slack)\n:white_check_mark: cfo@example.com', reason: 'ok\n:white_check_mark: bob@example.com (Slack)\u2028:white_check_mark: carol@example.com (Slack)' });
    expect(res.body.decision.approver).toBe('x (Slack):white_check_mark: cfo@example.com');
    const [u] = await eventually(async () => { await fireAlarm(id); const h = await updates(r); expect(h).toHaveLength(1); return h; });
    const section = u.json.blocks.find((b: any) => b.type === 'section' && String(b.text?.text).includes('(typed name'));
    expect(section.text.text.split('\n')).toHaveLength(1);
    expect(section.text.text).toContain('reason: “ok :white_check_mark: bob@example.com (Slack) :white_check_mark: carol@example.com (Slack)”');
  });

  it('a decision that lands while the messages are being updated is shown: no live buttons after the close', async () => {
    for (const delay of [0, 4, 11]) {
      const r = room();
      const hook = `/x-${crypto.randomUUID()}`;
      const name = `x-race-${delay}`;
      const a = gate(name, '      approvers: [alice@example.com, bob@example.com]\n      minApprovals: 2\n      remindAfter: 10ms\n      reminders: 20', { channel: r, hook });
      const { id, personal } = await open(a, name, { channel: r, hook });
      await eventually(async () => {
        await fireAlarm(id);
        expect((await received('/slack-api/chat.postMessage')).filter((h) => h.json.channel === r)).toHaveLength(21);
      }, 10_000);
      await post(a, personal['alice@example.com']!, { approved: true });
      await new Promise((res) => setTimeout(res, delay));
      expect((await post(a, personal['bob@example.com']!, { approved: true })).body.status).toBe('approved');
      await a.until(id, 'completed');
      await eventually(async () => {
        await fireAlarm(id);
        const last = new Map<string, any>();
        for (const u of await updates(r)) last.set(u.json.ts, u.json);
        expect(last.size).toBe(21);
        expect([...last.values()].filter((m) => m.blocks.some((b: any) => b.type === 'actions'))).toEqual([]);
      }, 10_000);
    }
  }, 60_000);

  it('a typed name made only of invisible characters is refused (400), not recorded as empty', async () => {
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-empty', '      approvers: []', { hook });
    const { shared } = await open(a, 'x-empty', { hook });
    const res = await post(a, shared, { approved: true, approver: '\u200b\u2060\n' });
    expect(res.status).toBe(400);
    expect((await post(a, shared, { approved: true, approver: 'Real Name' })).status).toBe(200);
  });
});

describe('Cloudflare Access as the identity', () => {
  it('a personal link of an approver without an email (slack: id without a Slack email, plain name) works behind Access', async () => {
    const hook = `/x-${crypto.randomUUID()}`;
    const bob = uid('UB');
    const a = gate('x-access-plain', `      approvers: ["slack:${bob}", "Bob Builder", alice@example.com]\n      minApprovals: 2`, { hook });
    // bob is not known to Slack here: his slack: link decides as that id, verified by the link.
    const { personal } = await open(a, 'x-access-plain', { hook });
    const res = await post(a, personal[`slack:${bob}`]!, { approved: true }, await as('bob@example.com'));
    expect(res.status).toBe(200);
    expect(res.body.decision).toMatchObject({ approver: `slack:${bob}`, via: 'link' });
    const res2 = await post(a, personal['Bob Builder']!, { approved: true }, await as('bob@example.com'));
    expect(res2.body).toMatchObject({ status: 'approved', decision: { approver: 'Bob Builder', via: 'link' } });
  });

  it('a cross-site POST carrying an Access identity is refused (CSRF); our own page is not', async () => {
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-csrf', '      approvers: [alice@example.com, bob@example.com]\n      minApprovals: 2', { hook });
    const { id, shared } = await open(a, 'x-csrf', { hook });
    const attempts: Record<string, string>[] = [
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example' },
      {}, // no evidence at all (an old browser): refused too
    ];
    for (const headers of attempts) {
      const res = await a.request(`/callback/${shared}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers, 'cf-access-jwt-assertion': await assertion('alice@example.com') },
        body: 'approved=true',
      });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('must come from this site');
    }
    expect((await a.execution(id)).body.pending.approvals).toEqual([]);
    const own = await a.request(`/callback/${shared}`, {
      method: 'POST',
      // What a browser sends from our review page: Sec-Fetch-Site same-origin, and (no-referrer) Origin null.
      headers: { ...(await as('alice@example.com')), 'content-type': 'application/x-www-form-urlencoded', origin: 'null', 'sec-fetch-site': 'same-origin' },
      body: 'approved=true',
    });
    expect(own.status).toBe(200);
  });

  it('half-configured Access (no ACCESS_AUD) refuses an assertion instead of ignoring it', async () => {
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-half', '      approvers: [alice@example.com]', { hook });
    const { id, shared } = await open(a, 'x-half', { hook });
    const half = createApp(() => a.registry);
    const res = await half.fetch(new Request(`http://worker.test/callback/${shared}`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'cf-access-jwt-assertion': 'not-a-jwt' }, body: JSON.stringify({ approved: true, approver: 'alice@example.com' }),
    }), { ...env, ACCESS_AUD: '' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.message).toContain('half configured');
    expect((await a.execution(id)).body.pending.approvals).toEqual([]);
  });
});

describe('Slack interactions are judged afresh and never repeated', () => {
  it('a refused reject form can be submitted again once the cause is gone', async () => {
    const r = room();
    const vic = uid('UV');
    await slackUsers({ [vic]: { email: 'vic@example.com' } });
    const a = gate('x-resubmit', '      approvers: [vic@example.com]', { channel: r });
    const { id, value } = await open(a, 'x-resubmit', { channel: r });
    const c = click(vic, 'reject', value);
    await interact(a, c);
    const [opened] = (await received('/slack-api/views.open')).filter((h) => h.json.trigger_id === c.trigger_id);
    const submit = { type: 'view_submission', user: { id: vic }, view: { id: `V-${crypto.randomUUID()}`, callback_id: 'hitl-reject', private_metadata: opened.json.view.private_metadata, state: { values: { reason: { reason: { value: 'wrong' } } } } } };
    await slackUsers({ [vic]: {} });
    const first = await interact(a, submit);
    expect(first.body.errors.reason).toContain('Slack shares no email for this user');
    await slackUsers({ [vic]: { email: 'vic@example.com' } });
    const again = await interact(a, submit);
    expect(again.status).toBe(200);
    expect(again.body).toBeNull();
    expect((await a.until(id, 'completed')).steps[0].output).toMatchObject({ status: 'rejected', reason: 'wrong' });
  });

  it('a retried Reject click does not open the reason form twice', async () => {
    const r = room();
    const rex = uid('UR');
    await slackUsers({ [rex]: { email: 'rex@example.com' } });
    const a = gate('x-retry-reject', '      approvers: [rex@example.com]', { channel: r });
    const { value } = await open(a, 'x-retry-reject', { channel: r });
    const c = click(rex, 'reject', value);
    await interact(a, c);
    await interact(a, c);
    expect((await received('/slack-api/views.open')).filter((h) => h.json.trigger_id === c.trigger_id)).toHaveLength(1);
  });
});

describe('the audit of refused attempts', () => {
  it('typed junk on the shared link cannot crowd out a verified refusal', async () => {
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-audit-cap', '      approvers: [alice@example.com, mallory@example.com]\n      requester: mallory@example.com', { hook });
    const { id, shared, personal } = await open(a, 'x-audit-cap', { hook });
    for (let i = 0; i < 55; i++) await post(a, shared, { approved: true, approver: `junk${i}` });
    const self = await post(a, personal['mallory@example.com']!, { approved: true });
    expect(self.body.error.code).toBe('SELF_APPROVAL');
    const refused = (await a.audit(id)).filter((e) => e.type === 'decision-refused');
    expect(refused.filter((e) => e.detail.via === 'shared')).toHaveLength(50);
    expect(refused.find((e) => e.detail.code === 'SELF_APPROVAL')?.detail).toMatchObject({ name: 'mallory@example.com', via: 'link', verified: true });
  });

  it('a typed rejection closes the request like any rejection (use requireVerified where it must not)', async () => {
    const hook = `/x-${crypto.randomUUID()}`;
    const a = gate('x-veto', '      approvers: [alice@example.com, bob@example.com]\n      minApprovals: 2', { hook });
    const { id, shared } = await open(a, 'x-veto', { hook });
    expect((await post(a, shared, { approved: false, approver: 'alice@example.com', reason: 'no' })).body.status).toBe('rejected');
    expect((await a.until(id, 'completed')).steps[0].output).toMatchObject({ status: 'rejected', approvals: [{ approver: 'alice@example.com', verified: false, via: 'shared' }] });
  });
});
