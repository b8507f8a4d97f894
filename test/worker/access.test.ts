import { env } from 'cloudflare:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, hitlApp, hitsAt, suspend, tokenOf } from './hitl-helpers';
import { createApp } from '../../src/http/app';

// Access signs with the team's key; the Worker fetches the public keys from ACCESS_CERTS_URL (the
// local receiver serves the JWKS published here) and checks iss, aud and exp.
const ISSUER = 'https://team.example.test';
const AUD = 'aud-test';
let key: JoseKey;
let stranger: JoseKey;
const KID = `kid-${crypto.randomUUID()}`;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  stranger = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  await fetch(`${env.RECEIVER}/_serve`, { method: 'POST', body: JSON.stringify({ path: '/access/certs', body: { keys: [jwk] } }) });
});

function assertion(claims: Record<string, unknown>, opts: { signer?: JoseKey; iss?: string; aud?: string; exp?: number | string } = {}) {
  return new SignJWT({ type: 'app', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: KID })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUD)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m')
    .sign(opts.signer ?? key);
}

// A browser on our own page says so (Sec-Fetch-Site); Access decisions without that evidence are refused.
const as = async (email: string) => ({ 'cf-access-jwt-assertion': await assertion({ email, sub: crypto.randomUUID() }), 'sec-fetch-site': 'same-origin' });

async function open(name: string, inputs: string) {
  const hook = `/acc-${crypto.randomUUID()}`;
  const app = hitlApp(name, `agents:
  - name: approve
    agent: hitl
    inputs:
      data: { plan: deploy }
      prompt: Ship it?
${inputs}
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
  const id = await suspend(app, name);
  const [hit] = await hitsAt(hook, 1);
  const personal = Object.fromEntries(hit.json.approvers.map((a: any) => [a.approver, tokenOf(a.callbackUrl)])) as Record<string, string>;
  const post = async (token: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await app.request(`/callback/${token}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  return { app, id, shared: tokenOf(hit.json.callbackUrl), personal, post, payload: hit.json };
}

describe('Cloudflare Access identity on links', () => {
  it('a shared link decides as each signed-in person, verified; each counts once toward the quorum', async () => {
    const { app, id, shared, post } = await open('acc-quorum', '      approvers: [alice@example.com, bob@example.com]\n      minApprovals: 2');
    const page = await app.request(`/callback/${shared}`, { headers: { accept: 'text/html', ...(await as('Alice@Example.com')) } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Deciding as <strong>Alice@Example.com</strong> (signed in with Cloudflare Access)');
    expect(html).not.toContain('name="approver"');
    // The typed name in the body is ignored: the assertion says who this is.
    const alice = await post(shared, { approved: true, approver: 'bob@example.com' }, await as('Alice@Example.com'));
    expect(alice.body).toMatchObject({ status: 'pending', decision: { approver: 'alice@example.com', verified: true, via: 'access' } });
    const again = await post(shared, { approved: true }, await as('alice@example.com'));
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('DUPLICATE_APPROVER');
    const bob = await post(shared, { approved: true }, await as('bob@example.com'));
    expect(bob.body).toMatchObject({ status: 'approved', decision: { approver: 'bob@example.com', via: 'access' } });
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output.approvals.map((a: any) => [a.approver, a.verified, a.via])).toEqual([['alice@example.com', true, 'access'], ['bob@example.com', true, 'access']]);
  });

  it('a verified Access identity still obeys the approver list and separation of duties', async () => {
    const { shared, post } = await open('acc-rules', '      approvers: [alice@example.com, mallory@example.com]\n      requester: mallory@example.com');
    const eve = await post(shared, { approved: true }, await as('eve@example.com'));
    expect(eve.status).toBe(403);
    expect(eve.body.error.code).toBe('NOT_AN_APPROVER');
    const mallory = await post(shared, { approved: true }, await as('MALLORY@example.com'));
    expect(mallory.status).toBe(403);
    expect(mallory.body.error.code).toBe('SELF_APPROVAL');
    // With a requester, a typed name is refused, but the same link signed in is not.
    expect((await post(shared, { approved: true, approver: 'alice@example.com' })).body.error.code).toBe('VERIFICATION_REQUIRED');
    expect((await post(shared, { approved: true }, await as('alice@example.com'))).body.status).toBe('approved');
  });

  it('a personal link opened by someone else signed in is refused (a forwarded link)', async () => {
    const { personal, post } = await open('acc-forward', '      approvers: [alice@example.com, bob@example.com]');
    const res = await post(personal['alice@example.com']!, { approved: true }, await as('bob@example.com'));
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'IDENTITY_MISMATCH', details: { linkFor: 'alice@example.com', signedInAs: 'bob@example.com' } });
    const own = await post(personal['alice@example.com']!, { approved: true }, await as('alice@example.com'));
    expect(own.body.decision).toMatchObject({ approver: 'alice@example.com', via: 'link', verified: true });
  });

  it.each([
    ['signed by another key', () => assertion({ email: 'alice@example.com' }, { signer: stranger })],
    ['expired', () => assertion({ email: 'alice@example.com' }, { exp: Math.floor(Date.now() / 1000) - 120 })],
    ['for another application', () => assertion({ email: 'alice@example.com' }, { aud: 'someone-else' })],
    ['from another team', () => assertion({ email: 'alice@example.com' }, { iss: 'https://evil.example.test' })],
    ['without an email (a service token)', () => assertion({ common_name: 'robot.access' })],
    ['not a JWT at all', async () => 'not-a-jwt'],
  ])('an assertion %s is 401, never a silent fallback to a typed name', async (_, make) => {
    const { app, id, shared, post } = await open('acc-bad', '      approvers: [alice@example.com]');
    const headers = { 'cf-access-jwt-assertion': await make() };
    const res = await post(shared, { approved: true, approver: 'alice@example.com' }, headers);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('ACCESS_INVALID');
    const page = await app.request(`/callback/${shared}`, { headers: { accept: 'text/html', ...headers } });
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('Your sign-in could not be verified');
    expect((await app.execution(id)).body.pending.approvals).toEqual([]);
  });
});

