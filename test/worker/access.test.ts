import { env } from 'cloudflare:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { hitlApp, hitsAt, suspend, tokenOf } from './hitl-helpers';

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

const as = async (email: string) => ({ 'cf-access-jwt-assertion': await assertion({ email, sub: crypto.randomUUID() }) });

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
  return { app, id, shared: tokenOf(hit.json.callbackUrl), personal, post };
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
