// Batch approvals attacked: found by an adversarial review of the first version, each case failed before its fix.
import { env } from 'cloudflare:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { appWith, auth, received } from './helpers';
import { eventually, fireAlarm, hitsAt } from './hitl-helpers';

const unique = () => crypto.randomUUID().slice(0, 8);

const ISSUER = 'https://team.example.test';
const AUD = 'aud-test';
let key: JoseKey;
const KID = `kid-batch-${crypto.randomUUID()}`;
beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  await fetch(`${env.RECEIVER}/_serve`, { method: 'POST', body: JSON.stringify({ path: '/access/certs', body: { keys: [jwk] } }) });
});
const assertion = (email: string) => new SignJWT({ type: 'app', email, sub: crypto.randomUUID() })
  .setProtectedHeader({ alg: 'RS256', kid: KID }).setIssuer(ISSUER).setAudience(AUD).setIssuedAt().setExpirationTime('5m').sign(key);
const as = async (email: string) => ({ 'cf-access-jwt-assertion': await assertion(email), 'sec-fetch-site': 'same-origin' });
const slackUsers = (users: Record<string, { email?: string }>) => fetch(`${env.RECEIVER}/_slack/users`, { method: 'POST', body: JSON.stringify(users) });

function mk(source: string) {
  const name = `ba-${unique()}`;
  const app = appWith({ [name]: source });
  const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
  return {
    ...app,
    start: (input: unknown) => app.run(name, input),
    json,
    execution: async (id: string) => (await json(await app.request(`/executions/${id}`, { headers: auth }))).body,
    op: async (id: string, step: string, action: string, body: unknown) => json(await app.request(`/executions/${id}/requests/${encodeURIComponent(step)}/${action}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) })),
  };
}


const groupSrc = (hook: string) => `agents:
  - name: each
    type: foreach
    items: \${input.items}
    maxConcurrency: 20
    steps:
      - name: ok
        agent: hitl
        inputs: { data: \${item}, prompt: "Pay?", approvers: [ap@example.com, bo@example.com] }
        config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`;

describe('batch approvals: what a review found', () => {
  it('a slack:U… approver\'s batch link refuses an Access user Slack says is someone else, as the personal link does', async () => {
    const user = `U${unique().toUpperCase()}`;
    await slackUsers({ [user]: { email: 'owner@example.com' } });
    const hook = `/zzA-${unique()}`;
    const app = mk(`agents:
  - name: each
    type: foreach
    items: \${input.items}
    maxConcurrency: 20
    steps:
      - name: ok
        agent: hitl
        inputs: { data: \${item}, prompt: "Pay?", approvers: ["slack:${user}"], returnLinks: true }
        config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    const start = await app.start({ items: [{ id: 1 }, { id: 2 }] });
    expect(start.status).toBe(202);
    const [note] = await hitsAt(hook, 1, start.body.executionId);
    const batch = new URL(note.json.approvers[0].callbackUrl).pathname;
    const personal = new URL(start.body.requests[1].links.personal[0].url).pathname;
    const eve = await as('eve@example.com');
    // The personal link refuses Eve: the link belongs to owner@example.com (per Slack).
    const single = await app.request(personal, { method: 'POST', headers: { ...eve, 'content-type': 'application/json' }, body: '{"approved":true}' });
    expect(single.status).toBe(403);
    const view = await app.json(await app.request(batch, { headers: { accept: 'application/json' } }));
    const items = view.body.requests.map((r: any) => r.request);
    const res = await app.request(batch, { method: 'POST', headers: { ...eve, 'content-type': 'application/json' }, body: JSON.stringify({ decisions: [{ request: items[0], approved: true }] }) });
    const body = await res.json() as any;
    expect(body.results).toEqual([expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'IDENTITY_MISMATCH' }) })]);
    expect(view.body.requests[0].status).toBe('pending');
  });

  it('per-item escalateTo in a group: each item\'s escalation contact is told', async () => {
    const hook = `/zzB-${unique()}`;
    const app = mk(`agents:
  - name: each
    type: foreach
    items: \${input.items}
    maxConcurrency: 20
    steps:
      - name: ok
        agent: hitl
        inputs: { data: \${item}, prompt: "Pay?", approvers: [ap@example.com], escalateAfter: 1, escalateTo: ["\${item.boss}"] }
        config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    const start = await app.start({ items: [{ id: 1, boss: 'b1@example.com' }, { id: 2, boss: 'b2@example.com' }] });
    const id = start.body.executionId;
    await hitsAt(hook, 1, id);
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(id);
    await new Promise((r) => setTimeout(r, 300));
    await fireAlarm(id);
    const hits = await received(hook);
    const told = hits.slice(1).flatMap((h: any) => h.json.approvers.map((a: any) => a.approver));
    const audit = (await app.json(await app.request(`/executions/${id}/audit`, { headers: auth }))).body.entries;
    expect(audit.filter((e: any) => e.type === 'escalation').map((e: any) => e.detail.added)).toEqual([['b1@example.com'], ['b2@example.com']]);
    expect(told.sort()).toEqual(['b1@example.com', 'b2@example.com']);
  });

  it('a wait for an event is not extended (its event box keeps its deadline)', async () => {
    const order = `o-${unique()}`;
    const app = mk(`agents:
  - name: paid
    agent: wait
    inputs: { event: zz.settled, key: "\${input.order}", timeout: 2 }
`);
    const start = await app.start({ order });
    const id = start.body.executionId;
    await eventually(async () => {
      const box = await app.json(await app.request(`/events/zz.settled?key=${order}`, { headers: auth }));
      expect(box.body.waiting?.map((w: any) => w.executionId)).toContain(id);
    });
    const ext = await app.op(id, 'paid', 'extend', { by: 3600 });
    expect(ext.body.error.code).toBe('WAITS_FOR_EVENT');
  });
  it('reassign makes the Slack checks delegation makes (a requester known by Slack id, an id Slack will not name)', async () => {
    const req = `U${unique().toUpperCase()}`;
    const hidden = `U${unique().toUpperCase()}`;
    await slackUsers({ [req]: { email: 'me@example.com' }, [hidden]: {} });
    const hook = `/zzE-${unique()}`;
    const app = mk(`agents:
  - name: gate
    agent: hitl
    inputs: { prompt: "Ship?", approvers: [ap@example.com, bo@example.com], minApprovals: 2, requester: "slack:${req}", returnLinks: true }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    const start = await app.start({});
    const id = start.body.executionId;
    const boLink = new URL(start.body.pending.links.personal.find((l: any) => l.approver === 'bo@example.com').url).pathname;
    const delegated = await app.json(await app.request(boLink, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ delegateTo: `slack:${hidden}` }) }));
    const reassigned = await app.op(id, 'gate', 'reassign', { replace: 'ap@example.com', with: 'me@example.com' });
    const hiddenAdd = await app.op(id, 'gate', 'reassign', { add: `slack:${hidden}` });
    expect({ delegated: delegated.status, reassignRequester: reassigned.body.error?.code ?? reassigned.status, hiddenAdd: hiddenAdd.status })
      .toEqual({ delegated: 503, reassignRequester: 'SELF_APPROVAL', hiddenAdd: 503 });
  });

  it('a group\'s fallback to Slack posts no approver\'s link in the channel', async () => {
    await fetch(`${env.RECEIVER}/_serve`, { method: 'POST', body: JSON.stringify({ path: '/mailchannels/send', status: 500, body: { error: 'down' } }) });
    try {
      const app = mk(`agents:
  - name: each
    type: foreach
    items: \${input.items}
    maxConcurrency: 20
    steps:
      - name: ok
        agent: hitl
        inputs: { data: \${item}, prompt: "Pay?", approvers: [ap@example.com, bo@example.com] }
        config: { notificationChannel: email, notificationConfig: { fallback: slack } }
`);
      const start = await app.start({ items: [{ id: 1 }, { id: 2 }] });
      const id = start.body.executionId;
      const posted = await eventually(async () => {
        await fireAlarm(id);
        const hits = (await received('/slack')).filter((h: any) => h.body.includes(id));
        expect(hits.length).toBeGreaterThan(0);
        return hits;
      }, 15_000);
      const body = posted[0].body as string;
      expect(body).not.toMatch(/\/callback\/batch\//);
      expect(body).not.toMatch(/\/callback\/exe_/);
    } finally {
      await fetch(`${env.RECEIVER}/_serve`, { method: 'POST', body: JSON.stringify({ path: '/mailchannels/send', status: 202, body: {} }) });
    }
  });
  it('a batch webhook payload has no top-level link: each approver\'s is under their name', async () => {
    const hook = `/zzG-${unique()}`;
    const app = mk(groupSrc(hook));
    const start = await app.start({ items: [{ id: 1 }, { id: 2 }] });
    const [note] = await hitsAt(hook, 1, start.body.executionId);
    expect(note.json.callbackUrl).toBeUndefined();
  });

});
