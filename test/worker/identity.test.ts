import { describe, expect, it } from 'vitest';
import { normalizeIdentity, sameIdentity } from '../../src/identity/normalize';
import { hitlApp, hitsAt, received, suspend, tokenOf } from './hitl-helpers';

/** A hitl step notifying a webhook, then a "payment" step we can count. */
function gate(hook: string, inputs: string) {
  return `agents:
  - name: approve
    agent: hitl
    inputs:
      data: { amount: 900 }
      prompt: Pay it?
${inputs}
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
  - name: pay
    condition: \${approve.output.approved}
    operation: http
    config: { url: "\${env.RECEIVER}${hook}/pay", body: { paid: true } }
`;
}

async function open(name: string, inputs: string, input = {}) {
  const hook = `/id-${crypto.randomUUID()}`;
  const app = hitlApp(name, gate(hook, inputs));
  const id = await suspend(app, name, input);
  const [hit] = await hitsAt(hook, 1);
  const personal = Object.fromEntries(hit.json.approvers.map((a: any) => [a.approver, tokenOf(a.callbackUrl)])) as Record<string, string>;
  return { app, id, hook, shared: tokenOf(hit.json.callbackUrl), personal };
}

describe('identities are compared normalized', () => {
  it.each([
    ['ALICE@example.com ', 'alice@example.com'],
    ['alice@example.com\u200b', 'alice@example.com'],
    ['\u202eAlice@Example.COM\u202c', 'alice@example.com'],
    ['"Alice Liddell" <Alice@Example.com>', 'alice@example.com'],
    ['mailto:alice@example.com', 'alice@example.com'],
    ['ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ', 'alice@example.com'],
    ['al\u00ADice@exa\u2060mple.com', 'alice@example.com'],
    ['slack:U123ABC', 'slack:u123abc'],
  ])('%j is %j', (spelling, canonical) => {
    expect(normalizeIdentity(spelling)).toBe(canonical);
  });

  it('look-alikes and other names stay different people', () => {
    expect(sameIdentity('mallory@exampIe.com', 'mallory@example.com')).toBe(false);
    expect(sameIdentity('mallory', 'mallory@example.com')).toBe(false);
    expect(sameIdentity('', '')).toBe(false);
  });
});

describe('a shared link is one decision, by a listed name', () => {
  it('attack: one holder of the shared link cannot meet a 2-approver quorum with invented names', async () => {
    const { app, id, hook, shared } = await open('quorum', '      approvers: [alice@example.com, bob@example.com]\n      minApprovals: 2');
    const invented = await app.decide(shared, { approved: true, approver: 'carol@example.com' });
    expect(invented.status).toBe(403);
    expect(invented.body.error.code).toBe('NOT_AN_APPROVER');
    const first = await app.decide(shared, { approved: true, approver: 'alice@example.com' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'pending', decision: { approver: 'alice@example.com', verified: false, via: 'shared' } });
    const second = await app.decide(shared, { approved: true, approver: 'bob@example.com' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('TOKEN_USED');
    expect((await app.execution(id)).body).toMatchObject({ status: 'suspended', pending: { approvals: [{ approver: 'alice@example.com', verified: false }] } });
    expect(await received(`${hook}/pay`)).toHaveLength(0);
    // The refused attempt is evidence: it is in the audit log, and nothing was decided by it.
    const audit = await app.audit(id);
    expect(audit.filter((e) => e.type === 'decision')).toHaveLength(1);
    expect(audit.find((e) => e.type === 'decision-refused')?.detail).toMatchObject({ code: 'NOT_AN_APPROVER', name: 'carol@example.com', via: 'shared', verified: false });
  });

  it('attack: a typed "ALICE@example.com " does not lock alice out; her own link supersedes it', async () => {
    const { app, id, hook, shared, personal } = await open('lockout', '      approvers: [alice@example.com, bob@example.com]\n      minApprovals: 2');
    const typed = await app.decide(shared, { approved: true, approver: 'ALICE@example.com ' });
    expect(typed.body.decision).toMatchObject({ approver: 'alice@example.com', verified: false });
    const own = await app.decide(personal['alice@example.com']!, { approved: true, feedback: 'mine' });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ status: 'pending', decision: { approver: 'alice@example.com', verified: true, via: 'link' } });
    // Quorum counts identities: alice once, verified; the typed entry is gone from the count.
    expect(own.body.approvals).toEqual([expect.objectContaining({ approver: 'alice@example.com', verified: true, feedback: 'mine' })]);
    expect((await app.decide(personal['bob@example.com']!, { approved: true })).body.status).toBe('approved');
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output.approvals.map((a: any) => [a.approver, a.verified, a.via])).toEqual([['alice@example.com', true, 'link'], ['bob@example.com', true, 'link']]);
    expect(await received(`${hook}/pay`)).toHaveLength(1);
    const superseding = (await app.audit(id)).filter((e) => e.type === 'decision')[1];
    expect(superseding.detail).toMatchObject({ approver: 'alice@example.com', via: 'link', supersedes: { approver: 'alice@example.com', via: 'shared' } });
  });

  it('a typed name never stands in for someone who decided verified, and the refusal does not spend the link', async () => {
    const { app, shared, personal } = await open('after', '      approvers: [alice@example.com, bob@example.com]\n      minApprovals: 2');
    await app.decide(personal['alice@example.com']!, { approved: true });
    const typed = await app.decide(shared, { approved: true, approver: 'Alice <alice@example.com>' });
    expect(typed.status).toBe(409);
    expect(typed.body.error.code).toBe('DUPLICATE_APPROVER');
    const bob = await app.decide(shared, { approved: true, approver: 'bob@example.com' });
    expect(bob.body).toMatchObject({ status: 'approved', decision: { approver: 'bob@example.com', verified: false } });
  });

  it('with no approvers listed, anyone may type a name, once per shared link', async () => {
    const { app, id, shared } = await open('open', '      approvers: []');
    const first = await app.decide(shared, { approved: true, approver: ' Who\u200bever@example.com\u202e ' });
    // Recorded as shown, without invisible or bidi characters, and not verified.
    expect(first.body).toMatchObject({ status: 'approved', decision: { approver: 'Whoever@example.com', verified: false } });
    await app.until(id, 'completed');
  });
});

