import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { appWith, auth } from './helpers';
import { eventually, fireAlarm, hitsAt, inObject, stubOf, tokenOf } from './hitl-helpers';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';
import { LIMITS } from '../../src/limits';
import { sign } from '../../src/triggers/verify';

// Waiting for events: `agent: wait` steps, `POST /events/:name`, webhooks that emit. Events before
// and after the wait, each wait taking at most one, concurrent events for one key, timeouts, a wait
// racing an approval in a parallel `any`, and hostile bodies.

const problemsOf = (source: string) => {
  const r = loadEnsemble({ file: 'ensembles/t.yaml', source }, { kinds: stepKinds, scripts: new Set() });
  return r.ok ? [] : r.problems.map(formatProblem);
};

const waiting = (extra = '') => `agents:
  - name: paid
    agent: wait
    inputs: { event: payment.settled, key: "\${input.order}"${extra} }
output: { status: "\${paid.output.status}", data: "\${paid.output.data}", at: "\${paid.output.receivedAt}" }
`;

const unique = () => crypto.randomUUID().slice(0, 8);

function eventsApp(files: Record<string, string>) {
  const app = appWith(files);
  const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
  return {
    ...app,
    send: async (name: string, body: unknown, headers: Record<string, string> = {}) =>
      json(await app.request(`/events/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })),
    box: async (name: string, key: string) => json(await app.request(`/events/${name}?key=${encodeURIComponent(key)}`, { headers: auth })),
    execution: async (id: string) => (await json(await app.request(`/executions/${id}`, { headers: auth }))).body,
    until: async (id: string, status: string) => eventually(async () => {
      const body = (await json(await app.request(`/executions/${id}`, { headers: auth }))).body;
      expect(body.status).toBe(status);
      return body;
    }),
    /** Until the wait of this run is registered with its box (the box lists it as waiting). */
    registered: async (name: string, key: string, executionId: string) => eventually(async () => {
      const { body } = await json(await app.request(`/events/${name}?key=${encodeURIComponent(key)}`, { headers: auth }));
      expect(body.waiting?.map((w: { executionId: string }) => w.executionId)).toContain(executionId);
    }),
  };
}

describe('agent: wait, checked when the ensemble loads', () => {
  it('names each mistake with its place', () => {
    expect(problemsOf(waiting())).toEqual([]);
    expect(problemsOf(`agents:\n  - name: w\n    agent: wait\n    inputs: { event: paid, key: x, timout: 60 }\n`)).toEqual([expect.stringMatching(/t\.yaml:4:36: unknown key 'timout' in wait inputs — did you mean 'timeout'\?/)]);
    expect(problemsOf(`agents:\n  - name: w\n    agent: wait\n    inputs: { event: paid }\n`)).toEqual([expect.stringMatching(/a wait step needs inputs\.key/)]);
    expect(problemsOf(`agents:\n  - name: w\n    agent: wait\n    inputs: { event: "paid now", key: x }\n`)).toEqual([expect.stringMatching(/4:22: .*an event name/)]);
    expect(problemsOf(`agents:\n  - name: w\n    agent: wait\n    inputs: { event: paid, key: x, timeout: 400 days }\n`)).toEqual([expect.stringMatching(/timeout must be more than 0 and at most 365 days/)]);
    expect(problemsOf(`agents:\n  - name: w\n    agent: wait\n    inputs: { event: paid, key: x, onTimeout: approve }\n`)[0]).toMatch(/onTimeout/);
    expect(problemsOf(`agents:\n  - name: w\n    agent: wait\n    config: { timeout: 60 }\n    inputs: { event: paid, key: x }\n`)).toEqual([expect.stringMatching(/a wait step takes no config: 'timeout' goes under inputs/)]);
  });

  it('a webhook that emits: its key is an expression over the body, and it gives no run\'s answer', () => {
    const hook = (emit: string, extra = '') => `trigger:\n  - { type: webhook, path: /hooks/pay, auth: { type: stripe, secret: "$env.STRIPE_SECRET" }, emit: ${emit}${extra} }\n${waiting()}`;
    expect(problemsOf(hook('{ event: payment.settled, key: "${input.data.object.metadata.order}" }'))).toEqual([]);
    expect(problemsOf(hook('{ event: payment.settled, key: "always" }'))[0]).toMatch(/emit\.key is the same for every request/);
    expect(problemsOf(hook('{ event: payment.settled, key: "${env.API_KEY}" }'))[0]).toMatch(/emit\.key reads only the request's body \(`input`\), not 'env'/);
    expect(problemsOf(hook('{ event: payment.settled, key: "${input.id}" }', ', respond: sync'))[0]).toMatch(/drop `respond: sync`/);
    expect(problemsOf(hook('{ event: "bad name", key: "${input.id}" }'))[0]).toMatch(/an event name/);
  });
});

describe('events and waits', () => {
  it('an event after the wait started resumes it with its data; the audit and the box record it', async () => {
    const name = `wait-${unique()}`;
    const order = `o-${unique()}`;
    const app = eventsApp({ [name]: waiting() });
    const start = await app.run(name, { order });
    expect(start.status).toBe(202);
    expect(start.body.pending).toMatchObject({ step: 'paid', waitsFor: { event: 'payment.settled', key: order }, approvers: [] });
    const id = start.body.executionId;
    await app.registered('payment.settled', order, id);
    const sent = await app.send('payment.settled', { key: order, data: { amount: 120, currency: 'EUR' } });
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ delivered: [{ executionId: id, step: 'paid' }], kept: false, duplicate: false });
    const done = await app.until(id, 'completed');
    expect(done.output).toEqual({ status: 'received', data: { amount: 120, currency: 'EUR' }, at: sent.body.receivedAt });
    const audit = (await (await app.request(`/executions/${id}/audit`, { headers: auth })).json() as any).entries;
    expect(audit.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['suspended', 'event', 'resumed', 'completed']));
    expect(audit.find((e: { type: string }) => e.type === 'event').detail).toMatchObject({ event: 'payment.settled', key: order, id: sent.body.event });
    const box = await app.box('payment.settled', order);
    expect(box.body.log.map((l: { type: string }) => l.type)).toEqual(expect.arrayContaining(['waiting', 'received', 'delivered']));
    expect(box.body.kept).toEqual([]);
  });

  it('an event before the wait is kept and taken by the first wait that starts; the next wait waits', async () => {
    const name = `early-${unique()}`;
    const order = `o-${unique()}`;
    const app = eventsApp({ [name]: waiting() });
    const sent = await app.send('payment.settled', { key: order, data: { early: true } });
    expect(sent.body).toMatchObject({ delivered: [], kept: true });
    expect(Date.parse(sent.body.keptUntil) - Date.parse(sent.body.receivedAt)).toBe(86_400_000);
    const first = await app.run(name, { order });
    expect((await app.until(first.body.executionId, 'completed')).output).toMatchObject({ status: 'received', data: { early: true } });
    // Taken once: the next wait on the same key waits.
    const second = await app.run(name, { order });
    await app.registered('payment.settled', order, second.body.executionId);
    expect((await app.execution(second.body.executionId)).status).toBe('suspended');
    expect((await app.box('payment.settled', order)).body.kept).toEqual([]);
  });

  it('a wait with lookback 0 does not take an event kept from before it started', async () => {
    const name = `fresh-${unique()}`;
    const order = `o-${unique()}`;
    const app = eventsApp({ [name]: waiting(', lookback: 0') });
    await app.send('payment.settled', { key: order, data: { stale: true } });
    const run = await app.run(name, { order });
    await app.registered('payment.settled', order, run.body.executionId);
    expect((await app.box('payment.settled', order)).body.kept).toHaveLength(1);
    await app.send('payment.settled', { key: order, data: { fresh: true } });
    expect((await app.until(run.body.executionId, 'completed')).output.data).toEqual({ fresh: true });
  });

  it('one event resumes every wait on its key; other keys and names are untouched', async () => {
    const name = `fan-${unique()}`;
    const order = `o-${unique()}`;
    const app = eventsApp({ [name]: waiting() });
    const runs = await Promise.all([1, 2, 3].map(() => app.run(name, { order })));
    const other = await app.run(name, { order: `${order}-other` });
    for (const r of runs) await app.registered('payment.settled', order, r.body.executionId);
    await app.registered('payment.settled', `${order}-other`, other.body.executionId);
    expect((await app.send('payment.refunded', { key: order, data: 1 })).body).toMatchObject({ delivered: [], kept: true });
    const sent = await app.send('payment.settled', { key: order, data: { n: 1 } });
    expect(sent.body.delivered.map((d: { executionId: string }) => d.executionId).sort()).toEqual(runs.map((r) => r.body.executionId).sort());
    for (const r of runs) expect((await app.until(r.body.executionId, 'completed')).output.data).toEqual({ n: 1 });
    expect((await app.execution(other.body.executionId)).status).toBe('suspended');
  });

  it('concurrent events for one key and one wait: it takes exactly one, the others are kept for the next waits', async () => {
    const name = `race-${unique()}`;
    const order = `o-${unique()}`;
    const app = eventsApp({ [name]: waiting() });
    const run = await app.run(name, { order });
    await app.registered('payment.settled', order, run.body.executionId);
    const sent = await Promise.all([1, 2, 3, 4, 5].map((n) => app.send('payment.settled', { key: order, data: { n } })));
    const taken = sent.filter((s) => s.body.delivered.length === 1);
    expect(taken).toHaveLength(1);
    expect(sent.filter((s) => s.body.kept)).toHaveLength(4);
    const done = await app.until(run.body.executionId, 'completed');
    expect(done.output.data).toEqual(taken[0]!.body.delivered.length ? { n: sent.indexOf(taken[0]!) + 1 } : null);
    // Four more waits take the four kept events, each a different one, oldest first.
    const next = await Promise.all([1, 2, 3, 4].map(() => app.run(name, { order })));
    const outputs = await Promise.all(next.map((r) => app.until(r.body.executionId, 'completed')));
    const got = outputs.map((o) => o.output.data.n).sort();
    expect(got).toEqual([1, 2, 3, 4, 5].filter((n) => n !== done.output.data.n));
  });

  it('a redelivery (same id) changes nothing; the same id with other data is refused', async () => {
    const app = eventsApp({});
    const key = `k-${unique()}`;
    const first = await app.send('invoice.paid', { key, data: { a: 1, b: 2 }, id: 'evt_1' });
    const again = await app.send('invoice.paid', { key, data: { b: 2, a: 1 } }, { 'idempotency-key': 'evt_1' });
    expect(again.body).toMatchObject({ event: 'evt_1', duplicate: true, kept: true });
    expect((await app.box('invoice.paid', key)).body.kept).toHaveLength(1);
    const other = await app.send('invoice.paid', { key, data: { a: 2 }, id: 'evt_1' });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('EVENT_ID_REUSED');
    expect(first.status).toBe(202);
  });

  it('times out: continue gives status timeout; fail fails the run; an event after that is kept, not lost', async () => {
    const name = `late-${unique()}`;
    const order = `o-${unique()}`;
    const app = eventsApp({ [name]: waiting(', timeout: 1'), [`${name}-f`]: waiting(', timeout: 1, onTimeout: fail') });
    const a = await app.run(name, { order });
    const b = await app.run(`${name}-f`, { order });
    await app.registered('payment.settled', order, a.body.executionId);
    await app.registered('payment.settled', order, b.body.executionId);
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(a.body.executionId);
    await fireAlarm(b.body.executionId);
    expect((await app.until(a.body.executionId, 'completed')).output).toEqual({ status: 'timeout', data: null, at: null });
    const failed = await app.until(b.body.executionId, 'failed');
    expect(failed.error).toMatchObject({ code: 'WAIT_TIMEOUT', step: 'paid' });
    const sent = await app.send('payment.settled', { key: order, data: 'late' });
    expect(sent.body).toMatchObject({ delivered: [], kept: true });
  });

  it('ship when paid, unless finance rejects first: a wait and an approval race in a parallel any', async () => {
    const name = `ship-${unique()}`;
    const hook = `/ship-${unique()}`;
    const source = `agents:
  - name: gate
    type: parallel
    waitFor: any
    steps:
      - name: paid
        agent: wait
        inputs: { event: payment.settled, key: "\${input.order}" }
      - name: finance
        agent: hitl
        inputs: { prompt: "Stop this order?", approvers: [finance@example.com] }
        config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
output: { paid: "\${paid.output.status}", finance: "\${finance.output.status}" }
`;
    const app = eventsApp({ [name]: source });
    const paidFirst = `o-${unique()}`;
    const one = await app.run(name, { order: paidFirst });
    expect(one.body.requests.map((r: { step: string }) => r.step).sort()).toEqual(['gate/finance', 'gate/paid']);
    await app.registered('payment.settled', paidFirst, one.body.executionId);
    await app.send('payment.settled', { key: paidFirst, data: { ok: true } });
    const shipped = await app.until(one.body.executionId, 'completed');
    expect(shipped.output.paid).toBe('received');
    // The approval lost the race: its link is closed.
    const [note] = await hitsAt(hook, 1, one.body.executionId);
    const closed = await app.request(`/callback/${tokenOf(note.json.approvers[0].callbackUrl)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: false }) });
    expect(closed.status).toBe(410);

    const rejectedFirst = `o-${unique()}`;
    const two = await app.run(name, { order: rejectedFirst });
    await app.registered('payment.settled', rejectedFirst, two.body.executionId);
    const note2 = (await hitsAt(hook, 2, two.body.executionId)).find((h) => h.json.executionId === two.body.executionId);
    const decided = await app.request(`/callback/${tokenOf(note2.json.approvers[0].callbackUrl)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: false, reason: 'fraud' }) });
    expect(decided.status).toBe(200);
    expect((await app.until(two.body.executionId, 'completed')).output.finance).toBe('rejected');
    // The payment that comes afterwards finds no wait: it is kept, and the stopped run stays as it ended.
    expect((await app.send('payment.settled', { key: rejectedFirst, data: {} })).body).toMatchObject({ delivered: [], kept: true });
    expect((await app.execution(two.body.executionId)).status).toBe('completed');
  }, 20_000);
});

describe('events: hostile input', () => {
  const app = eventsApp({});

  it('needs the API key; a bad name, key, id or body is a 400 with the reason; data over the limit 413', async () => {
    expect((await app.request('/events/paid', { method: 'POST', body: '{"key":"x"}' })).status).toBe(401);
    expect((await app.send('bad%20name!', { key: 'x' })).body.error.code).toBe('INVALID_EVENT_NAME');
    expect((await app.send('-dash', { key: 'x' })).body.error.code).toBe('INVALID_EVENT_NAME');
    expect((await app.send('paid', { key: { a: 1 } })).status).toBe(400);
    expect((await app.send('paid', { key: '' })).body.error.code).toBe('INVALID_EVENT_KEY');
    expect((await app.send('paid', { key: 'a\u0000b' })).body.error.code).toBe('INVALID_EVENT_KEY');
    expect((await app.send('paid', { key: 'x'.repeat(LIMITS.eventKeyChars + 1) })).body.error.code).toBe('INVALID_EVENT_KEY');
    expect((await app.send('paid', { key: 'x', extra: 1 })).status).toBe(400);
    expect((await app.send('paid', { key: 'x', id: 'has space' })).body.error.code).toBe('INVALID_EVENT_ID');
    expect((await app.send('paid', { key: 'x', id: 'a' }, { 'idempotency-key': 'b' })).body.error.code).toBe('INVALID_EVENT_ID');
    const deep = JSON.parse(`${'['.repeat(200)}${']'.repeat(200)}`);
    expect((await app.send('paid', { key: 'x', data: deep })).status).toBe(400);
    const proto = await app.request('/events/paid', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"key":"x","data":{"__proto__":{"admin":true}}}' });
    expect(proto.status).toBe(400);
    const big = await app.send('paid', { key: 'x', data: 'y'.repeat(LIMITS.eventDataBytes) });
    expect(big.status).toBe(413);
    expect((await app.request('/events/paid', { headers: auth })).status).toBe(400);
    expect((await app.request(`/events/paid?key=never-${unique()}`, { headers: auth })).status).toBe(404);
  });

  it('no one can decide a wait: it has no links, the inbox skips it, and it is notified to no one', async () => {
    const name = `nodecide-${unique()}`;
    const order = `o-${unique()}`;
    const a = eventsApp({ [name]: waiting() });
    const run = await a.run(name, { order });
    expect(run.body.pending.approvers).toEqual([]);
    const renotify = await a.request(`/executions/${run.body.executionId}/notify`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect(renotify.status).toBe(409);
    const stub = env.HITL_STATE.get(env.HITL_STATE.idFromName(run.body.executionId));
    const inbox = await stub.decideAs('anyone@example.com', { approved: true }, {});
    expect(inbox).toMatchObject({ ok: false });
    expect((await a.execution(run.body.executionId)).status).toBe('suspended');
    // Cancelled, its wait no longer takes events: one sent afterwards is kept.
    expect((await a.request(`/executions/${run.body.executionId}/cancel`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    expect((await a.send('payment.settled', { key: order, data: 1 })).body).toMatchObject({ delivered: [], kept: true });
  });

  it('data holding a secret of this deployment reaches the run redacted', async () => {
    const name = `secret-${unique()}`;
    const order = `o-${unique()}`;
    const a = eventsApp({ [name]: waiting() });
    const run = await a.run(name, { order });
    await a.registered('payment.settled', order, run.body.executionId);
    await a.send('payment.settled', { key: order, data: { leaked: String(env.API_KEY) } });
    const done = await a.until(run.body.executionId, 'completed');
    expect(JSON.stringify(done)).not.toContain(String(env.API_KEY));
  });
});

describe('a webhook that emits', () => {
  it('a signed Stripe delivery becomes an event keyed from its body; redelivered, nothing new; forged, 401; no key, 422', async () => {
    const name = `emit-${unique()}`;
    const path = `/hooks/pay-${unique()}`;
    const app = eventsApp({ [name]: `trigger:\n  - { type: webhook, path: ${path}, auth: { type: stripe, secret: "$env.STRIPE_SECRET" }, emit: { event: payment.settled, key: "\${input.data.object.metadata.order}" } }\n${waiting()}` });
    (env as Record<string, unknown>).STRIPE_SECRET = 'whsec_stripe_events';
    const order = `o-${unique()}`;
    const run = await app.run(name, { order });
    await app.registered('payment.settled', order, run.body.executionId);
    const body = JSON.stringify({ id: `evt_${unique()}`, type: 'charge.succeeded', data: { object: { amount: 500, metadata: { order } } } });
    const headers = async (b: string) => ({ 'content-type': 'application/json', ...(await sign.stripe('whsec_stripe_events', b, Math.floor(Date.now() / 1000))) });
    const first = await app.request(path, { method: 'POST', headers: await headers(body), body });
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ name: 'payment.settled', key: order, delivered: [{ executionId: run.body.executionId }] });
    const again = await app.request(path, { method: 'POST', headers: await headers(body), body });
    expect(await again.json()).toMatchObject({ duplicate: true });
    const done = await app.until(run.body.executionId, 'completed');
    expect(done.output.data).toMatchObject({ type: 'charge.succeeded', data: { object: { amount: 500 } } });
    const forged = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...(await sign.stripe('wrong', body, Math.floor(Date.now() / 1000))) }, body });
    expect(forged.status).toBe(401);
    const keyless = JSON.stringify({ id: `evt_${unique()}`, data: { object: {} } });
    const missing = await app.request(path, { method: 'POST', headers: await headers(keyless), body: keyless });
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as any).error.code).toBe('EVENT_KEY_MISSING');
    // Nothing was started by the webhook itself.
    const listed = (await (await app.request(`/executions?ensemble=${name}&trigger=webhook`, { headers: auth })).json()) as any;
    expect(listed.executions).toEqual([]);
  });
});

// Found by an adversarial review of the first version: each case failed before its fix.
describe('events: what a review found', () => {
  const gateThenWait = (hook: string, extra = '') => `agents:
  - name: gate
    agent: hitl
    inputs: { prompt: "Go?", approvers: [ops@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
  - name: paid
    agent: wait
    inputs: { event: payment.settled, key: "\${input.order}"${extra} }
output: { data: "\${paid.output.data}" }
`;

  it('a public webhook cannot emit events (anyone could resume a wait, or win its race)', () => {
    expect(problemsOf(`trigger:\n  - { type: webhook, path: /hooks/p, public: true, emit: { event: paid, key: "\${input.id}" } }\n${waiting()}`)[0]).toMatch(/a webhook that emits an event .* cannot be public/);
  });

  it('a signed HMAC body sent again under another delivery id is the same event', async () => {
    const name = `replay-${unique()}`;
    const path = `/hooks/replay-${unique()}`;
    const app = eventsApp({ [name]: `trigger:\n  - { type: webhook, path: ${path}, auth: { type: hmac-sha256, secret: "$env.REPLAY_SECRET" }, emit: { event: payment.settled, key: "\${input.order}" } }\n${waiting()}` });
    (env as Record<string, unknown>).REPLAY_SECRET = 'replay-secret';
    const order = `o-${unique()}`;
    const body = JSON.stringify({ order, paid: true });
    const send = async (extra: Record<string, string>) => (await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...(await sign['hmac-sha256']('replay-secret', body)), ...extra }, body })).json() as Promise<any>;
    expect(await send({ 'idempotency-key': 'd-1' })).toMatchObject({ duplicate: false, kept: true });
    expect(await send({ 'idempotency-key': 'd-2' })).toMatchObject({ duplicate: true });
    expect(await send({})).toMatchObject({ duplicate: true });
    expect((await app.box('payment.settled', order)).body.keptCount).toBe(1);
  });

  it('a kept event handed to a wait whose answer was lost goes back when the wait ends, and only to a wait that accepts it', async () => {
    const name = `lost-${unique()}`;
    const hook = `/lost-${unique()}`;
    const order = `o-${unique()}`;
    const app = eventsApp({ [name]: gateThenWait(hook), [`${name}-fresh`]: waiting(', lookback: 0') });
    const a = await app.run(name, { order });
    const kept = await app.send('payment.settled', { key: order, data: { the: 'one' } });
    expect(kept.body.kept).toBe(true);
    // Two waits that accept only events newer than themselves.
    const fresh = await Promise.all([1, 2].map(() => app.run(`${name}-fresh`, { order })));
    for (const f of fresh) await app.registered('payment.settled', order, f.body.executionId);
    // A's object loses the box's answer to its registration (the box has handed it the kept event).
    await inObject(stubOf(a.body.executionId), async (instance) => {
      const real = instance.env.EVENTS;
      instance.env = { ...instance.env, EVENTS: { idFromName: (n: string) => real.idFromName(n), get: (id: unknown) => {
        const box = real.get(id);
        return { register: async (...args: unknown[]) => { await box.register(...args); throw new Error('answer lost'); }, unregister: (...args: unknown[]) => box.unregister(...args), confirm: (...args: unknown[]) => box.confirm(...args) };
      } } };
    });
    const [note] = await hitsAt(hook, 1, a.body.executionId);
    expect((await app.request(`/callback/${tokenOf(note.json.approvers[0].callbackUrl)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"approved":true}' })).status).toBe(200);
    await eventually(async () => expect((await app.box('payment.settled', order)).body.keptCount).toBe(0));
    expect((await app.execution(a.body.executionId)).status).toBe('suspended');
    // A is cancelled before it learned what it was handed: the event goes back, kept (the two
    // fresh waits started after it arrived), not lost and not given to them.
    expect((await app.request(`/executions/${a.body.executionId}/cancel`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    await fireAlarm(a.body.executionId);
    await eventually(async () => expect((await app.box('payment.settled', order)).body.keptCount).toBe(1));
    for (const f of fresh) expect((await app.execution(f.body.executionId)).status).toBe('suspended');
    // The next wait that accepts it takes it.
    const b = await app.run(name, { order });
    expect(b.status).toBe(202);
  }, 20_000);

  it('a loop of waits, each taking a kept event at once, runs to its end (more rounds than one pass allows)', async () => {
    const name = `loop-${unique()}`;
    const order = `o-${unique()}`;
    const app = eventsApp({ [name]: `agents:
  - name: rounds
    type: while
    condition: \${!tick.executed || tick.output.data < 109}
    maxIterations: 200
    steps:
      - name: tick
        agent: wait
        inputs: { event: tick, key: "\${input.order}" }
output: { done: true }
` });
    for (let i = 0; i < 110; i++) await app.send('tick', { key: order, data: i });
    const run = await app.run(name, { order });
    expect(run.status, JSON.stringify(run.body).slice(0, 400)).toBe(202);
    const done = await eventually(async () => {
      const e = await app.execution(run.body.executionId);
      expect(e.status).toBe('completed');
      return e;
    }, 20_000);
    const ticks = done.steps.filter((r: { name: string }) => r.name === 'tick');
    expect(ticks).toHaveLength(110);
    expect(ticks.map((r: { output: { data: number } }) => r.output.data)).toEqual(Array.from({ length: 110 }, (_, i) => i));
  }, 30_000);

  it('GET /events is bounded: sizes, not data; at most 100 of each list, with the counts', async () => {
    const key = `k-${unique()}`;
    const app = eventsApp({});
    await Promise.all(Array.from({ length: 101 }, (_, i) => app.send('bulk', { key, data: { i } })));
    const box = (await app.box('bulk', key)).body;
    expect(box.keptCount).toBe(101);
    expect(box.kept).toHaveLength(100);
    expect(box.kept[0]).toEqual(expect.objectContaining({ bytes: expect.any(Number) }));
    expect(box.kept[0]).not.toHaveProperty('data');
  });

  it('keys that are not text, ids that hold a secret, keys built from a missing field', async () => {
    const app = eventsApp({});
    expect((await app.send('paid', { key: '\ud800x' })).body.error.code).toBe('INVALID_EVENT_KEY');
    const secretId = await app.send('paid', { key: `k-${unique()}`, id: String(env.API_KEY) });
    expect(secretId.status).toBe(202);
    expect(JSON.stringify(secretId.body)).not.toContain(String(env.API_KEY));

    const name = `partial-${unique()}`;
    const path = `/hooks/partial-${unique()}`;
    const hooked = eventsApp({ [name]: `trigger:\n  - { type: webhook, path: ${path}, auth: { type: bearer }, emit: { event: paid, key: "o-\${input.order}" } }\n${waiting()}` });
    const post = (body: unknown, extra: Record<string, string> = {}) => hooked.request(path, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });
    const missing = await post({ other: 1 });
    expect(missing.status).toBe(422);
    // A delivery id as long as any accepted for runs.
    expect((await post({ order: 'x' }, { 'idempotency-key': 'i'.repeat(255) })).status).toBe(202);
  });

  it('the executions list says what a run waits for when it is an event', async () => {
    const name = `listed-${unique()}`;
    const order = `o-${unique()}`;
    const app = eventsApp({ [name]: waiting() });
    const run = await app.run(name, { order });
    const listed = await eventually(async () => {
      const page = (await (await app.request(`/executions?ensemble=${name}&status=suspended`, { headers: auth })).json()) as any;
      expect(page.executions).toHaveLength(1);
      return page.executions[0];
    });
    expect(listed).toMatchObject({ executionId: run.body.executionId, pending: { step: 'paid', approvers: [], waitsFor: { event: 'payment.settled', key: order } } });
  });
});
