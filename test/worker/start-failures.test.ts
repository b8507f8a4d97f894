import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:test';
import { appWith, auth, received } from './helpers';
import { fireAlarm, hitsAt, inObject, stubOf } from './hitl-helpers';
import { ExecutionStore } from '../../src/hitl/store';
import { RunLifecycle } from '../../src/hitl/lifecycle';
import { StartClaims } from '../../src/hitl/start-claim';

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
 * Makes the `n`th SQL statement of the next `begin`'s write (from creating the tables to the
 * answer) throw as a full disk would; with n = 0 it only counts them (read with the function
 * returned). Patches the classes the objects share with this test (one isolate), once.
 */
function failNextBegin(n: number): () => number {
  const realCreate = ExecutionStore.prototype.create;
  const realAnswer = RunLifecycle.prototype.answerNow;
  let count = 0;
  ExecutionStore.prototype.create = function (this: any) {
    ExecutionStore.prototype.create = realCreate;
    const real = this.sql;
    const restore = () => { this.sql = real; RunLifecycle.prototype.answerNow = realAnswer; };
    this.sql = new Proxy(real, {
      get: (target, key) => key === 'exec'
        ? (...args: unknown[]) => {
          if (++count === n) { restore(); throw new Error('SQLITE_FULL: database or disk is full'); }
          return target.exec(...args);
        }
        : Reflect.get(target, key),
    });
    RunLifecycle.prototype.answerNow = function (this: any, ...a: unknown[]) { restore(); return realAnswer.apply(this, a as []); };
    return realCreate.call(this);
  };
  return () => count;
}

const tablesOf = (executionId: string) => inObject(stubOf(executionId), async (_i, state) =>
  state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name != 'sqlite_sequence'").toArray().map((r) => r.name).sort());

describe('a start whose storage fails', () => {
  it('at every statement of begin: 503 RUN_NOT_STORED with Retry-After, nothing kept or sent, and the same key then starts the run once', async () => {
    const name = `sf-${crypto.randomUUID().slice(0, 8)}`;
    const hook = `/sf-${crypto.randomUUID()}`;
    const app = appWith({ [name]: gate(name, hook) });
    // How many statements a successful begin writes, counted on a run of its own.
    const count = failNextBegin(0);
    expect((await start(app, name, `probe-${crypto.randomUUID()}`)).status).toBe(202);
    const statements = count();
    expect(statements).toBeGreaterThanOrEqual(4);
    for (let n = 1; n <= statements; n++) {
      const key = `k-${n}-${crypto.randomUUID()}`;
      failNextBegin(n);
      const res = await start(app, name, key);
      expect(res.status, `statement ${n} of ${statements}`).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      const body = (await res.json()) as any;
      expect(body.error.code).toBe('RUN_NOT_STORED');
      const id = body.error.details.executionId as string;
      // Nothing half-made: no run, request, token or outbox table; no index row.
      const tables = await tablesOf(id);
      for (const table of ['run', 'request', 'token', 'outbox']) expect(tables, `statement ${n}`).not.toContain(table);
      const row = await env.DB!.prepare('SELECT id FROM executions WHERE id = ?').bind(id).first();
      expect(row).toBeNull();
      // The same key once storage works: the run starts, and the key now names it for good.
      const again = await start(app, name, key);
      expect(again.status).toBe(202);
      const started = ((await again.json()) as any).executionId as string;
      await fireAlarm(started);
      const replay = await start(app, name, key);
      expect(((await replay.json()) as any).executionId).toBe(started);
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

  it('the same input with its keys in another order is the same start', async () => {
    const name = `iko-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: `agents:\n  - name: a\n    operation: code\n    config: { script: ok }\n` }, { ok: { default: () => ({}) } });
    const key = crypto.randomUUID();
    const first = await app.request(`/ensembles/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key }, body: '{"a":1,"b":{"c":2,"d":3}}' });
    const second = await app.request(`/ensembles/${name}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key }, body: '{"b":{"d":3,"c":2},"a":1}' });
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(((await second.json()) as any).executionId).toBe(((await first.json()) as any).executionId);
  });

  it('storage failing where the key is kept: 503 before the run (nothing ran), and after it the answer still goes out', async () => {
    let calls = 0;
    const name = `ikx-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: `agents:\n  - name: a\n    operation: code\n    config: { script: count }\n` }, { count: { default: () => ({ n: ++calls }) } });
    const claim = StartClaims.prototype.claim;
    StartClaims.prototype.claim = function () { StartClaims.prototype.claim = claim; throw new Error('SQLITE_FULL: database or disk is full'); };
    const before = await start(app, name, crypto.randomUUID());
    expect(before.status).toBe(503);
    expect(before.headers.get('retry-after')).toBe('1');
    expect(((await before.json()) as any).error.code).toBe('START_UNAVAILABLE');
    expect(calls).toBe(0);
    const finish = StartClaims.prototype.finish;
    StartClaims.prototype.finish = () => { throw new Error('SQLITE_FULL: database or disk is full'); };
    try {
      const after = await start(app, name, crypto.randomUUID());
      expect(after.status).toBe(200);
      expect(((await after.json()) as any).output).toEqual({ a: { n: 1 } });
    } finally {
      StartClaims.prototype.finish = finish;
    }
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