describe('separation of duties and requireVerified', () => {
  it.each(['mallory@example.com\u200b', 'mallory@exampIe.com', 'mallory', 'MALLORY@EXAMPLE.COM'])(
    'attack: with a requester, the typed name %j is refused (403, use a personal link)', async (spelling) => {
      const { app, id, shared } = await open('sod', '      approvers: []\n      requester: mallory@example.com');
      const res = await app.decide(shared, { approved: true, approver: spelling });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('VERIFICATION_REQUIRED');
      expect(res.body.error.message).toContain('personal link');
      expect((await app.execution(id)).body.pending.approvals).toEqual([]);
    });

  it('the requester cannot decide on their own link, however they are spelt in the step', async () => {
    const { app, personal } = await open('sod2', '      approvers: ["Mallory <Mallory@Example.com>", peer@example.com]\n      requester: "mallory@example.com\u200b "');
    const self = await app.decide(personal['Mallory <Mallory@Example.com>']!, { approved: true });
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe('SELF_APPROVAL');
    expect((await app.decide(personal['peer@example.com']!, { approved: true })).body.status).toBe('approved');
  });

  it('requireVerified refuses every typed name and accepts personal links', async () => {
    const { app, id, shared, personal } = await open('verified', '      approvers: [alice@example.com]\n      requireVerified: true');
    const typed = await app.decide(shared, { approved: true, approver: 'alice@example.com' });
    expect(typed.status).toBe(403);
    expect(typed.body.error).toMatchObject({ code: 'VERIFICATION_REQUIRED', details: { reason: 'requireVerified' } });
    const page = await app.request(`/callback/${shared}`, { headers: { accept: 'text/html' } });
    const html = await page.text();
    expect(html).toContain('accepts only verified decisions');
    expect(html).not.toContain('name="approver"');
    expect((await app.inspect(shared)).body).toMatchObject({ link: 'shared', verifiedOnly: true, viewer: null });
    expect((await app.decide(personal['alice@example.com']!, { approved: true })).body.status).toBe('approved');
    await app.until(id, 'completed');
  });

  it('duplicate spellings in approvers are one approver', async () => {
    const hook = `/dup-${crypto.randomUUID()}`;
    const app = hitlApp('dups', gate(hook, '      approvers: [a@example.com, "A@Example.com ", "Ann <a@example.com>"]\n      minApprovals: 2'));
    const res = await app.run('dups');
    expect(res.status).toBe(422);
    expect(res.body.error.details.message).toContain('1 distinct approver');
  });
});
