// Attacks on limits, isolation, budgets, secrets and recovery that an adversarial review found
// (each one failed before its fix). Durable Object SQLite refuses a value over 2 MB, so the size
// tests assert both "no 500" and "nothing stored over 2 MiB".

import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { compileExpression } from '../../src/expression/compile';
import { LIMITS } from '../../src/limits';
import { appWith, auth, received } from './helpers';
import { eventually, fireAlarm, hitlApp, hitsAt, stubOf, suspend, tokenOf } from './hitl-helpers';
import { stepKinds } from '../../src/kinds';

const TOKEN = 'partner-token-4f1c9e2b7a';
const DO_VALUE_LIMIT = 2 * 1024 * 1024;
const inObject = runInDurableObject as unknown as (stub: unknown, fn: (instance: unknown, state: DurableObjectState) => Promise<unknown>) => Promise<unknown>;

/** The largest value this execution's object stored in its run and request rows (bytes). */
const largestStored = (id: string) => inObject(stubOf(id), async (_i, state) => {
  const sql = state.storage.sql;
  const n = (q: string) => Number((sql.exec(q).toArray()[0] as { n?: number } | undefined)?.n ?? 0);
  return Math.max(
    n('SELECT MAX(length(CAST(state AS BLOB))) AS n FROM run'),
    n('SELECT MAX(MAX(length(CAST(spec AS BLOB)), length(CAST(approval AS BLOB)), ifnull(length(sealed), 0))) AS n FROM request'),
  );
}) as Promise<number>;

const small = { small: { default: () => ({ ok: true }) } };

