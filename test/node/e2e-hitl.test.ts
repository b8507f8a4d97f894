import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startDevServer, type DevServer } from '../support/dev-server';
import { startReceiver } from '../support/receiver';
import { waitFor } from '../support/wait';

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let server: DevServer | undefined;

beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

const vars = (hook: string) => ({ APPROVAL_WEBHOOK_URL: `${receiver.url}${hook}`, HITL_WEBHOOK_SECRET: 'e2e-secret' });

async function suspend(s: DevServer, hook: string) {
  const res = await fetch(`${s.url}/ensembles/webhook-approval`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ topic: 'durable objects', author: 'ann' }),
  });
  expect(res.status).toBe(202);
  const body = (await res.json()) as { executionId: string; status: string; pending: { step: string } };
  expect(body).toMatchObject({ status: 'suspended', pending: { step: 'await-approval' } });
  const hit = await waitFor('the webhook', async () => receiver.received.find((r) => r.path === hook && (r.json as any)?.executionId === body.executionId));
  return { executionId: body.executionId, hit, payload: hit.json as any };
}

async function execution(s: DevServer, id: string) {
  const res = await fetch(`${s.url}/executions/${id}`, { headers: { authorization: `Bearer ${s.apiKey}` } });
  return (await res.json()) as any;
}

describe('approvals against a real wrangler dev', () => {
  it('run -> webhook gets the payload -> approve from its link -> run completes', async () => {
    const hook = '/hook-a';
    server = await startDevServer({ persistTo: mkdtempSync(join(tmpdir(), 'hitl-e2e-')), vars: vars(hook) });
    const { executionId, hit, payload } = await suspend(server, hook);
    expect(payload).toMatchObject({ executionId, ensemble: 'webhook-approval', step: 'await-approval', approvalData: { author: 'ann', content: { title: 'Notes on durable objects' } } });
    expect(payload.approveUrl).toMatch(new RegExp(`^${server.url}/callback/${executionId}\\.`));
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hit.headers['x-signature']))!;
    expect(v1).toBe(createHmac('sha256', 'e2e-secret').update(`${t}.${hit.body}`).digest('hex'));

    // A mail scanner's GET on the approve link decides nothing.
    expect((await fetch(payload.approveUrl, { headers: { accept: 'text/html' } })).status).toBe(200);
    expect((await execution(server, executionId)).status).toBe('suspended');

    const decided = await fetch(payload.approveUrl.replace('?action=approve', ''), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: true, approver: 'lead@example.com', feedback: 'good' }),
    });
    expect(decided.status).toBe(200);
    const done = await waitFor('completion', async () => { const e = await execution(server!, executionId); return e.status === 'completed' ? e : undefined; });
    expect(done.output).toMatchObject({ status: 'approved', published: true });
    expect(done.steps.map((s: any) => [s.name, s.status])).toEqual([['generate-content', 'completed'], ['await-approval', 'completed'], ['finalise', 'completed']]);
    const audit = (await (await fetch(`${server.url}/executions/${executionId}/audit`, { headers: { authorization: `Bearer ${server.apiKey}` } })).json()) as any;
    expect(audit.entries.map((e: any) => e.type)).toEqual(expect.arrayContaining(['suspended', 'notified', 'decision', 'resumed', 'completed']));
    expect(server.output()).toContain(`[hitl] Approval required: webhook-approval / await-approval (execution ${executionId})`);
    await server.stop();
    server = undefined;
  });

  it('survives a SIGKILL of the dev server between suspend and approve', async () => {
    const hook = '/hook-b';
    const persistTo = mkdtempSync(join(tmpdir(), 'hitl-kill-'));
    const port = await freePort();
    server = await startDevServer({ persistTo, port, vars: vars(hook) });
    const { executionId, payload } = await suspend(server, hook);
    await server.stop('SIGKILL');
    const dead = await fetch(`${payload.callbackUrl}`).then(() => 'up', () => 'down');
    expect(dead).toBe('down');

    server = await startDevServer({ persistTo, port, vars: vars(hook) });
    expect((await execution(server, executionId)).status).toBe('suspended');
    const res = await fetch(payload.callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: true, approver: 'after-restart@example.com' }) });
    expect(res.status).toBe(200);
    const done = await waitFor('completion after restart', async () => { const e = await execution(server!, executionId); return e.status === 'completed' ? e : undefined; });
    expect(done.output).toMatchObject({ status: 'approved', published: true });
    expect(done.input).toEqual({ topic: 'durable objects', author: 'ann' });
    expect(done.steps[1].output.approvals[0].approver).toBe('after-restart@example.com');
    await server.stop();
    server = undefined;
  });

  it('a SIGKILL in the middle of a step after the approval: the step runs again with the same Idempotency-Key, the run completes once', async () => {
    const persistTo = mkdtempSync(join(tmpdir(), 'hitl-midstep-'));
    const port = await freePort();
    const slow = `/slow-once/${Date.now()}/20000`;
    const midVars = { CMS_PUBLISH_URL: `${receiver.url}${slow}` };
    await server?.stop();
    server = await startDevServer({ persistTo, port, vars: midVars });
    const start = await fetch(`${server.url}/ensembles/content-approval`, {
      method: 'POST', headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'idempotency' }),
    });
    expect(start.status).toBe(202);
    const { executionId } = (await start.json()) as { executionId: string };
    // No channel configured: the console prints each approver's link.
    const links = await waitFor('the printed links', async () => {
      const found = [...server!.output().matchAll(new RegExp(`\\[hitl\\] (\\S+@example\\.com): review (http\\S+/callback/${executionId}\\.\\S+)`, 'g'))].map((m) => m[2]!);
      return found.length === 2 ? found : undefined;
    });
    for (const link of links) {
      const res = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: true }) });
      expect(res.status).toBe(200);
    }
    // The publish step is under way (the receiver holds its request for 20 s): kill everything.
    const first = await waitFor('the publish request', async () => receiver.received.find((r) => r.path === slow));
    await server.stop('SIGKILL');
    server = await startDevServer({ persistTo, port, vars: midVars });
    // Touching the object wakes it; its watchdog alarm (30 s after the step began) runs the step again.
    const done = await waitFor('completion after the restart', async () => {
      const e = await execution(server!, executionId);
      return e.status === 'completed' ? e : undefined;
    }, 90_000);
    const hits = receiver.received.filter((r) => r.path === slow);
    expect(hits).toHaveLength(2);
    expect(first.headers['idempotency-key']).toBe(`${executionId}:publish`);
    expect(hits[1]!.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
    expect(done.output).toMatchObject({ status: 'approved', published: true });
    expect(done.steps.find((s: any) => s.name === 'publish').status).toBe('completed');
    const audit = (await (await fetch(`${server.url}/executions/${executionId}/audit`, { headers: { authorization: `Bearer ${server.apiKey}` } })).json()) as any;
    expect(audit.entries.filter((e: any) => e.type === 'completed')).toHaveLength(1);
  }, 180_000);
});
