import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:test';
import { appWith, auth, received } from './helpers';
import { fireAlarm, hitsAt, inObject, stubOf } from './hitl-helpers';
import { idempotentExecutionId } from '../../src/runtime/execution-id';

// A start whose storage fails answers 503 (never 500), keeps nothing, and can be sent again; with
// an Idempotency-Key, every retry is the same execution.

const gate = (name: string, hook: string) => `agents:
  - name: approve
    agent: hitl
    inputs: { data: { amount: 5 }, prompt: Pay?, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`;

const start = (app: ReturnType<typeof appWith>, name: string, key: string | undefined, input: unknown = {}) =>
  app.request(`/ensembles/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) }, body: JSON.stringify(input) });

/**
 * Makes the object's `n`th SQL statement inside `begin`'s write (from creating the tables to the
 * answer) throw as a full disk would. Returns how many statements that write made (when n = 0).
 */
async function failStatement(executionId: string, n: number): Promise<() => Promise<number>> {
  return inObject(stubOf(executionId), async (instance) => {
    const real = instance.store.sql;
    let armed = false;
    let count = 0;
    instance.store.sql = new Proxy(real, {
      get: (target, key) => key === 'exec'
        ? (...args: unknown[]) => {
          if (armed && ++count === n) throw new Error('SQLITE_FULL: database or disk is full');
          return target.exec(...args);
        }
        : Reflect.get(target, key),
    });
    const create = instance.store.create.bind(instance.store);
    instance.store.create = () => { armed = true; create(); };
    const answer = instance.lifecycle.answerNow.bind(instance.lifecycle);
    instance.lifecycle.answerNow = (...a: unknown[]) => { armed = false; return answer(...a); };
    return async () => count;
  });
}

const tablesOf = (executionId: string) => inObject(stubOf(executionId), async (_i, state) =>
  state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name != 'sqlite_sequence'").toArray().map((r) => r.name).sort());

describe('a start whose storage fails', () => {
  it('at every statement of begin: 503 RUN_NOT_STORED with Retry-After, nothing kept or sent, and the same key then starts the run once', async () => {
    const name = `sf-${crypto.randomUUID().slice(0, 8)}`;
    const hook = `/sf-${crypto.randomUUID()}`;
    const app = appWith({ [name]: gate(name, hook) });
    // How many statements a successful begin writes, counted on a run of its own.
    const probeKey = `probe-${crypto.randomUUID()}`;
    const count = await failStatement(await idempotentExecutionId(name, probeKey), 0);
    expect((await start(app, name, probeKey)).status).toBe(202);
    const statements = await count();
    expect(statements).toBeGreaterThanOrEqual(4);
    for (let n = 1; n <= statements; n++) {
      const key = `k-${n}-${crypto.randomUUID()}`;
      const id = await idempotentExecutionId(name, key);
      await failStatement(id, n);
      const res = await start(app, name, key);
      expect(res.status, `statement ${n} of ${statements}`).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      const body = (await res.json()) as any;
      expect(body.error).toMatchObject({ code: 'RUN_NOT_STORED', details: { executionId: id } });
      // Nothing half-made: no run, request, token or outbox table; no index row.
      expect(await tablesOf(id), `statement ${n}`).not.toContain('run');
      expect(await tablesOf(id)).not.toContain('request');
      const row = await env.DB!.prepare('SELECT id FROM executions WHERE id = ?').bind(id).first();
      expect(row).toBeNull();
      // The same key once storage works: the run starts, under the same execution id.
      await inObject(stubOf(id), async (instance) => { instance.store.sql = instance.ctx.storage.sql; });
      const again = await start(app, name, key);
      expect(again.status).toBe(202);
      expect(((await again.json()) as any).executionId).toBe(id);
      await fireAlarm(id);
    }
    // One notification per run that started (the probe and each retry), none for a failed start.
    await hitsAt(hook, statements + 1);
  });
});

describe('Idempotency-Key on POST /ensembles/:name', () => {
  it('a suspended start sent twice is one execution and one notification; the second answer is a replay', async () => {
    const name = `ik-${crypto.randomUUID().slice(0, 8)}`;
    const hook = `/ik-${crypto.randomUUID()}`;
    const app = appWith({ [name]: gate(name, hook) });
    const key = crypto.randomUUID();
    const first = await start(app, name, key);
    expect(first.status).toBe(202);
    const firstBody = (await first.json()) as any;
    await fireAlarm(firstBody.executionId);
    const second = await start(app, name, key);
    expect(second.status).toBe(202);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(((await second.json()) as any)).toMatchObject({ executionId: firstBody.executionId, status: 'suspended', pending: { step: 'approve' } });
    await new Promise((r) => setTimeout(r, 200));
    expect(await received(hook)).toHaveLength(1);
    // Another input under the same key is a mistake, not a new run.
    const other = await start(app, name, key, { amount: 6 });
    expect(other.status).toBe(422);
    expect(((await other.json()) as any).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('a run that completes is run once: a retry gets the same answer without running a step again', async () => {
    let calls = 0;
    const name = `ikf-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: `agents:\n  - name: a\n    operation: code\n    config: { script: count }\n` }, { count: { default: () => ({ n: ++calls }) } });
    const key = crypto.randomUUID();
    const first = (await (await start(app, name, key)).json()) as any;
    const second = await start(app, name, key);
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.json()).toEqual(first);
    expect(calls).toBe(1);
    // Without a key, each start is a run of its own.
    await start(app, name, undefined);
    expect(calls).toBe(2);
  });

  it('two starts with one key at the same moment run once: the other is told to ask again (409, Retry-After)', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let calls = 0;
    const name = `ikc-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: `agents:\n  - name: a\n    operation: code\n    config: { script: slow }\n` }, { slow: { default: async () => { calls++; await held; return { ok: true }; } } });
    const key = crypto.randomUUID();
    const first = start(app, name, key);
    await new Promise((r) => setTimeout(r, 100));
    const second = await start(app, name, key);
    expect(second.status).toBe(409);
    expect(((await second.json()) as any).error.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    release();
    expect((await first).status).toBe(200);
    expect(calls).toBe(1);
  });

  it('a key that is empty, too long or not printable ASCII is 400', async () => {
    const name = `ikb-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: `agents:\n  - name: a\n    operation: code\n    config: { script: ok }\n` }, { ok: { default: () => ({}) } });
    for (const key of ['', 'x'.repeat(256), 'has space', 'é']) {
      const res = await app.request(`/ensembles/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key }, body: '{}' });
      expect(res.status, JSON.stringify(key)).toBe(400);
      expect(((await res.json()) as any).error.code).toBe('INVALID_IDEMPOTENCY_KEY');
    }
  });
});
