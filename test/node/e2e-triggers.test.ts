import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { projectCopy, startDevServer, type DevServer } from '../support/dev-server';
import { waitFor } from '../support/wait';

// Triggers against `npm start` (wrangler dev): wrangler's own local handlers fire the scheduled
// event (/cdn-cgi/handler/scheduled) and deliver mail (/cdn-cgi/handler/email), and a signed
// webhook comes over HTTP, as each would on Cloudflare. One server for the file.

const SECRET = 'e2e-github-secret';
const PAYMENT_SECRET = 'e2e-payment-secret';
let server: DevServer;
let dir: string;
let persistTo: string;

beforeAll(async () => {
  dir = projectCopy();
  writeFileSync(join(dir, 'ensembles', 'zz-morning.yaml'), `ensemble: zz-morning
trigger:
  - { type: cron, cron: "30 9 * * MON-FRI", timezone: Europe/Paris, input: { name: morning } }
agents:
  - { name: hello, operation: code, config: { script: greet }, input: { name: "\${input.name}" } }
`);
  writeFileSync(join(dir, 'ensembles', 'zz-push.yaml'), `ensemble: zz-push
trigger:
  - { type: webhook, path: /hooks/github-push, auth: { type: github, secret: "$env.GH_PUSH_SECRET" } }
agents:
  - { name: hello, operation: code, config: { script: greet }, input: { name: "\${input.repository.name}" } }
`);
  writeFileSync(join(dir, 'ensembles', 'zz-mail.yaml'), `ensemble: zz-mail
trigger:
  - { type: email, addresses: ["invoices@example.com"] }
agents:
  - { name: hello, operation: code, config: { script: greet }, input: { name: "\${input.email.subject}" } }
`);
  // A queue: one ensemble sends (conductor's storage spelling), another is started by each message.
  writeFileSync(join(dir, 'ensembles', 'zz-send.yaml'), `ensemble: zz-send
agents:
  - name: enqueue
    operation: storage
    config: { type: queue, action: send, queue: QUEUE, body: { name: "\${input.name}" } }
`);
  writeFileSync(join(dir, 'ensembles', 'zz-consume.yaml'), `ensemble: zz-consume
trigger:
  - { type: queue, queue: ensemble-hitl }
agents:
  - { name: hello, operation: code, config: { script: greet }, input: { name: "\${input.name}" } }
`);
  persistTo = mkdtempSync(join(tmpdir(), 'triggers-e2e-'));
  server = await startDevServer({ persistTo, cwd: dir, vars: { GH_PUSH_SECRET: SECRET, PAYMENT_WEBHOOK_SECRET: PAYMENT_SECRET } });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(persistTo, { recursive: true, force: true });
});

const api = async (path: string) => (await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.apiKey}` } })).json() as Promise<any>;
const runsOf = async (ensemble: string) => (await api(`/executions?ensemble=${ensemble}`)).executions as { executionId: string; trigger: string; status: string }[];

it('a scheduled event at 9:30 Paris time on a weekday starts the run once, however often it is delivered', async () => {
  // Tuesday 13 January 2026, 9:30 in Paris = 8:30 UTC.
  const time = Date.UTC(2026, 0, 13, 8, 30);
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${server.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('* * * * *')}&time=${time}`);
    expect(res.status).toBe(200);
  }
  // 10:30 Paris: not this ensemble's time.
  await fetch(`${server.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('* * * * *')}&time=${time + 3_600_000}`);
  const runs = await waitFor('the cron run', async () => {
    const r = await runsOf('zz-morning');
    return r.length > 0 ? r : undefined;
  });
  await new Promise((r) => setTimeout(r, 1000));
  expect(await runsOf('zz-morning')).toEqual([expect.objectContaining({ trigger: 'cron', status: 'completed' })]);
  const run = await api(`/executions/${runs[0]!.executionId}`);
  expect(run.output).toEqual({ hello: { message: 'Hello, morning.' } });
}, 60_000);

it('a GitHub push signed with the secret starts a run; a forged one is 401; the same delivery again starts nothing', async () => {
  const body = JSON.stringify({ repository: { name: 'acme-app' } });
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const send = (sig: string, delivery: string) => fetch(`${server.url}/hooks/github-push`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig, 'x-github-delivery': delivery }, body });
  const first = await send(signature, 'delivery-1');
  expect(first.status).toBe(202);
  const { executionId } = (await first.json()) as { executionId: string };
  const again = await send(signature, 'delivery-1');
  expect([again.status, ((await again.json()) as { executionId: string }).executionId]).toEqual([202, executionId]);
  expect((await send(`sha256=${'0'.repeat(64)}`, 'delivery-2')).status).toBe(401);
  const runs = await runsOf('zz-push');
  expect(runs.map((r) => `${r.trigger}:${r.executionId}`)).toEqual([`webhook:${executionId}`]);
});

