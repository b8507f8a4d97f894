import { describe, expect, it } from 'vitest';
import { appWith, auth, received } from './helpers';
import { eventually, fireAlarm, hitsAt } from './hitl-helpers';

// Many approvals, one sitting: requests opened together for the same people are announced in one
// message per channel with a batch link per approver; the batch link lists and decides them, each
// item on its own.

const unique = () => crypto.randomUUID().slice(0, 8);

const foreach = (hook: string, extra = '', approvers = '[ap@example.com]') => `agents:
  - name: each
    type: foreach
    items: \${input.items}
    maxConcurrency: 20
    steps:
      - name: ok
        agent: hitl
        inputs: { data: \${item}, prompt: "Pay \${item.id}?", approvers: ${approvers}${extra} }
        config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
output: { paid: \${each.output} }
`;

const invoices = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `INV-${i + 1}`, amount: (i + 1) * 10, vendor: 'Acme', note: 'x'.repeat(300) }));

function batchApp(source: string) {
  const name = `b-${unique()}`;
  const app = appWith({ [name]: source });
  const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
  return {
    ...app,
    name,
    start: async (input: unknown) => app.run(name, input),
    view: async (link: string) => json(await app.request(new URL(link).pathname, { headers: { accept: 'application/json' } })),
    post: async (link: string, decisions: unknown) => json(await app.request(new URL(link).pathname, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decisions }) })),
    execution: async (id: string) => (await json(await app.request(`/executions/${id}`, { headers: auth }))).body,
  };
}

describe('grouped notifications', () => {
  it('a foreach of 12 approvals for two people is one message: the count, a summary of each item, a batch link per approver', async () => {
    const hook = `/batch-${unique()}`;
    const app = batchApp(foreach(hook, '', '[ap@example.com, bo@example.com]'));
    const start = await app.start({ items: invoices(12) });
    expect(start.status).toBe(202);
    expect(start.body.requests).toHaveLength(12);
    const [note] = await hitsAt(hook, 1, start.body.executionId);
    expect(note.json.batch.count).toBe(12);
    expect(note.json.batch.items[0]).toEqual({ step: 'each[0]/ok', prompt: 'Pay INV-1?', id: 'INV-1', amount: 10, vendor: 'Acme', note: `${'x'.repeat(79)}…` });
    expect(note.json.approvers.map((a: { approver: string; callbackUrl: string }) => [a.approver, new URL(a.callbackUrl).pathname.split('/').slice(0, 3).join('/')])).toEqual([['ap@example.com', '/callback/batch'], ['bo@example.com', '/callback/batch']]);
    // Nothing else was sent: not one message per item.
    await new Promise((r) => setTimeout(r, 200));
    expect(await received(hook)).toHaveLength(1);
  });

  it('approvals for different people are not grouped; groupNotifications: false sends one message per item', async () => {
    const hook = `/nogroup-${unique()}`;
    const app = batchApp(foreach(hook, ', groupNotifications: false'));
    const start = await app.start({ items: invoices(3) });
    const notes = await hitsAt(hook, 3, start.body.executionId);
    expect(notes.every((n) => n.json.batch === undefined)).toBe(true);
    const hook2 = `/people-${unique()}`;
    const perPerson = batchApp(foreach(hook2, '', '["${item.owner}"]'));
    const two = await perPerson.start({ items: [{ id: 'A', owner: 'a@example.com' }, { id: 'B', owner: 'b@example.com' }] });
    expect((await hitsAt(hook2, 2, two.body.executionId)).every((n) => n.json.batch === undefined)).toBe(true);
  });

  it('reminders of a group go out once for the group', async () => {
    const hook = `/remind-${unique()}`;
    const app = batchApp(foreach(hook, ', remindAfter: 1'));
    const start = await app.start({ items: invoices(4) });
    await hitsAt(hook, 1, start.body.executionId);
    await new Promise((r) => setTimeout(r, 1100));
    const notes = await hitsAt(hook, 2, start.body.executionId);
    expect(notes[1].json).toMatchObject({ kind: 'reminder', batch: { count: 4 } });
    await fireAlarm(start.body.executionId);
    expect(await received(hook)).toHaveLength(2);
  });
});

