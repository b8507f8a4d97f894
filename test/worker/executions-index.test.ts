import { env, createScheduledController, createExecutionContext, waitOnExecutionContext, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { consoleChannel } from '../../src/notify/console';
import { appWith, auth } from './helpers';
import { eventually, fireAlarm, hitlApp, hitsAt, stubOf, suspend, tokenOf } from './hitl-helpers';

// Every execution findable: the D1 index written by each execution's object (and by the Worker for
// runs that never suspend), listed with filters and a cursor.

const list = async (app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> }, query: string) => {
  const res = await app.request(`/executions?${query}`, { headers: auth });
  return { status: res.status, body: (await res.json()) as any };
};

const gate = (name: string, hook: string, inputs = '      approvers: [ann@example.com, bob@example.com]\n      minApprovals: 2') => hitlApp(name, `agents:
  - name: review
    agent: hitl
    inputs:
      data: { n: 1 }
      prompt: Look
${inputs}
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);

describe('the executions index', () => {
  it('reflects every status change of a suspended run: suspended (who it waits on), a decision, completed', async () => {
    const hook = `/ix-${crypto.randomUUID()}`;
    const name = `ix-${crypto.randomUUID().slice(0, 8)}`;
    const app = gate(name, hook);
    const id = await suspend(app, name);
    const row = async () => (await list(app, `ensemble=${name}`)).body.executions[0];
    // The object answers first and writes its index row right after (docs/hitl.md, the lifecycle).
    await eventually(async () => expect(await row()).toMatchObject({ executionId: id, ensemble: name, status: 'suspended', pending: { step: 'review', approvers: ['ann@example.com', 'bob@example.com'] } }));
    const [hit] = await hitsAt(hook, 1);
    await app.decide(tokenOf(hit.json.approvers[0].callbackUrl), { approved: true });
    await eventually(async () => expect((await row()).pending.approvers).toEqual(['bob@example.com']));
    expect((await list(app, 'approver=ANN@example.com')).body.executions.some((e: any) => e.executionId === id)).toBe(false);
    expect((await list(app, 'approver=bob@example.com')).body.executions.some((e: any) => e.executionId === id)).toBe(true);
    await app.decide(tokenOf(hit.json.approvers[1].callbackUrl), { approved: true });
    await app.until(id, 'completed');
    await eventually(async () => expect(await row()).toMatchObject({ status: 'completed' }));
    expect((await row()).pending).toBeUndefined();
  });

  it('indexes runs that never suspend, and GET /executions/:id answers for them', async () => {
    const name = `flat-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: 'agents:\n  - name: a\n    operation: code\n    config: { script: ok }\n' }, { ok: { default: () => ({ fine: true }) } });
    const run = await app.run(name, { x: 1 });
    expect(run.status).toBe(200);
    const [row] = (await list(app, `ensemble=${name}`)).body.executions;
    expect(row).toMatchObject({ executionId: run.body.executionId, status: 'completed' });
    const one = (await (await app.request(`/executions/${run.body.executionId}`, { headers: auth })).json()) as any;
    expect(one).toMatchObject({ executionId: run.body.executionId, status: 'completed', input: { x: 1 }, output: { a: { fine: true } }, pending: null });
    expect(one.steps[0]).toMatchObject({ name: 'a', status: 'completed' });
  });

  it('a cancelled run is cancelled in the index', async () => {
    const hook = `/ixc-${crypto.randomUUID()}`;
    const name = `ixc-${crypto.randomUUID().slice(0, 8)}`;
    const app = gate(name, hook);
    const id = await suspend(app, name);
    await app.request(`/executions/${id}/cancel`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect((await list(app, `ensemble=${name}&status=cancelled`)).body.executions.map((e: any) => e.executionId)).toEqual([id]);
  });

  it('a failed index write is repaired by the object alarm', async () => {
    const hook = `/ixr-${crypto.randomUUID()}`;
    const name = `ixr-${crypto.randomUUID().slice(0, 8)}`;
    const app = gate(name, hook, '      approvers: [ann@example.com]');
    const id = await suspend(app, name);
    const [hit] = await hitsAt(hook, 1);
    const inObject = runInDurableObject as unknown as (stub: unknown, fn: (instance: any) => Promise<void>) => Promise<void>;
    let db: unknown;
    await inObject(stubOf(id), async (instance) => {
      db = instance.env.DB;
      instance.env = { ...instance.env, DB: { batch: async () => { throw new Error('D1 is down'); }, prepare: (db as D1Database).prepare.bind(db) } };
    });
    await app.decide(tokenOf(hit.json.approvers[0].callbackUrl), { approved: true });
    await fireAlarm(id);
    expect((await app.execution(id)).body.status).toBe('completed');
    expect((await list(app, `ensemble=${name}`)).body.executions[0].status).toBe('suspended');
    await inObject(stubOf(id), async (instance) => { instance.env = { ...instance.env, DB: db }; });
    await eventually(async () => {
      await fireAlarm(id);
      expect((await list(app, `ensemble=${name}`)).body.executions[0].status).toBe('completed');
    }, 10_000);
  }, 20_000);
});