describe('attacks found in review stay fixed', () => {
  // 1. The hitl request is not bounded: tokens per approver and hitl config (never size-checked).
  it('D1a: 25,000 approvers from a 200 KB input are refused cleanly, not SQLITE_TOOBIG -> 500', async () => {
    const app = appWith({ many: `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Go, approvers: \${input.list} }
    config: { notificationChannel: console }
` });
    const res = await app.run('many', { list: Array.from({ length: 25_000 }, (_, i) => `u${i}`) });
    expect(res.status).toBeLessThan(500);
    if (res.status === 202) expect(await largestStored(res.body.executionId)).toBeLessThanOrEqual(DO_VALUE_LIMIT);
  }, 30_000);

  it('D1b: a 2.9 MB hitl prompt built in config (config is never size-checked) fails the step, not 500', async () => {
    const app = appWith({ prompt: `agents:
  - name: approve
    agent: hitl
    config: { prompt: "\${input.p + input.p + input.p + input.p + input.p + input.p + input.p + input.p + input.p + input.p + input.p + input.p}", approvers: [a@example.com], notificationChannel: console }
` });
    const res = await app.run('prompt', { p: '語'.repeat(80_000) });
    expect(res.status).toBeLessThan(500);
    if (res.status === 202) expect(await largestStored(res.body.executionId)).toBeLessThanOrEqual(DO_VALUE_LIMIT);
  });

  // 2. The hitl step's output (every decision's feedback and reason) is never bounded.
  it('D2: decisions with long feedback cannot overflow the state: no 500, and the run does not hang', async () => {
    const hook = `/grow-${crypto.randomUUID()}`;
    const fill = Array.from({ length: 6 }, (_, i) => `  - name: f${i}\n    operation: code\n    config: { script: fill }\n`).join('');
    const approvers = Array.from({ length: 30 }, (_, i) => `a${i}@example.com`);
    const app = appWith({ grow: `agents:
${fill}  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Go, approvers: ${JSON.stringify(approvers)}, minApprovals: 30 }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
` }, { fill: { default: () => ({ s: 'x'.repeat(240_000) }) } });
    const start = await app.run('grow');
    expect(start.status).toBe(202);
    const id = start.body.executionId as string;
    const [hit] = await hitsAt(hook, 1, id);
    const text = '語'.repeat(10_000); // 30 KB of UTF-8 each, inside the 64 KiB decision body
    const statuses: number[] = [];
    for (const link of hit.json.approvers) {
      const res = await app.request(`/callback/${tokenOf(link.callbackUrl)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: true, feedback: text, reason: text }) });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s >= 500)).toEqual([]); // today: the 30th decision is 500
    await fireAlarm(id);
    const run = (await (await app.request(`/executions/${id}`, { headers: auth })).json()) as { status: string; pending: unknown };
    // today: status 'suspended' with no pending request: nothing is due, the run never moves again
    expect(run.status === 'suspended' && run.pending === null).toBe(false);
    expect(await largestStored(id)).toBeLessThanOrEqual(DO_VALUE_LIMIT);
  }, 60_000);

  // 3. Values nested deeper than the stack crash the engine outside the step's try (redact/jsonBytes).
  it('D3a: an http endpoint answering 8 KB of nested arrays fails the step, the run is not a 500', async () => {
    const app = appWith({ deep: `agents:\n  - name: s\n    operation: http\n    config: { url: "\${env.RECEIVER}/echo-deep-${crypto.randomUUID()}", body: "\${input.s}" }\n` });
    // The receiver echoes the body parsed: ~3,900 levels (Node can still serialise it; the Worker cannot walk it).
    const res = await app.run('deep', { s: '['.repeat(3_900) + ']'.repeat(3_900) });
    expect(res.status).toBe(422);
  });

  it('D3b: JSON.parse of a deeply nested input string fails the step (422), not 500', async () => {
    const app = appWith({ deep2: `agents:\n  - name: s\n    operation: code\n    config: { script: small }\n    input: { v: "\${JSON.parse(input.s)}" }\n` }, small);
    const res = await app.run('deep2', { s: '['.repeat(100_000) + ']'.repeat(100_000) });
    expect(res.status).toBe(422);
  });

  // 4. Secrets in notificationConfig are redacted before they are used.
  it('D4: a secret in notificationConfig.webhookUrl reaches the webhook (it is config), not "[redacted]"', async () => {
    const hook = `/sw-${crypto.randomUUID()}`;
    const app = hitlApp('sw', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Go, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}?key=\${env.PARTNER_TOKEN}", fallback: none } }
`);
    const id = await suspend(app, 'sw');
    const [hit] = await hitsAt(hook, 1, id);
    expect(hit.path).toBe(`${hook}?key=${TOKEN}`); // today: `?key=[redacted]`
    expect(JSON.stringify((await app.execution(id)).body)).not.toContain(TOKEN);
  });

  // 5. SLACK_WEBHOOK_URL is a credential of this Worker (an incoming-webhook URL is a bearer token).
  it('D5: ${env.SLACK_WEBHOOK_URL} is a load problem like the other Slack credentials', () => {
    const r = loadEnsemble({ file: 'ensembles/s.yaml', source: `agents:\n  - name: a\n    operation: http\n    config:\n      url: "\${env.RECEIVER}/x"\n      body: { hook: "\${env.SLACK_WEBHOOK_URL}" }\n` }, { kinds: stepKinds, scripts: new Set() });
    expect(r.ok ? [] : r.problems.map(formatProblem)).toEqual([expect.stringContaining('env.SLACK_WEBHOOK_URL is a credential of this Worker')]);
  });

  // 6. Expression budgets are checked after the value was built for several functions.
  it('D6: no allowed function builds a string over the budget before refusing it (EXPRESSION_LIMIT)', () => {
    const s = 'a'.repeat(300_000);
    let nested: unknown = Array(20_000).fill(0);
    for (let i = 0; i < 60; i++) nested = [nested];
    const scope = (name: string) => ({ s, n: nested, u: 'ß'.repeat(600_000) } as Record<string, unknown>)[name];
    const cases = [
      "[s, s, s, s].join('')", // join sizes only the separator
      'JSON.stringify(n, null, 10)', // 40 KB of input -> 12 M characters
      'String([s, s, s, s])',
      "'' + [s, s, s, s]", // plus() calls String(array) to size it
      "'x'.concat([s, s, s, s])",
      'u.toUpperCase()', // ß -> SS
    ];
    const built: Record<string, number> = {};
    const join = Array.prototype.join;
    const stringify = JSON.stringify;
    const upper = String.prototype.toUpperCase;
    let largest = 0;
    const note = (v: unknown) => { if (typeof v === 'string') largest = Math.max(largest, v.length); return v; };
    Array.prototype.join = function (this: unknown[], ...a: unknown[]) { return note(join.apply(this, a as [string])) as string; };
    JSON.stringify = ((...a: Parameters<typeof JSON.stringify>) => note(stringify(...a))) as typeof JSON.stringify;
    String.prototype.toUpperCase = function (this: string) { return note(upper.call(this)) as string; };
    try {
      for (const source of cases) {
        largest = 0;
        let code: unknown;
        try { compileExpression(source).evaluate(scope); } catch (e) { code = (e as { code?: unknown }).code; }
        expect(code, source).toBe('EXPRESSION_LIMIT');
        built[source] = largest;
      }
    } finally {
      Array.prototype.join = join;
      JSON.stringify = stringify;
      String.prototype.toUpperCase = upper;
    }
    // today: 1.2 M, 12.3 M, 1.2 M, 1.2 M, 1.2 M and 1.2 M characters were built, then refused
    expect(Object.entries(built).filter(([, n]) => n > LIMITS.expressionStringChars)).toEqual([]);
  });

  // 7. deliverDue does not claim a row before awaiting the send.
  it('D7: two concurrent POST /executions/:id/notify send two notifications, not four', async () => {
    const key = crypto.randomUUID();
    const path = `/slow/400?k=${key}`;
    const app = hitlApp('cn', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Go, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${path}" } }
`);
    const id = await suspend(app, 'cn');
    await hitsAt(path, 1, id);
    await new Promise((r) => setTimeout(r, 500));
    const notify = () => app.request(`/executions/${id}/notify`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect((await Promise.all([notify(), notify()])).map((r) => r.status)).toEqual([200, 200]);
    await new Promise((r) => setTimeout(r, 800));
    expect(await received(path)).toHaveLength(3); // today: 5 (each call also sends the other call's row)
  });

  // 8. outbox.last_error is stored and returned unredacted (the audit of the same error is redacted).
  it('D8: pending.notifications[].lastError is redacted like the audit', async () => {
    const path = `/le-${crypto.randomUUID()}`;
    await fetch(`${env.RECEIVER}/_serve`, { method: 'POST', body: JSON.stringify({ path, status: 500, body: { error: `bad key ${TOKEN}` } }) });
    const app = hitlApp('le', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Go, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${path}", fallback: none } }
`);
    const id = await suspend(app, 'le');
    const view = await eventually(async () => {
      const v = (await app.execution(id)).body;
      expect(v.pending.notifications[0].lastError).toBeTruthy();
      return v;
    });
    expect(JSON.stringify(await app.audit(id))).not.toContain(TOKEN); // holds
    expect(JSON.stringify(view)).not.toContain(TOKEN); // today: lastError holds the secret
  });

  // 9. V8's JSON.parse message quotes the start of its input: a secret prefix escapes redaction.
  it('D9: JSON.parse of a secret does not leak its first characters in the error', async () => {
    const app = appWith({
      inStep: `agents:\n  - name: s\n    operation: code\n    config: { script: small }\n    input: { v: "\${JSON.parse(env.PARTNER_TOKEN)}" }\n`,
      inOutput: `agents:\n  - name: s\n    operation: code\n    config: { script: small }\noutput: { v: "\${JSON.parse(env.PARTNER_TOKEN)}" }\n`,
    }, small);
    for (const name of ['inStep', 'inOutput']) {
      const res = await app.run(name);
      expect(res.status).toBe(422);
      expect(JSON.stringify(res.body)).not.toContain(TOKEN.slice(0, 10)); // today: "partner-to"...
    }
  });

  // 10. Any toJS() failure is reported as an alias bomb, at 1:1.
  it('D10: an undefined alias is reported as such, where it is', () => {
    const r = loadEnsemble({ file: 'ensembles/u.yaml', source: 'agents:\n  - name: a\n    operation: code\n    config: *nope\n' }, { kinds: stepKinds, scripts: new Set(['small']) });
    expect(r.ok).toBe(false);
    const [problem] = r.ok ? [] : r.problems;
    expect(problem!.message).not.toMatch(/too many YAML aliases/); // today: "too many YAML aliases: at most 100 ... (Unresolved alias ...)"
    expect(problem!.line).toBe(4);
  });
});

describe('and what the review found holding', () => {
  it('the HTTP edge answers 4xx to malformed bodies, odd content types, methods and paths', async () => {
    const hook = `/edge-${crypto.randomUUID()}`;
    const app = hitlApp('edge', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Go, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    const id = await suspend(app, 'edge');
    const [hit] = await hitsAt(hook, 1, id);
    const tok = tokenOf(hit.json.approvers[0].callbackUrl);
    const json = { ...auth, 'content-type': 'application/json' };
    const cases: [string, RequestInit][] = [
      ['/ensembles/edge', { method: 'POST', headers: { ...auth, 'content-type': 'application/json; charset=utf-16' }, body: new Uint8Array([0xff, 0xfe, 0x7b, 0, 0x7d, 0]) }],
      ['/ensembles/edge', { method: 'POST', headers: json, body: new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]) }],
      ['/ensembles/edge', { method: 'POST', headers: { ...auth, 'content-type': 'multipart/form-data; boundary=x' }, body: '--x\r\n\r\n--x--' }],
      ['/ensembles/edge', { method: 'PUT', headers: auth }],
      [`/executions/${id}`, { method: 'PATCH', headers: auth }],
      [`/callback/${tok}`, { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'x' }],
      [`/callback/${tok}`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=b' }, body: '--b\r\nContent-Disposition: form-data; name=""\r\n\r\n\r\n--b--\r\n' }],
      [`/callback/${tok}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-16' }, body: 'approved=%E0%A4%A&feedback=%' }],
      [`/callback/${tok}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'null' }],
      [`/callback/${tok}`, { method: 'POST', headers: { 'content-type': 'text/html' }, body: '<x>' }],
      ['/callback/%E0%A4%A', { headers: { accept: 'text/html' } }],
      [`/callback/${tok}`, { headers: { 'cf-access-jwt-assertion': 'x'.repeat(100_000) } }],
      [`/executions/${id}/notify`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'hello' }],
      [`/executions/${id}/cancel`, { method: 'POST', headers: json, body: '['.repeat(100_000) + ']'.repeat(100_000) }],
      ['/slack/interactions', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'payload=%' }],
    ];
    for (const [path, init] of cases) {
      const res = await app.request(path, init);
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBeLessThan(500);
    }
  });

  it('an alarm that fires while a slow step of the continuation runs does not run it again', async () => {
    const hook = `/wd-${crypto.randomUUID()}`;
    const app = hitlApp('wd', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Go, approvers: [a@example.com] }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
  - name: slow
    operation: http
    config: { url: "\${env.RECEIVER}/slow/1500?k=${hook}" }
`);
    const id = await suspend(app, 'wd');
    const [hit] = await hitsAt(hook, 1, id);
    await app.decide(tokenOf(hit.json.approvers[0].callbackUrl), { approved: true });
    const first = runDurableObjectAlarm(stubOf(id));
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all([first, runDurableObjectAlarm(stubOf(id))]);
    await app.until(id, 'completed');
    expect(await received(`/slow/1500?k=${hook}`)).toHaveLength(1);
  }, 20_000);

  it('env by a computed name, as a whole, and every infra credential spelling are load problems', () => {
    const r = loadEnsemble({ file: 'ensembles/e.yaml', source: `agents:
  - name: a
    operation: code
    config: { script: small }
    input: { a: "\${(env).API_KEY}", b: "\${env?.['HITL_TOKEN_SECRET']}", c: "$env.SLACK_BOT_TOKEN", d: "\${env['API' + '_KEY']}", e: "\${[env][0]}" }
` }, { kinds: stepKinds, scripts: new Set(['small']) });
    expect(r.ok ? 0 : r.problems.length).toBe(5);
  });
});