describe('the batch link', () => {
  async function opened(n: number, extra = '', approvers = '[ap@example.com]') {
    const hook = `/bl-${unique()}`;
    const app = batchApp(foreach(hook, extra, approvers));
    const start = await app.start({ items: invoices(n) });
    const [note] = await hitsAt(hook, 1, start.body.executionId);
    const links = Object.fromEntries(note.json.approvers.map((a: { approver: string; callbackUrl: string }) => [a.approver, a.callbackUrl]));
    return { app, id: start.body.executionId as string, links, start };
  }

  it('GET lists every item (JSON for custom UIs) and changes nothing', async () => {
    const { app, links, id } = await opened(3);
    const first = await app.view(links['ap@example.com']);
    expect(first.status).toBe(200);
    expect(first.body.approver).toBe('ap@example.com');
    expect(first.body.requests.map((r: any) => [r.step, r.prompt, r.status, r.decidable])).toEqual([0, 1, 2].map((i) => [`each[${i}]/ok`, `Pay INV-${i + 1}?`, 'pending', true]));
    expect(first.body.requests[0]).toMatchObject({ request: expect.any(Number), data: { id: 'INV-1' }, expiresAt: expect.any(String) });
    expect((await app.view(links['ap@example.com'])).body).toEqual(first.body);
    expect((await app.execution(id)).status).toBe('suspended');
  });

  it('decides each item on its own: one outside the batch or already decided fails alone; the run goes on once all are decided', async () => {
    const { app, links, id } = await opened(4);
    const other = await opened(2);
    const items = (await app.view(links['ap@example.com'])).body.requests.map((r: any) => r.request);
    const outsider = (await other.app.view(other.links['ap@example.com'])).body.requests[0].request + 1000;
    const res = await app.post(links['ap@example.com'], [
      { request: items[0], approved: true },
      { request: outsider, approved: true },
      { request: items[1], approved: false, reason: 'duplicate' },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => [r.ok, r.error?.code ?? r.status])).toEqual([[true, 'approved'], [false, 'NOT_IN_BATCH'], [true, 'rejected']]);
    // Sent again: nothing is decided twice.
    const again = await app.post(links['ap@example.com'], [{ request: items[0], approved: false }]);
    expect(again.body.results[0]).toMatchObject({ ok: false, error: { code: 'ALREADY_DECIDED' } });
    // Two posts at once for the same items: each item is decided once.
    const [a, b] = await Promise.all([2, 3].map(() => app.post(links['ap@example.com'], [{ request: items[2], approved: true }, { request: items[3], approved: true }])));
    expect([...a!.body.results, ...b!.body.results].filter((r: any) => r.ok)).toHaveLength(2);
    const done = await eventually(async () => {
      const e = await app.execution(id);
      expect(e.status).toBe('completed');
      return e;
    });
    expect(done.output.paid.map((p: any) => p.status)).toEqual(['approved', 'rejected', 'approved', 'approved']);
    const audit = (await (await app.request(`/executions/${id}/audit`, { headers: auth })).json() as any).entries;
    expect(audit.filter((e: any) => e.type === 'decision').map((e: any) => [e.detail.approver, e.detail.via])).toEqual(Array(4).fill(['ap@example.com', 'link']));
  });

  it('decides only for its own approver: with two needed, one person\'s batch link counts once', async () => {
    const { app, links } = await opened(2, ', minApprovals: 2', '[ap@example.com, bo@example.com]');
    const items = (await app.view(links['ap@example.com'])).body.requests.map((r: any) => r.request);
    const res = await app.post(links['ap@example.com'], items.map((request: number) => ({ request, approved: true })));
    expect(res.body.results.map((r: any) => r.status)).toEqual(['pending', 'pending']);
    const twice = await app.post(links['ap@example.com'], items.map((request: number) => ({ request, approved: true })));
    expect(twice.body.results.map((r: any) => r.error.code)).toEqual(['DUPLICATE_APPROVER', 'DUPLICATE_APPROVER']);
    const bo = await app.view(links['bo@example.com']);
    expect(bo.body.requests.every((r: any) => r.decidable)).toBe(true);
  });

  it('the item\'s own link is spent with it: decided through the batch, its single link cannot decide again', async () => {
    const { app, links, start } = await opened(2, ', returnLinks: true');
    const single = start.body.requests[0].links.personal[0].url;
    const items = (await app.view(links['ap@example.com'])).body.requests;
    await app.post(links['ap@example.com'], [{ request: items[0].request, approved: true }]);
    const page = await app.request(new URL(single).pathname, { headers: { accept: 'application/json' } });
    expect(((await page.json()) as any).tokenUsed).toMatchObject({ by: 'ap@example.com' });
  });

  it('works without JavaScript: the page has a checkbox per item and the bulk buttons; a form post decides the ticked items', async () => {
    const { app, links, id } = await opened(3);
    const path = new URL(links['ap@example.com']).pathname;
    const page = await app.request(path, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text.match(/<input type="checkbox" form="bulk" name="request"/g)).toHaveLength(3);
    expect(text).toContain('Approve selected');
    const ids = [...text.matchAll(/name="request" value="(\d+)" checked/g)].map((m) => m[1]!);
    const form = new URLSearchParams([['request', ids[0]!], ['request', ids[2]!], ['action', 'reject'], ['reason', 'not <b>ours</b>']]);
    const posted = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(posted.status).toBe(200);
    const result = await posted.text();
    expect(result).toContain('2 decided');
    const view = (await app.view(links['ap@example.com'])).body.requests.map((r: any) => r.status);
    expect(view).toEqual(['rejected', 'pending', 'rejected']);
    expect((await app.execution(id)).status).toBe('suspended');
    // Nothing ticked, answers for several at once, a forged item: refused, nothing recorded.
    const none = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=approve' });
    expect(none.status).toBe(400);
    const mixed = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `request=${ids[1]}&request=${ids[0]}&action=approve&response.x=1` });
    expect(mixed.status).toBe(400);
    expect((await app.view(links['ap@example.com'])).body.requests[1].status).toBe('pending');
  });

  it('hostile input: unknown tokens 404, a personal link is no batch link, bodies bounded and checked', async () => {
    const { app, links, start } = await opened(2, ', returnLinks: true');
    const path = new URL(links['ap@example.com']).pathname;
    const personal = new URL(start.body.requests[0].links.personal[0].url).pathname.split('/').pop();
    expect((await app.request(`/callback/batch/${personal}`, { headers: { accept: 'application/json' } })).status).toBe(404);
    expect((await app.request(`/callback/batch/nope`, { headers: { accept: 'application/json' } })).status).toBe(404);
    const post = (body: string) => app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post('{"decisions":[]}')).status).toBe(400);
    expect((await post(JSON.stringify({ decisions: Array.from({ length: 101 }, (_, i) => ({ request: i + 1, approved: true })) }))).status).toBe(400);
    expect((await post('{"decisions":[{"request":1,"approved":true,"extra":1}]}')).status).toBe(400);
    expect((await post('{"decisions":[{"request":"1 OR 1=1","approved":true}]}')).status).toBe(400);
    expect((await post('{"decisions":[{"request":1,"approved":true,"response":{"__proto__":{}}}]}')).status).toBe(400);
  });
});

