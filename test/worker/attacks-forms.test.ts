import { describe, expect, it } from 'vitest';
import { readResponse, FormSpec } from '../../src/hitl/form';
import { fireAlarm, hitlApp, hitsAt, suspend, tokenOf } from './hitl-helpers';
import { stepKinds } from '../../src/kinds';

// Found in the adversarial review of issue 12 (forms, output.response, headlines). Each test asserts the documented
// behaviour, so it fails while the defect exists.

const hookOf = (name: string) => `/${name}-${crypto.randomUUID()}`;

function gate(name: string, inputs: string) {
  const hook = hookOf(name);
  const app = hitlApp(name, `agents:
  - name: approve
    agent: hitl
    inputs:
      prompt: Pay?
${inputs}
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
  return { app, hook };
}

async function open(name: string, inputs: string) {
  const { app, hook } = gate(name, inputs);
  const id = await suspend(app, name);
  const [hit] = await hitsAt(hook, 1);
  const tokens = Object.fromEntries(hit.json.approvers.map((a: any) => [a.approver, tokenOf(a.callbackUrl)])) as Record<string, string>;
  return { app, id, tokens, shared: tokenOf(hit.json.callbackUrl) };
}

describe('review 12: forms', () => {
  it('a field named like an Object.prototype member (constructor, toString, __proto__) is refused when the ensemble loads', async () => {
    // Such names would read the built-in property when the answer is left out.
    expect(FormSpec.safeParse({ constructor: { type: 'string' } }).success).toBe(false);
    expect(FormSpec.safeParse({ toString: { type: 'boolean' } }).success).toBe(false);
    // zod drops a `__proto__` key outright: no field comes of it.
    expect(Object.keys(FormSpec.parse(JSON.parse('{"__proto__": {"type": "string"}}')))).toEqual([]);
    // And answers are read from their own keys only.
    const form = FormSpec.parse({ note: { type: 'string' } });
    expect(readResponse(form, Object.create({ note: 'inherited' }), { fromHtml: false, approving: true })).toEqual({ ok: true, value: {} });
    const { loadEnsemble } = await import('../../src/ensemble/loader');
    const r = loadEnsemble({ file: 'p.yaml', source: 'agents:\n  - name: a\n    agent: hitl\n    inputs:\n      form: { constructor: { type: string } }\n' }, { kinds: stepKinds, scripts: new Set() });
    expect(r.ok).toBe(false);
  });

  it('an answer with a __proto__, constructor or prototype key is 400 like any unknown field, in JSON and from a page', async () => {
    const { app, tokens } = await open('rv21-proto', `      approvers: [lead@example.com, second@example.com]
      minApprovals: 2
      form: { note: { type: string } }`);
    const token = tokens['lead@example.com']!;
    for (const body of ['{"approved":true,"response":{"note":"x","__proto__":{"polluted":1}}}', '{"approved":true,"response":{"constructor":"x"}}', '{"approved":true,"response":{"prototype":"x"}}']) {
      const res = await app.request(`/callback/${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status, body).toBe(400);
      expect(JSON.stringify(await res.json())).toMatch(/__proto__|constructor|prototype/);
    }
    const page = await app.request(`/callback/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'approved=true&response.note=x&response.__proto__=y' });
    expect(page.status).toBe(400);
    // Nothing was decided: the link still decides, once.
    expect((await app.decide(token, { approved: true, response: { note: 'fine' } })).status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(FormSpec.safeParse({ prototype: { type: 'string' } }).success).toBe(false);
  });

  it('a required checkbox is needed to approve (JSON that leaves it out is 400)', async () => {
    const { app, tokens } = await open('rv12-reqbool', `      approvers: [lead@example.com]
      form: { confirm: { type: boolean, required: true, title: I checked the IBAN } }`);
    const view = await app.inspect(tokens['lead@example.com']!);
    expect(view.body.requestedSchema.required).toEqual(['confirm']);
    const res = await app.decide(tokens['lead@example.com']!, { approved: true });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_RESPONSE');
  });

  it('onTimeout: approve after a partial approval gives the defaults as output.response, not that approver\'s answers', async () => {
    const { app, id, tokens } = await open('rv12-timeout-resp', `      approvers: [a@example.com, b@example.com]
      minApprovals: 2
      timeout: 1
      onTimeout: approve
      form: { amount: { type: number, default: 100 } }`);
    expect((await app.decide(tokens['a@example.com']!, { approved: true, response: { amount: 999999 } })).body.status).toBe('pending');
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(id);
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output).toMatchObject({ status: 'approved', timedOut: true });
    // docs/approvals.md: "output.response (the closing decision's, or the defaults when a timeout closed the request)"
    expect(done.steps[0].output.response).toEqual({ amount: 100 });
  });

  it('the review page headline after onTimeout: approve does not credit the one partial approver', async () => {
    const { app, id, tokens } = await open('rv12-timeout-head', `      approvers: [a@example.com, b@example.com]
      minApprovals: 2
      timeout: 1
      onTimeout: approve`);
    expect((await app.decide(tokens['a@example.com']!, { approved: true })).body.status).toBe('pending');
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(id);
    await app.until(id, 'completed');
    // The headline must not say a alone approved it: the timeout policy did (a was 1 of 2).
    const page = await app.request(`/callback/${tokens['b@example.com']!}`, { headers: { accept: 'text/html' } });
    const html = await page.text();
    expect(html).not.toContain('Approved by a@example.com.');
    expect(html).toContain('timeout');
  });

  it('onReject: impossible: output.response and reason are the closing (last) rejection\'s', async () => {
    const { app, id, tokens } = await open('rv12-impossible-resp', `      approvers: [a@example.com, b@example.com, c@example.com]
      minApprovals: 2
      onReject: impossible
      form: { note: { type: string } }`);
    expect((await app.decide(tokens['a@example.com']!, { approved: false, reason: 'first', response: { note: 'first' } })).body.status).toBe('pending');
    expect((await app.decide(tokens['b@example.com']!, { approved: false, reason: 'second', response: { note: 'second' } })).body.status).toBe('rejected');
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output.response).toEqual({ note: 'second' });
  });
});
