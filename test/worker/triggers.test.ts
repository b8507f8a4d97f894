import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { appWith, auth } from './helpers';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { stepKinds } from '../../src/kinds';
import { runSchedules } from '../../src/triggers/cron';
import { consumeQueue } from '../../src/triggers/queue';
import { receiveEmail } from '../../src/triggers/email';
import { sign } from '../../src/triggers/verify';
import * as greet from '../../scripts/greet';

// Runs that start themselves: cron (time zones, daylight saving, a minute delivered twice),
// signed webhooks (each scheme, forged, replayed, redelivered), queue messages and email.

const scripts = { greet };
const problemsOf = (source: string) => {
  const r = loadEnsemble({ file: 'ensembles/t.yaml', source }, { kinds: stepKinds, scripts: new Set(['greet']) });
  return r.ok ? [] : r.problems.map(formatProblem);
};
const step = 'agents:\n  - { name: hello, operation: code, config: { script: greet }, input: { name: "${input.name}" } }\n';

describe('trigger: checked when the ensemble loads', () => {
  it('names each mistake: type, cron fields, time zone, webhook auth, path, conductor-only types', () => {
    expect(problemsOf(`trigger:\n  - { type: crn, cron: "* * * * *" }\n${step}`)).toEqual(["ensembles/t.yaml:2:13: unknown trigger type 'crn' — did you mean 'cron'?"]);
    expect(problemsOf(`trigger:\n  - { type: cron, cron: "61 * * * *" }\n${step}`)[0]).toMatch(/2:25: invalid cron expression '61 \* \* \* \*'/);
    expect(problemsOf(`trigger:\n  - { type: cron, cron: "* * * *" }\n${step}`)[0]).toMatch(/has five fields .* has 4/);
    expect(problemsOf(`trigger:\n  - { type: cron, cron: "0 9 * * MON-FRI", timezone: Europe/Pariss }\n${step}`)[0]).toMatch(/unknown time zone 'Europe\/Pariss'/);
    expect(problemsOf(`trigger:\n  - { type: webhook, path: /hooks/x }\n${step}`)[0]).toMatch(/a webhook says who may call it/);
    expect(problemsOf(`trigger:\n  - { type: webhook, path: /x, public: true }\n${step}`)[0]).toMatch(/a path under \/hooks\//);
    expect(problemsOf(`trigger:\n  - { type: webhook, path: /hooks/x, auth: { type: github, secret: "hunter2" } }\n${step}`)[0]).toMatch(/a secret is named, not written/);
    expect(problemsOf(`trigger:\n  - { type: http, path: /x }\n${step}`)[0]).toMatch(/a 'http' trigger is a conductor feature this runtime does not have/);
    expect(problemsOf(`trigger:\n  - { type: cron, cron: "0 9 * * *", timezone: Europe/Paris, input: { name: x } }\n  - { type: webhook, path: /hooks/gh, auth: { type: github, secret: "$env.GH_SECRET" } }\n${step}`)).toEqual([]);
  });

  it('a webhook path claimed by two ensembles: neither loads', async () => {
    const app = appWith({ a: `trigger:\n  - { type: webhook, path: /hooks/same, public: true }\n${step}`, b: `trigger:\n  - { type: webhook, path: /hooks/same, public: true }\n${step}` }, scripts);
    const listed = app.registry.list();
    expect(listed.every((e) => e.problems.some((p) => /webhook path \/hooks\/same is also a trigger of/.test(p.message)))).toBe(true);
    expect((await app.request('/hooks/same', { method: 'POST', body: '{}' })).status).toBe(404);
  });
});

describe('cron', () => {
  const weekdayParis = `trigger:\n  - { type: cron, cron: "30 9 * * MON-FRI", timezone: Europe/Paris, input: { name: paris } }\n${step}`;

  it('fires at 9:30 in Paris on weekdays, winter and summer time alike, once per minute however often the event comes', async () => {
    const name = `cron-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: weekdayParis }, scripts);
    // Monday 12 January 2026, 9:30 in Paris is 8:30 UTC (winter); Monday 13 July 2026 it is 7:30 UTC.
    const winter = Date.UTC(2026, 0, 12, 8, 30);
    const summer = Date.UTC(2026, 6, 13, 7, 30);
    const mine = <T extends { ensemble: string }>(f: T[]) => f.filter((x) => x.ensemble === name);
    expect(mine(await runSchedules(env, app.registry, Date.UTC(2026, 0, 12, 9, 30)))).toEqual([]);
    expect(mine(await runSchedules(env, app.registry, Date.UTC(2026, 0, 11, 8, 30)))).toEqual([]); // a Sunday
    const first = mine(await runSchedules(env, app.registry, winter + 12_000));
    expect(first).toEqual([expect.objectContaining({ outcome: 'started', executionId: expect.stringMatching(/^exe_/) })]);
    // The same minute delivered again: nothing new, the first run named.
    expect(mine(await runSchedules(env, app.registry, winter + 40_000))).toEqual([expect.objectContaining({ outcome: 'again', executionId: first[0]!.executionId })]);
    expect(mine(await runSchedules(env, app.registry, summer))).toEqual([expect.objectContaining({ outcome: 'started' })]);
    const run = (await (await app.request(`/executions/${first[0]!.executionId}`, { headers: auth })).json()) as any;
    expect(run).toMatchObject({ status: 'completed', trigger: { type: 'cron' }, input: { name: 'paris' } });
    // Found by how it started; counted by trigger.
    const listed = (await (await app.request(`/executions?trigger=cron&ensemble=${name}`, { headers: auth })).json()) as any;
    expect(listed.executions.map((e: { executionId: string; trigger: string }) => `${e.trigger}:${e.executionId}`)).toContain(`cron:${first[0]!.executionId}`);
    expect((await (await app.request(`/executions?trigger=api&ensemble=${name}`, { headers: auth })).json() as any).executions).toEqual([]);
    const stats = (await (await app.request('/stats', { headers: auth })).json()) as any;
    expect(stats.byTrigger.cron).toBeGreaterThanOrEqual(2);
  });

  it('twenty ensembles due at one minute all start, a few at a time', async () => {
    const tag = crypto.randomUUID().slice(0, 6);
    const names = Array.from({ length: 20 }, (_, i) => `many-${tag}-${i}`);
    const app = appWith(Object.fromEntries(names.map((n) => [n, `trigger:\n  - { type: cron, cron: "0 12 * * *", input: { name: x } }\n${step}`])), scripts);
    const fired = (await runSchedules(env, app.registry, Date.UTC(2026, 4, 5, 12, 0))).filter((f) => names.includes(f.ensemble));
    expect(fired.map((f) => f.outcome)).toEqual(names.map(() => 'started'));
  });

  it('follows daylight saving: 2:30 in New York does not exist on 8 March 2026, and 1:30 happens twice on 1 November', async () => {
    const name = `dst-${crypto.randomUUID().slice(0, 8)}`;
    const app = appWith({ [name]: `trigger:\n  - { type: cron, cron: "30 1 * * *", timezone: America/New_York, input: { name: ny } }\n${step}` }, scripts);
    const mine = async (t: number) => (await runSchedules(env, app.registry, t)).filter((x) => x.ensemble === name).map((x) => x.outcome);
    // 1 November 2026: 1:30 EDT is 5:30 UTC; 1:30 EST (the hour again) is 6:30 UTC. One run that day.
    expect(await mine(Date.UTC(2026, 10, 1, 5, 30))).toEqual(['started']);
    expect(await mine(Date.UTC(2026, 10, 1, 6, 30))).toEqual([]);
    // A summer day: 1:30 EDT is 5:30 UTC.
    expect(await mine(Date.UTC(2026, 6, 1, 5, 30))).toEqual(['started']);
  });
});

describe('webhooks', () => {
  const secret = 'whsec_test_0123456789';
  const hook = (path: string, auth: string, extra = '') => `trigger:\n  - { type: webhook, path: ${path}, ${auth}${extra} }\n${step}`;
  const post = (app: ReturnType<typeof appWith>, path: string, body: string, headers: Record<string, string> = {}) =>
    app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const testEnv = env as unknown as Record<string, string>;
  testEnv.GH_SECRET = secret;
  testEnv.STRIPE_SECRET = secret;
  testEnv.SLACK_SECRET = secret;
  testEnv.HOOK_SECRET = secret;

  it('GitHub: a signed delivery starts a run (202 with its id); forged, unsigned and redelivered ones do not', async () => {
    const app = appWith({ gh: hook('/hooks/gh', 'auth: { type: github, secret: "$env.GH_SECRET" }') }, scripts);
    const body = JSON.stringify({ name: 'octocat' });
    const delivery = crypto.randomUUID();
    const ok = await post(app, '/hooks/gh', body, { ...(await sign.github(secret, body)), 'x-github-delivery': delivery });
    expect(ok.status).toBe(202);
    const started = (await ok.json()) as any;
    expect(started.executionId).toMatch(/^exe_/);
    const again = await post(app, '/hooks/gh', body, { ...(await sign.github(secret, body)), 'x-github-delivery': delivery });
    expect([again.status, ((await again.json()) as any).executionId]).toEqual([202, started.executionId]);
    expect((await post(app, '/hooks/gh', body, await sign.github('wrong', body))).status).toBe(401);
    expect((await post(app, '/hooks/gh', body)).status).toBe(401);
    // Signed over other bytes: the body as sent is what is verified.
    expect((await post(app, '/hooks/gh', `${body} `, await sign.github(secret, body))).status).toBe(401);
    const run = (await (await app.request(`/executions/${started.executionId}`, { headers: auth })).json()) as any;
    expect(run).toMatchObject({ trigger: { type: 'webhook', detail: '/hooks/gh' }, output: { hello: { message: 'Hello, octocat.' } } });
  });

  it('Stripe and Slack: signed timestamps within the tolerance only; generic HMAC; bearer; public', async () => {
    const app = appWith({
      st: hook('/hooks/stripe', 'auth: { type: stripe, secret: "$env.STRIPE_SECRET" }'),
      sl: hook('/hooks/slack', 'auth: { type: slack, secret: "$env.SLACK_SECRET", tolerance: 60 }'),
      hm: hook('/hooks/hmac', 'auth: { type: hmac-sha256, secret: "$env.HOOK_SECRET" }'),
      be: hook('/hooks/bearer', 'auth: { type: bearer }'),
      pu: hook('/hooks/public', 'public: true', ', respond: sync'),
    }, scripts);
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ id: `evt_${crypto.randomUUID()}`, name: 'stripe' });
    expect((await post(app, '/hooks/stripe', body, await sign.stripe(secret, body, now))).status).toBe(202);
    expect((await post(app, '/hooks/stripe', body, await sign.stripe(secret, body, now - 3600))).status).toBe(401);
    expect((await post(app, '/hooks/slack', body, await sign.slack(secret, body, now))).status).toBe(202);
    expect((await post(app, '/hooks/slack', body, await sign.slack(secret, body, now - 120))).status).toBe(401);
    expect((await post(app, '/hooks/hmac', body, await sign['hmac-sha256'](secret, body))).status).toBe(202);
    expect((await post(app, '/hooks/hmac', body, { 'x-signature': 'sha256=00' })).status).toBe(401);
    expect((await post(app, '/hooks/bearer', body, auth)).status).toBe(202);
    expect((await post(app, '/hooks/bearer', body, { authorization: 'Bearer nope' })).status).toBe(401);
    // respond: sync answers with the run, when it completes within the request.
    const sync = await post(app, '/hooks/public', JSON.stringify({ name: 'anyone' }));
    expect([sync.status, ((await sync.json()) as any).output]).toEqual([200, { hello: { message: 'Hello, anyone.' } }]);
    expect((await post(app, '/hooks/nowhere', body)).status).toBe(404);
    expect((await post(app, '/hooks/public', 'x'.repeat(300 * 1024))).status).toBe(413);
    expect((await post(app, '/hooks/public', '{"__proto__": {"x": 1}}')).status).toBe(400);
  });
});

describe('queues and email', () => {
  it('each queue message starts a run once; a message that is not an input is retried (then dead-lettered)', async () => {
    const app = appWith({ q: `trigger:\n  - { type: queue, queue: ensemble-hitl }\n${step}` }, scripts);
    const id = crypto.randomUUID();
    const batch = createMessageBatch('ensemble-hitl', [
      { id, timestamp: new Date(), attempts: 1, body: { name: 'queued' } },
      { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: 'not an object' },
    ]);
    const ctx = createExecutionContext();
    await consumeQueue(batch, env, app.registry, (w) => ctx.waitUntil(w));
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([id]);
    expect(result.retryMessages).toHaveLength(1);
    // Delivered again: acknowledged, no second run.
    const again = createMessageBatch('ensemble-hitl', [{ id, timestamp: new Date(), attempts: 2, body: { name: 'queued' } }]);
    const ctx2 = createExecutionContext();
    await consumeQueue(again, env, app.registry, (w) => ctx2.waitUntil(w));
    expect((await getQueueResult(again, ctx2)).explicitAcks).toEqual([id]);
  });

  it('mail to an ensemble\'s address starts a run with input.email; other mail is rejected, never dropped', async () => {
    const app = appWith({ m: `trigger:\n  - { type: email, addresses: ["ap-*@example.com"], from: ["*@vendor.example"] }\nagents:\n  - { name: hello, operation: code, config: { script: greet }, input: { name: "\${input.email.subject}" } }\n` }, scripts);
    const raw = (from: string, to: string, subject: string) => `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@vendor.example>\r\nContent-Type: text/plain\r\n\r\nInvoice attached.\r\n`;
    const message = (from: string, to: string, subject: string) => {
      const text = raw(from, to, subject);
      let rejected: string | undefined;
      return {
        from, to, headers: new Headers(), rawSize: text.length,
        raw: new Response(text).body!,
        setReject: (reason: string) => { rejected = reason; },
        forward: async () => ({}), reply: async () => ({}),
        get rejected() { return rejected; },
      };
    };
    const ok = message('billing@vendor.example', 'ap-invoices@example.com', 'INV-7');
    await receiveEmail(ok as never, env, app.registry);
    expect(ok.rejected).toBeUndefined();
    const listed = (await (await app.request('/executions?ensemble=m', { headers: auth })).json()) as any;
    expect(JSON.stringify(listed)).toContain('exe_');
    const stranger = message('someone@else.example', 'ap-invoices@example.com', 'hi');
    await receiveEmail(stranger as never, env, app.registry);
    expect(stranger.rejected).toMatch(/does not take mail from this sender/);
    const nobody = message('billing@vendor.example', 'random@example.com', 'hi');
    await receiveEmail(nobody as never, env, app.registry);
    expect(nobody.rejected).toMatch(/no ensemble receives mail for random@example.com/);
  });
});

describe('webhook bodies', () => {
  const app = () => appWith({
    sl: 'trigger:\n  - { type: webhook, path: /hooks/slack-cmd, auth: { type: slack, secret: "$env.SLACK_SECRET" } }\n' + step,
    pu: 'trigger:\n  - { type: webhook, path: /hooks/open, public: true }\n' + step,
  }, scripts);

  it("Slack's form bodies are fields of the input; a 10,000-deep JSON body is a 400; a misspelt path a 404", async () => {
    const a = app();
    const form = 'name=slash&text=hello';
    const now = Math.floor(Date.now() / 1000);
    const res = await a.request('/hooks/slack-cmd', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(await sign.slack('whsec_test_0123456789', form, now)) }, body: form });
    expect(res.status).toBe(202);
    const run = (await (await a.request(`/executions/${((await res.json()) as any).executionId}`, { headers: auth })).json()) as any;
    expect(run.input).toEqual({ name: 'slash', text: 'hello' });
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const refused = await a.request('/hooks/open', { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
    expect([refused.status, ((await refused.json()) as any).error.code]).toEqual([400, 'TOO_DEEP']);
    expect((await a.request('/hooks/opne', { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