describe('GET /executions', () => {
  it('pages newest first with a cursor: no duplicates or gaps while new runs arrive', async () => {
    const name = `page-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: 'agents:\n  - name: a\n    operation: code\n    config: { script: ok }\n' }, { ok: { default: () => ({}) } });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await app.run(name)).body.executionId);
    const seen: string[] = [];
    let cursor: string | null = null;
    let page = 0;
    do {
      const res = await list(app, `ensemble=${name}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.executions.map((e: any) => e.executionId));
      cursor = res.body.cursor;
      // New runs arrive between pages: they are newer than the cursor, so they do not shift it.
      if (page++ < 2) await app.run(name);
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('filters by status, ensemble and time; refuses bad queries with 400', async () => {
    const name = `filt-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: 'agents:\n  - name: a\n    operation: code\n    config: { script: boom }\n' }, { boom: { default: () => { throw new Error('no'); } } });
    const before = new Date(Date.now() - 1000).toISOString();
    const failed = (await app.run(name)).body.executionId;
    const res = await list(app, `ensemble=${name}&status=failed&since=${encodeURIComponent(before)}`);
    expect(res.body.executions.map((e: any) => e.executionId)).toEqual([failed]);
    expect((await list(app, `ensemble=${name}&until=${encodeURIComponent(before)}`)).body.executions).toEqual([]);
    expect((await list(app, `ensemble=${name}&status=completed`)).body).toEqual({ executions: [], cursor: null });
    for (const bad of ['limit=501', 'limit=0', 'status=done', 'cursor=nope', 'since=yesterday', 'colour=red']) {
      expect((await list(app, bad)).status).toBe(400);
    }
    expect((await app.request('/executions')).status).toBe(401);
  });
});

describe('operations', () => {
  it('GET /healthz answers without a key and names what works', async () => {
    const app = appWith({});
    const res = await app.request('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, checks: { durableObjects: 'ok', apiKey: 'ok', d1: 'ok', kv: 'ok', ensembles: 'ok' } });
    const broken = await appWith({}).request('/healthz');
    expect(broken.status).toBe(200);
  });

  it('GET /stats counts by status and measures decision latency', async () => {
    const hook = `/st-${crypto.randomUUID()}`;
    const name = `st-${crypto.randomUUID().slice(0, 8)}`;
    const app = gate(name, hook, '      approvers: [ann@example.com]');
    const id = await suspend(app, name);
    const [hit] = await hitsAt(hook, 1);
    await new Promise((r) => setTimeout(r, 50));
    await app.decide(tokenOf(hit.json.approvers[0].callbackUrl), { approved: true });
    await app.until(id, 'completed');
    // The index learns the completion right after the object (docs/hitl.md, the lifecycle).
    const stats = await eventually(async () => {
      const s = (await (await app.request('/stats?window=1h', { headers: auth })).json()) as any;
      expect(s.counts.completed).toBeGreaterThan(0);
      expect(s.decisions.count).toBeGreaterThan(0);
      return s;
    });
    expect(stats.decisions.p50Ms).toBeGreaterThanOrEqual(50);
    expect(stats.decisions.p95Ms).toBeGreaterThanOrEqual(stats.decisions.p50Ms);
    expect((await app.request('/stats?window=soon', { headers: auth })).status).toBe(400);
  });

  it('the hourly cron forgets finished runs older than the retention', async () => {
    const old = Date.now() - 40 * 86_400_000;
    await env.DB!.prepare("INSERT INTO executions (id, ensemble, status, created_at, updated_at, version) VALUES ('exe_0000000000000000000000000000dead', 'old', 'completed', ?, ?, 1)").bind(old, old).run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '17 * * * *' }), env as never, ctx);
    await waitOnExecutionContext(ctx);
    expect(await env.DB!.prepare("SELECT id FROM executions WHERE id = 'exe_0000000000000000000000000000dead'").first()).toBeNull();
  });

  it('the console channel prints links only in local development; deployed it logs a line without them', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { lines.push(a.join(' ')); });
    const notice = {
      kind: 'request' as const, executionId: 'exe_1', requestId: 1, status: 'pending' as const, approvals: [], ensemble: 'e', step: 's', prompt: 'p', data: 1,
      approvers: ['a@example.com'], minApprovals: 1, expiresAt: Date.now() + 1000,
      personal: [{ approver: 'a@example.com', callbackUrl: 'https://w/callback/SECRET', approveUrl: 'x', rejectUrl: 'y' }],
    };
    try {
      await consoleChannel.send(notice, { env: { ...env, HITL_DEV: undefined }, config: {}, posted: [] });
    } finally {
      spy.mockRestore();
    }
    expect(lines.join('\n')).not.toContain('SECRET');
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'approval-requested', executionId: 'exe_1' });
  });

  it('returnLinks: the 202 answer carries the review links only when the step asks', async () => {
    const hook = `/rl-${crypto.randomUUID()}`;
    const app = hitlApp('links', `agents:
  - name: review
    agent: hitl
    inputs: { data: 1, prompt: X, approvers: [ann@example.com], returnLinks: true }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    const start = await app.run('links');
    expect(start.status).toBe(202);
    expect(start.body.pending.links.personal).toEqual([{ approver: 'ann@example.com', url: expect.stringMatching(/\/callback\/exe_[0-9a-f]{32}\./) }]);
    expect((await app.decide(tokenOf(start.body.pending.links.personal[0].url), { approved: true })).body.status).toBe('approved');
    const plain = gate('nolinks', `/nl-${crypto.randomUUID()}`, '      approvers: [ann@example.com]');
    expect((await plain.run('nolinks')).body.pending.links).toBeUndefined();
  });
});
