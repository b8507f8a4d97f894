import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createHmac, createHash } from 'node:crypto';
import { eventually, fireAlarm, hitlApp, hitsAt, received, stubOf, suspend, tokenOf } from './hitl-helpers';

const webhookEnsemble = (hook: string) => `ensemble: publish
agents:
  - name: draft
    operation: http
    config: { url: "\${env.RECEIVER}/draft", body: { topic: \${input.topic} } }
  - name: await-approval
    agent: hitl
    config:
      action: suspend
      timeout: 86400000
      notificationChannel: webhook
      notificationConfig:
        webhookUrl: "\${env.RECEIVER}${hook}"
    input:
      approvalData:
        content: \${draft.output.body}
        author: \${input.author}
  - name: publish
    condition: \${await-approval.output.approved}
    operation: http
    config: { url: "\${env.RECEIVER}${hook}/published", body: { by: \${await-approval.output.approvals} } }
output:
  status: \${await-approval.output.status}
  published: \${publish.status === 'completed'}
`;

describe('the approval loop, end to end inside workerd', () => {
  it('suspends (202), notifies the webhook, approves from its link, continues, completes, audits', async () => {
    const hook = `/hook-${crypto.randomUUID()}`;
    const app = hitlApp('publish', webhookEnsemble(hook));
    const start = await app.run('publish', { topic: 'edge', author: 'ann' });
    expect(start.status).toBe(202);
    expect(start.body).toMatchObject({ ensemble: 'publish', status: 'suspended', pending: { step: 'await-approval', approvers: [], minApprovals: 1 } });
    const id = start.body.executionId;
    expect(Date.parse(start.body.pending.expiresAt) - Date.now()).toBeGreaterThan(86_000_000);

    // The run is stored, suspended, with the first step's record.
    const suspended = (await app.execution(id)).body;
    expect(suspended).toMatchObject({ status: 'suspended', input: { topic: 'edge', author: 'ann' }, pending: { step: 'await-approval' } });
    expect(suspended.steps.map((s: any) => [s.name, s.status])).toEqual([['draft', 'completed'], ['await-approval', 'suspended']]);

    // The webhook gets spec 004's payload, signed.
    await fireAlarm(id);
    const [hit] = await eventually(async () => {
      const r = await received(hook);
      expect(r).toHaveLength(1);
      return r;
    });
    const payload = hit.json;
    expect(payload).toMatchObject({
      executionId: id,
      approvalData: { content: { method: 'POST', path: '/draft', body: { topic: 'edge' } }, author: 'ann' },
      ensemble: 'publish', step: 'await-approval', kind: 'request', metadata: {}, approvers: [],
    });
    expect(typeof payload.expiresAt).toBe('number');
    expect(payload.callbackUrl).toMatch(/^https:\/\/approvals\.example\.test\/callback\/exe_[0-9a-f]{32}\.[\w-]{32}$/);
    expect(payload.approveUrl).toBe(`${payload.callbackUrl}?action=approve`);
    expect(payload.rejectUrl).toBe(`${payload.callbackUrl}?action=reject`);
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(hit.headers['x-signature'])!;
    expect(v1).toBe(createHmac('sha256', 'whsec-test').update(`${t}.${hit.body}`).digest('hex'));

    // GET reads the request without consuming it.
    const token = tokenOf(payload.approveUrl);
    const meta = await app.inspect(token);
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ executionId: id, ensemble: 'publish', step: 'await-approval', status: 'pending', prompt: 'Approval required', data: payload.approvalData, metadata: {}, approver: null, approvals: [] });

    const decided = await app.decide(token, { approved: true, feedback: 'ship it', approver: 'ops@example.com' });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({ status: 'approved', approved: true, decision: { approver: 'ops@example.com', verified: false } });

    const done = await app.until(id, 'completed');
    expect(done.output).toEqual({ status: 'approved', published: true });
    const approval = done.steps.find((s: any) => s.name === 'await-approval');
    expect(approval.status).toBe('completed');
    expect(approval.output).toEqual({
      status: 'approved', approved: true, rejected: false, timedOut: false, feedback: 'ship it',
      approvals: [{ approver: 'ops@example.com', approved: true, timestamp: expect.any(String), feedback: 'ship it', verified: false, via: 'shared' }],
    });
    expect((await received(`${hook}/published`))[0].json.by[0].approver).toBe('ops@example.com');

    const types = (await app.audit(id)).map((e) => e.type);
    expect(types).toEqual(['suspended', 'notified', 'decision', 'resumed', 'completed']);
    const decision = (await app.audit(id)).find((e) => e.type === 'decision');
    expect(decision.detail).toMatchObject({ approver: 'ops@example.com', verified: false, approved: true, feedback: 'ship it' });

    // The used link (a shared link decides once) now says what happened.
    const again = await app.decide(token, { approved: false, approver: 'x@example.com' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'TOKEN_USED', details: { status: 'approved', decidedBy: 'ops@example.com' } });
  });

  it('a rejection skips the publish step and is visible as output.rejected', async () => {
    const hook = `/hook-${crypto.randomUUID()}`;
    const app = hitlApp('publish', webhookEnsemble(hook));
    const id = await suspend(app, 'publish', { topic: 't', author: 'a' });
    const [hit] = await hitsAt(hook, 1);
    const res = await app.decide(tokenOf(hit.json.rejectUrl), { approved: false, reason: 'off-brand', feedback: 'redo', approver: 'lead@example.com' });
    expect(res.body.status).toBe('rejected');
    const done = await app.until(id, 'completed');
    expect(done.output).toEqual({ status: 'rejected', published: false });
    expect(done.steps.find((s: any) => s.name === 'publish').status).toBe('skipped');
    expect(done.steps.find((s: any) => s.name === 'await-approval').output).toMatchObject({ rejected: true, reason: 'off-brand', feedback: 'redo' });
    expect(await received(`${hook}/published`)).toHaveLength(0);
  });

  it('stores token hashes only: no token is readable from the object storage', async () => {
    const hook = `/hook-${crypto.randomUUID()}`;
    const app = hitlApp('two', `agents:
  - name: ok
    agent: hitl
    inputs:
      data: { x: 1 }
      prompt: Check
      approvers: [a@example.com, b@example.com]
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    const id = await suspend(app, 'two');
    const [hit] = await hitsAt(hook, 1);
    const tokens = [hit.json.callbackUrl, ...hit.json.approvers.map((a: any) => a.callbackUrl)].map(tokenOf);
    expect(hit.json.approvers.map((a: any) => a.approver)).toEqual(['a@example.com', 'b@example.com']);
    expect(new Set(tokens).size).toBe(3);
    const dump = await runInDurableObject(stubOf(id), async (_instance, state) => {
      const tables = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").toArray();
      return tables.map((t) => JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${t.name}"`).toArray())).join('\n');
    });
    for (const token of tokens) {
      expect(dump).not.toContain(token);
      expect(dump).not.toContain(token.split('.')[1]);
      expect(dump).toContain(createHash('sha256').update(token).digest('hex'));
    }
  });
});