describe('the inbox: what waits on a Cloudflare Access user, decidable in place', () => {
  it('lists every request waiting on the signed-in person (newest first) and decides one in place', async () => {
    const me = `ivy-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const first = await open('inbox-1', `      approvers: [${me}, other@example.com]`);
    const second = await open('inbox-2', `      approvers: [${me}]\n      form: { rating: { type: integer, minimum: 1, maximum: 5, required: true } }`);
    await open('inbox-3', '      approvers: [someone-else@example.com]');
    const headers = await as(me.toUpperCase());
    // The inbox lists from the executions index, which each object writes right after answering.
    const body = await eventually(async () => {
      const list = await first.app.request('/inbox', { headers });
      expect(list.status).toBe(200);
      const b = (await list.json()) as any;
      expect(b.items.map((i: any) => i.executionId)).toEqual([second.id, first.id]);
      return b;
    });
    expect(body.viewer).toBe(me.toUpperCase());
    expect(body.items[0]).toMatchObject({ prompt: 'Ship it?', minApprovals: 1, approvals: 0, requestedSchema: { required: ['rating'] } });

    const page = await first.app.request('/inbox', { headers: { ...headers, accept: 'text/html' } });
    const html = await page.text();
    expect(html).toContain('<h1>2 requests wait on you</h1>');
    expect(html).toContain(`action="/inbox/${second.id}?step=`);
    expect(html).toContain('name="response.rating"');

    const form = (id: string, body: string, site = 'same-origin') => first.app.request(`/inbox/${id}`, {
      method: 'POST', headers: { ...headers, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': site }, body,
    });
    expect((await form(second.id, 'approved=true&response.rating=4', 'cross-site')).status).toBe(403);
    const invalid = await form(second.id, 'approved=true');
    expect(invalid.status).toBe(400);
    expect(await invalid.text()).toContain('response.rating: is required');
    const decided = await form(second.id, 'approved=true&response.rating=4');
    expect(decided.status).toBe(200);
    expect(await decided.text()).toContain('<a href="/inbox">Back to your inbox</a>');
    const done = await second.app.until(second.id, 'completed');
    expect(done.steps[0].output.approvals[0]).toMatchObject({ approver: me, verified: true, via: 'access', response: { rating: 4 } });

    const after = (await (await first.app.request('/inbox', { headers })).json()) as any;
    expect(after.items.map((i: any) => i.executionId)).toEqual([first.id]);
  });

  it('decides many requests across runs at once: each on its own, a cross-site post refused', async () => {
    const me = `bulk-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const runs = await Promise.all(['bulk-1', 'bulk-2', 'bulk-3'].map((n) => open(n, `      approvers: [${me}]`)));
    const headers = await as(me);
    const page = await eventually(async () => {
      const res = await runs[0]!.app.request('/inbox', { headers: { ...headers, accept: 'text/html' } });
      const text = await res.text();
      expect(text.match(/<input type="checkbox" form="bulk" name="item"/g)).toHaveLength(3);
      return text;
    });
    expect(page).toContain('Approve selected');
    const ticked = (ids: string[]) => ids.map((id) => `item=${encodeURIComponent(`${id} approve`)}`).join('&');
    const post = (body: string, site = 'same-origin') => runs[0]!.app.request('/inbox', {
      method: 'POST', headers: { ...headers, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': site }, body,
    });
    expect((await post(`${ticked([runs[0]!.id])}&action=approve`, 'cross-site')).status).toBe(403);
    // Two ticked, plus one that is not theirs to decide (a forged item): decided on their own.
    const res = await post(`${ticked([runs[0]!.id, runs[2]!.id])}&item=${encodeURIComponent('exe_00000000000000000000000000000000 approve')}&action=reject&reason=later`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('2 decided, 1 not');
    for (const r of [runs[0]!, runs[2]!]) expect((await r.app.until(r.id, 'completed')).steps[0].output).toMatchObject({ status: 'rejected', approvals: [{ approver: me, via: 'access', reason: 'later' }] });
    expect((await runs[1]!.app.execution(runs[1]!.id)).body.status).toBe('suspended');
    const json = await runs[0]!.app.request('/inbox', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ decisions: [{ executionId: runs[1]!.id, step: 'approve', approved: true }] }) });
    expect(((await json.json()) as any).results).toEqual([expect.objectContaining({ ok: true, status: 'approved' })]);
  });

  it('answers 401 without a valid assertion, and 404 (with the docs) where Access is not configured', async () => {
    const { app } = await open('inbox-auth', '      approvers: [a@example.com]');
    expect((await app.request('/inbox')).status).toBe(401);
    const forged = { 'cf-access-jwt-assertion': await assertion({ email: 'a@example.com' }, { signer: stranger }) };
    expect((await app.request('/inbox', { headers: forged })).status).toBe(401);
    const bare = createApp(() => app.registry);
    const res = await bare.fetch(new Request('http://worker.test/inbox', { headers: await as('a@example.com') }), { ...env, ACCESS_TEAM_DOMAIN: '', ACCESS_AUD: '' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.message).toContain('docs/approvals.md#the-inbox');
  });

  it('notifications link to the inbox when Access is configured', async () => {
    const { payload } = await open('inbox-link', '      approvers: [a@example.com]');
    expect(payload.inboxUrl).toMatch(/^https?:\/\/[^/]+\/inbox$/);
    expect(payload.inboxUrl).toBe(payload.callbackUrl.replace(/\/callback\/.*$/, '/inbox'));
  });
});

describe('the inbox refuses what does not wait on the viewer (found in review)', () => {
  it('POST /inbox/:id cannot decide a request that names no approvers (it never waits on the viewer; the link is the credential)', async () => {
    const { app, id } = await open('rv12-inbox-open', '      minApprovals: 1');
    const stranger = `eve-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const headers = await as(stranger);
    // Not listed in the stranger's inbox...
    const list = (await (await app.request('/inbox', { headers })).json()) as any;
    expect(list.items.map((i: any) => i.executionId)).not.toContain(id);
    // ...yet any signed-in person who learns the execution id decides it, without the link.
    const res = await app.request(`/inbox/${id}`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, body: JSON.stringify({ approved: true }),
    });
    expect(res.status).not.toBe(200);
    expect((await app.execution(id)).body.pending?.approvals ?? []).toEqual([]);
  });

  it('the inbox does not list a request to its requester (it cannot wait on them)', async () => {
    const me = `req-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const { app, id } = await open('rv12-inbox-req', `      approvers: [${me}, other@example.com]\n      requester: ${me}`);
    const headers = await as(me);
    const list = (await (await app.request('/inbox', { headers })).json()) as any;
    const res = await app.request(`/inbox/${id}`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, body: JSON.stringify({ approved: true }),
    });
    expect(res.status).toBe(403); // SELF_APPROVAL: so it does not wait on them...
    expect(list.items.map((i: any) => i.executionId)).not.toContain(id); // ...and must not be listed
  });

  it('a decision carrying an Access identity with neither Sec-Fetch-Site nor Origin is refused (CSRF from an old browser)', async () => {
    const me = `old-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const { app, id } = await open('rv12-inbox-csrf', `      approvers: [${me}]`);
    const res = await app.request(`/inbox/${id}`, {
      method: 'POST', headers: { 'cf-access-jwt-assertion': (await as(me))['cf-access-jwt-assertion'], 'content-type': 'application/x-www-form-urlencoded' }, body: 'approved=true',
    });
    expect(res.status).toBe(403);
  });
});

describe('the inbox POST against oversized, deep, misspelt, replayed and concurrent bodies', () => {
  it('answers 413, 400, 400, 409 and exactly one 200, never a 500', async () => {
    const me = `edge-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const { app, id } = await open('inbox-edge', `      approvers: [${me}]`);
    const headers = { ...(await as(me)), 'content-type': 'application/json' };
    const post = (body: string) => app.request(`/inbox/${id}`, { method: 'POST', headers, body });
    expect((await post(JSON.stringify({ approved: true, feedback: 'x'.repeat(10_000_000) }))).status).toBe(413);
    expect((await post(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)).status).toBe(400);
    const misspelt = await post(JSON.stringify({ aproved: true }));
    expect(misspelt.status).toBe(400);
    expect(((await misspelt.json()) as any).error.details[0].path).toBe('approved');
    expect((await app.request('/inbox/not-an-execution', { method: 'POST', headers, body: '{"approved":true}' })).status).toBe(404);
    const results = await Promise.all(Array.from({ length: 10 }, () => post(JSON.stringify({ approved: true }))));
    expect(results.map((r) => r.status).sort()).toEqual([200, ...Array(9).fill(409)]);
    expect((await post(JSON.stringify({ approved: true }))).status).toBe(409);
  });
});