describe('operators: extend and reassign', () => {
  const one = (hook: string) => `agents:
  - name: gate
    agent: hitl
    inputs: { prompt: "Ship?", approvers: [ap@example.com, bo@example.com], minApprovals: 2, requester: "\${input.author}", returnLinks: true }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
output: { status: \${gate.output.status}, by: \${gate.output.approvals} }
`;
  const op = async (app: ReturnType<typeof batchApp>, id: string, step: string, action: string, body: unknown) => {
    const res = await app.request(`/executions/${id}/requests/${encodeURIComponent(step)}/${action}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('extends a deadline by a duration or to a time, never past 365 days from the request, never earlier', async () => {
    const app = batchApp(one(`/ext-${unique()}`));
    const start = await app.start({ author: 'me@example.com' });
    const id = start.body.executionId;
    const before = Date.parse(start.body.pending.expiresAt);
    const later = await op(app, id, 'gate', 'extend', { by: '2h' });
    expect(later.status).toBe(200);
    expect(Date.parse(later.body.expiresAt) - before).toBe(2 * 3_600_000);
    expect((await app.execution(id)).requests[0].expiresAt).toBe(later.body.expiresAt);
    expect((await op(app, id, 'gate', 'extend', { until: new Date(Date.now() + 400 * 86_400_000).toISOString() })).body.error.code).toBe('DEADLINE_TOO_FAR');
    expect((await op(app, id, 'gate', 'extend', { until: new Date(Date.now() + 60_000).toISOString() })).body.error.code).toBe('INVALID_DEADLINE');
    expect((await op(app, id, 'gate', 'extend', { by: 'soon' })).status).toBe(400);
    expect((await op(app, id, 'gate', 'extend', { by: 60, until: 'x' })).status).toBe(400);
    expect((await op(app, id, 'nope', 'extend', { by: 60 })).status).toBe(409);
    expect((await app.request(`/executions/${id}/requests/gate/extend`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"by":60}' })).status).toBe(401);
    const audit = (await (await app.request(`/executions/${id}/audit`, { headers: auth })).json() as any).entries;
    expect(audit.find((e: any) => e.type === 'extended').detail).toMatchObject({ step: 'gate', by: 'operator' });
  });

  it('reassigns: the new approver gets a link of their own, the old link is spent; the requester, a listed approver or one who decided are refused', async () => {
    const hook = `/re-${unique()}`;
    const app = batchApp(one(hook));
    const start = await app.start({ author: 'me@example.com' });
    const id = start.body.executionId;
    const apLink = new URL(start.body.pending.links.personal.find((l: any) => l.approver === 'ap@example.com').url).pathname;
    expect((await op(app, id, 'gate', 'reassign', { replace: 'ap@example.com', with: 'me@example.com' })).body.error.code).toBe('SELF_APPROVAL');
    expect((await op(app, id, 'gate', 'reassign', { replace: 'ap@example.com', with: 'BO@example.com' })).body.error.code).toBe('REASSIGN_REFUSED');
    expect((await op(app, id, 'gate', 'reassign', { replace: 'zz@example.com', with: 'cy@example.com' })).body.error.code).toBe('REASSIGN_REFUSED');
    expect((await op(app, id, 'gate', 'reassign', { add: 'not an address' })).status).toBe(400);
    const moved = await op(app, id, 'gate', 'reassign', { replace: 'AP@example.com', with: 'cy@example.com' });
    expect(moved.status).toBe(200);
    expect(moved.body.approvers).toEqual(['cy@example.com', 'bo@example.com']);
    // ap's link no longer decides.
    const old = await app.request(apLink, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"approved":true}' });
    expect(old.status).toBe(409);
    // cy was told, with a link of their own, which decides.
    const notes = await hitsAt(hook, 2, id);
    const cy = notes[1].json.approvers.find((a: any) => a.approver === 'cy@example.com');
    expect(notes[1].json.kind).toBe('delegation');
    expect((await app.request(new URL(cy.callbackUrl).pathname, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"approved":true}' })).status).toBe(200);
    expect((await op(app, id, 'gate', 'reassign', { replace: 'cy@example.com', with: 'dee@example.com' })).body.error.code).toBe('REASSIGN_REFUSED');
    const added = await op(app, id, 'gate', 'reassign', { add: 'dee@example.com' });
    expect(added.body.approvers).toEqual(['cy@example.com', 'bo@example.com', 'dee@example.com']);
    const audit = (await (await app.request(`/executions/${id}/audit`, { headers: auth })).json() as any).entries;
    expect(audit.filter((e: any) => e.type === 'reassigned').map((e: any) => e.detail)).toEqual([
      { step: 'gate', from: 'ap@example.com', to: 'cy@example.com', by: 'operator' },
      { step: 'gate', to: 'dee@example.com', by: 'operator' },
    ]);
  });

  it('a reassigned approver\'s batch link no longer decides that item', async () => {
    const hook = `/rb-${unique()}`;
    const app = batchApp(foreach(hook));
    const start = await app.start({ items: invoices(2) });
    const id = start.body.executionId;
    const [note] = await hitsAt(hook, 1, id);
    const link = note.json.approvers[0].callbackUrl;
    const items = (await app.view(link)).body.requests;
    expect((await op(app, id, 'each[1]/ok', 'reassign', { replace: 'ap@example.com', with: 'cy@example.com' })).status).toBe(200);
    const res = await app.post(link, items.map((r: any) => ({ request: r.request, approved: true })));
    expect(res.body.results.map((r: any) => r.ok ? 'ok' : r.error.code)).toEqual(['ok', 'NOT_AN_APPROVER']);
  });
});

describe('routing', () => {
  it('the batch routes keep the app on hono\'s RegExpRouter; other two-segment callback paths are 404', async () => {
    const app = appWith({});
    expect((await app.request('/callback/other/abc', { headers: { accept: 'application/json' } })).status).toBe(404);
    expect((await app.request('/callback/other/abc', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
    const { createApp } = await import('../../src/http/app');
    const bare = createApp(() => app.registry);
    await bare.request('/');
    expect((bare.router as unknown as { name: string }).name).toBe('SmartRouter + RegExpRouter');
  });
});