it('mail to an address an ensemble receives starts a run with the message as input.email; other mail is rejected', async () => {
  const raw = 'From: billing@vendor.example\r\nTo: invoices@example.com\r\nSubject: INV-42\r\nMessage-ID: <inv-42@vendor.example>\r\nContent-Type: text/plain\r\n\r\nPlease pay.\r\n';
  const deliver = (to: string) => fetch(`${server.url}/cdn-cgi/handler/email?from=billing@vendor.example&to=${encodeURIComponent(to)}`, { method: 'POST', body: raw.replace('invoices@example.com', to) });
  const ok = await deliver('invoices@example.com');
  expect(ok.status).toBe(200);
  const runs = await waitFor('the mail run', async () => {
    const r = await runsOf('zz-mail');
    return r.length > 0 ? r : undefined;
  });
  const run = await api(`/executions/${runs[0]!.executionId}`);
  expect(run).toMatchObject({ trigger: { type: 'email' }, input: { email: { from: 'billing@vendor.example', to: 'invoices@example.com', subject: 'INV-42', messageId: '<inv-42@vendor.example>' } } });
  // No ensemble receives this address: the handler rejects it (wrangler answers with the rejection).
  const rejected = await deliver('nobody@example.com');
  const said = await rejected.text();
  // wrangler's local handler answers 200 and prints the rejection; on Cloudflare the sender gets it.
  await waitFor('the rejection', () => (/no ensemble receives mail for nobody@example.com/.test(`${said}\n${server.output()}`) ? true : undefined), 5000).catch(() => {
    throw new Error(`no rejection seen; answer: ${rejected.status} ${said}\n${server.output().slice(-1500)}`);
  });
  expect(await runsOf('zz-mail')).toHaveLength(1);
}, 60_000);

it('a message sent to the local queue starts the consuming ensemble\'s run', async () => {
  const sent = await fetch(`${server.url}/ensembles/zz-send`, { method: 'POST', headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'queued' }) });
  expect(sent.status).toBe(200);
  const runs = await waitFor('the queue run', async () => {
    const r = await runsOf('zz-consume');
    return r.length > 0 ? r : undefined;
  }, 30_000);
  expect(runs).toEqual([expect.objectContaining({ trigger: 'queue' })]);
  const run = await api(`/executions/${runs[0]!.executionId}`);
  expect(run).toMatchObject({ trigger: { type: 'queue', detail: 'ensemble-hitl' }, output: { hello: { message: 'Hello, queued.' } } });
}, 60_000);

// Waiting for events: ensembles/ship-when-paid.yaml races a wait for `payment.settled` against
// finance's approval; the payment provider's signed webhook emits the event (hmac-sha256).
const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
};
const untilStatus = (id: string, status: string) => waitFor(`${id} ${status}`, async () => {
  const run = await api(`/executions/${id}`);
  return run.status === status ? run : undefined;
}, 20_000);
const registered = (key: string, id: string) => waitFor(`the wait of ${id}`, async () => {
  const box = await api(`/events/payment.settled?key=${key}`);
  return box.waiting?.some((w: { executionId: string }) => w.executionId === id) ? true : undefined;
}, 20_000);

it('events after and before the wait: a signed payment webhook resumes a waiting run; an event sent first is kept for the run that starts next', async () => {
  const after = `o-${Date.now()}-a`;
  const start = await post('/ensembles/ship-when-paid', { order: after, amount: 120 });
  expect(start.status).toBe(202);
  expect(start.body.requests.map((r: { step: string; waitsFor?: unknown }) => [r.step, r.waitsFor ?? null])).toEqual([
    ['race/paid', { event: 'payment.settled', key: after }], ['race/finance', null]]);
  await registered(after, start.body.executionId);
  const body = JSON.stringify({ order: after, amount: 120, status: 'settled' });
  const sign = (secret: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const forged = await fetch(`${server.url}/hooks/payments`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': sign('wrong') }, body });
  expect(forged.status).toBe(401);
  const hook = await fetch(`${server.url}/hooks/payments`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': sign(PAYMENT_SECRET), 'idempotency-key': `pay-${after}` }, body });
  expect(hook.status).toBe(202);
  expect(await hook.json()).toMatchObject({ name: 'payment.settled', key: after, delivered: [{ executionId: start.body.executionId, step: 'race/paid' }] });
  const shipped = await untilStatus(start.body.executionId, 'completed');
  expect(shipped.output).toMatchObject({ shipped: true, payment: { order: after, status: 'settled' } });
  // finance's approval lost the race: closed by the flow.
  const audit = (await api(`/executions/${start.body.executionId}/audit`)).entries.map((e: { type: string }) => e.type);
  expect(audit).toEqual(expect.arrayContaining(['event', 'closed', 'completed']));

  const before = `o-${Date.now()}-b`;
  const early = await post('/events/payment.settled', { key: before, data: { order: before, early: true } });
  expect(early.body).toMatchObject({ delivered: [], kept: true });
  const second = await post('/ensembles/ship-when-paid', { order: before, amount: 80 });
  expect(second.status).toBe(202);
  expect((await untilStatus(second.body.executionId, 'completed')).output).toMatchObject({ shipped: true, payment: { early: true } });
}, 60_000);

it('concurrent events for one key: the waiting run takes exactly one, the rest are kept', async () => {
  const key = `o-${Date.now()}-c`;
  const start = await post('/ensembles/ship-when-paid', { order: key, amount: 5 });
  await registered(key, start.body.executionId);
  const sent = await Promise.all([1, 2, 3, 4].map((n) => post('/events/payment.settled', { key, data: { n } })));
  expect(sent.map((s) => s.status)).toEqual([202, 202, 202, 202]);
  expect(sent.filter((s) => s.body.delivered.length === 1)).toHaveLength(1);
  expect(sent.filter((s) => s.body.kept)).toHaveLength(3);
  await untilStatus(start.body.executionId, 'completed');
  expect((await api(`/events/payment.settled?key=${key}`)).kept).toHaveLength(3);
}, 60_000);
