import { describe, expect, it } from 'vitest';
import { loadEnsemble } from '../../src/ensemble/loader';
import { formatProblem } from '../../src/ensemble/problem';
import { teamsBody, TEAMS_MAX_BYTES } from '../../src/notify/teams';
import { eventually, fireAlarm, hitlApp, hitsAt, received, suspend, tokenOf } from './hitl-helpers';
import { stepKinds } from '../../src/kinds';

// Forms, delegation, committee rejections and the Teams card: what approvers and authors get
// beyond approve/reject, end to end through the Worker and the HITL object.

const hookOf = (name: string) => `/${name}-${crypto.randomUUID()}`;
const webhook = (hook: string) => `    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }`;

/** A hitl step (given as its inputs block), then an http step that reports what later steps read. */
function ensemble(hook: string, inputs: string, report = '{ status: "${approve.output.status}", response: "${approve.output.response}" }') {
  return `inputs:
  amount: number
  author: string
agents:
  - name: approve
    agent: hitl
${inputs}
${webhook(hook)}
  - name: report
    operation: http
    config: { url: "\${env.RECEIVER}${hook}/report", body: ${report} }
`;
}

async function suspended(app: ReturnType<typeof hitlApp>, name: string, hook: string, input: unknown = {}) {
  const id = await suspend(app, name, input);
  const [hit] = await hitsAt(hook, 1);
  return { id, payload: hit.json, tokens: Object.fromEntries((hit.json.approvers as { approver: string; callbackUrl: string }[]).map((a) => [a.approver, tokenOf(a.callbackUrl)])) as Record<string, string> };
}

const FORM = `    inputs:
      data: { title: Q3 budget }
      prompt: Rate and approve
      approvers: [lead@example.com]
      form:
        rating: { type: integer, minimum: 1, maximum: 5, required: true, title: Quality }
        note: { type: string, maxLength: 200 }
        publish: { type: boolean, default: true }
        amount: { type: number, default: "\${input.amount}", description: Correct it if wrong }
        tier: { type: string, enum: [gold, silver] }`;

describe('forms: approvers answer fields beside the decision', () => {
  it('the GET metadata carries the form as JSON Schema, defaults evaluated from the run', async () => {
    const hook = hookOf('form-meta');
    const app = hitlApp('form-meta', ensemble(hook, FORM));
    const { tokens } = await suspended(app, 'form-meta', hook, { amount: 120 });
    const view = await app.inspect(tokens['lead@example.com']!);
    expect(view.status).toBe(200);
    expect(view.body.requestedSchema).toEqual({
      type: 'object',
      properties: {
        rating: { type: 'integer', title: 'Quality', minimum: 1, maximum: 5 },
        note: { type: 'string', maxLength: 200 },
        publish: { type: 'boolean', default: true },
        amount: { type: 'number', description: 'Correct it if wrong', default: 120 },
        tier: { type: 'string', enum: ['gold', 'silver'], maxLength: 10000 },
      },
      required: ['rating'],
      additionalProperties: false,
    });
  });

  it('answers are validated (400 with the issues, link not spent) and arrive as output.response', async () => {
    const hook = hookOf('form-run');
    const app = hitlApp('form-run', ensemble(hook, FORM));
    const { id, tokens } = await suspended(app, 'form-run', hook, { amount: 120 });
    const token = tokens['lead@example.com']!;
    const missing = await app.decide(token, { approved: true });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('INVALID_RESPONSE');
    expect(missing.body.error.details).toEqual([{ path: 'response.rating', message: 'is required' }]);
    const wrong = await app.decide(token, { approved: true, response: { rating: 9, tier: 'bronze', color: 'red' } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details).toEqual([
      { path: 'response.color', message: 'is not a field of this form' },
      { path: 'response.rating', message: 'must be at most 5' },
      { path: 'response.tier', message: 'must be one of gold, silver' },
    ]);
    expect((await app.decide(token, { approved: true, response: { rating: 4.5 } })).body.error.details).toEqual([{ path: 'response.rating', message: 'must be a whole number' }]);

    const ok = await app.decide(token, { approved: true, response: { rating: 4, note: 'tidy', amount: 118.5 } });
    expect(ok.status).toBe(200);
    const done = await app.until(id, 'completed');
    const expected = { rating: 4, note: 'tidy', publish: true, amount: 118.5 };
    expect(done.steps[0].output.response).toEqual(expected);
    expect(done.steps[0].output.approvals[0].response).toEqual(expected);
    const [report] = await received(`${hook}/report`);
    expect(report.json).toEqual({ status: 'approved', response: expected });
  });

  it('a rejection needs no required field; a step without a form refuses answers', async () => {
    const hook = hookOf('form-reject');
    const app = hitlApp('form-reject', ensemble(hook, FORM));
    const { id, tokens } = await suspended(app, 'form-reject', hook, { amount: 7 });
    expect((await app.decide(tokens['lead@example.com']!, { approved: false, reason: 'no' })).status).toBe(200);
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output.response).toEqual({ publish: true, amount: 7 });

    const hook2 = hookOf('no-form');
    const app2 = hitlApp('no-form', ensemble(hook2, '    inputs: { prompt: P, approvers: [lead@example.com] }'));
    const two = await suspended(app2, 'no-form', hook2);
    const refused = await app2.decide(two.tokens['lead@example.com']!, { approved: true, response: { rating: 5 } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('INVALID_RESPONSE');
  });

  it('a static default that does not fit its field is a load problem', () => {
    const r = loadEnsemble({ file: 'f.yaml', source: `agents:
  - name: approve
    agent: hitl
    inputs:
      form: { rating: { type: integer, default: high }, note: { type: strin } }
` }, { kinds: stepKinds, scripts: new Set() });
    expect(r.ok ? [] : r.problems.map(formatProblem)).toEqual([
      "f.yaml:5:49: form field 'rating': the default \"high\" must be a number",
      "f.yaml:5:71: 'type' is 'strin' — did you mean 'string'?",
    ]);
  });
});

describe('committees: onReject', () => {
  const committee = (onReject: string) => `    inputs:
      prompt: Vote
      approvers: [a@example.com, b@example.com, c@example.com]
      minApprovals: \${Math.ceil(approvers.length / 2)}
      onReject: ${onReject}`;

  it('impossible: one rejection does not reject while a majority is still reachable', async () => {
    const hook = hookOf('vote');
    const app = hitlApp('vote', ensemble(hook, committee('impossible')));
    const { id, tokens } = await suspended(app, 'vote', hook);
    expect((await app.decide(tokens['a@example.com']!, { approved: false, reason: 'too costly' })).body.status).toBe('pending');
    expect((await app.decide(tokens['b@example.com']!, { approved: true })).body.status).toBe('pending');
    expect((await app.decide(tokens['c@example.com']!, { approved: true })).body.status).toBe('approved');
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output).toMatchObject({ status: 'approved', approved: true });
  });

  it('impossible: rejected once the undecided can no longer reach minApprovals', async () => {
    const hook = hookOf('vote-no');
    const app = hitlApp('vote-no', ensemble(hook, committee('impossible')));
    const { id, tokens } = await suspended(app, 'vote-no', hook);
    expect((await app.decide(tokens['a@example.com']!, { approved: false })).body.status).toBe('pending');
    expect((await app.decide(tokens['b@example.com']!, { approved: false })).body.status).toBe('rejected');
    expect((await app.decide(tokens['c@example.com']!, { approved: true })).status).toBe(409);
    expect((await app.until(id, "completed")).steps[0].output.status).toBe('rejected');
  });

  it('any (the default): the first rejection rejects', async () => {
    const hook = hookOf('vote-any');
    const app = hitlApp('vote-any', ensemble(hook, committee('any')));
    const { tokens } = await suspended(app, 'vote-any', hook);
    expect((await app.decide(tokens['a@example.com']!, { approved: false })).body.status).toBe('rejected');
  });
});

describe('delegation: a verified approver hands their place on', () => {
  const team = (extra = '') => `    inputs:
      prompt: Sign off
      approvers: [a@example.com, b@example.com]
      minApprovals: 2
      requester: \${input.author}${extra}`;

  it('the delegate gets a link of their own, counts in the delegator\'s place, and it is audited', async () => {
    const hook = hookOf('deleg');
    const app = hitlApp('deleg', ensemble(hook, team()));
    const { id, tokens } = await suspended(app, 'deleg', hook, { author: 'author@example.com' });
    const handed = await app.decide(tokens['a@example.com']!, { delegateTo: 'D@Example.com ', reason: 'on leave' });
    expect(handed.status).toBe(200);
    expect(handed.body.delegation).toMatchObject({ from: 'a@example.com', to: 'D@Example.com', reason: 'on leave', depth: 1 });
    expect(handed.body.approvers).toEqual(['D@Example.com', 'b@example.com']);

    const hits = await hitsAt(hook, 2, id);
    const notice = hits[1].json;
    expect(notice.kind).toBe('delegation');
    expect(notice.approvers.map((a: { approver: string }) => a.approver)).toEqual(['D@Example.com']);
    const delegate = tokenOf(notice.approvers[0].callbackUrl);

    // The delegator's link is spent; a decision through it is refused.
    expect((await app.decide(tokens['a@example.com']!, { approved: true })).status).toBe(409);
    expect((await app.decide(delegate, { approved: true })).body.status).toBe('pending');
    expect((await app.decide(tokens['b@example.com']!, { approved: true })).body.status).toBe('approved');
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output.approvals.map((x: { approver: string }) => x.approver)).toEqual(['D@Example.com', 'b@example.com']);
    expect(done.steps[0].output.delegations).toEqual([expect.objectContaining({ from: 'a@example.com', to: 'D@Example.com' })]);
    expect((await app.audit(id)).find((e) => e.type === 'delegated').detail).toMatchObject({ from: 'a@example.com', to: 'D@Example.com', via: 'link', reason: 'on leave' });
  });

  it('refused: to the requester, to an approver, to someone who decided, to a non-address, by a typed name, mixed with a decision', async () => {
    const hook = hookOf('deleg-no');
    const app = hitlApp('deleg-no', ensemble(hook, team()));
    const { tokens } = await suspended(app, 'deleg-no', hook, { author: 'author@example.com' });
    const a = tokens['a@example.com']!;
    const requester = await app.decide(a, { delegateTo: 'AUTHOR@example.com' });
    expect([requester.status, requester.body.error.details.reason]).toEqual([403, 'to-requester']);
    const approver = await app.decide(a, { delegateTo: 'b@example.com' });
    expect([approver.status, approver.body.error.details.reason]).toEqual([409, 'to-approver']);
    expect((await app.decide(a, { delegateTo: 'not a person' })).status).toBe(400);
    expect((await app.decide(a, { delegateTo: 'd@example.com', approved: true })).status).toBe(400);
    // b decides, then hands on: their place is used.
    expect((await app.decide(tokens['b@example.com']!, { approved: true })).status).toBe(200);
    const after = await app.decide(tokens['b@example.com']!, { delegateTo: 'e@example.com' });
    expect(after.status).toBe(409);
    // Still a's to hand on: nothing above spent it.
    expect((await app.decide(a, { delegateTo: 'd@example.com' })).status).toBe(200);
  });

  it('refused when the step says allowDelegation: false, and past a chain of 3', async () => {
    const hook = hookOf('deleg-off');
    const app = hitlApp('deleg-off', ensemble(hook, team('\n      allowDelegation: false')));
    const { tokens } = await suspended(app, 'deleg-off', hook, { author: 'x@example.com' });
    const off = await app.decide(tokens['a@example.com']!, { delegateTo: 'd@example.com' });
    expect([off.status, off.body.error.details.reason]).toEqual([403, 'disabled']);

    const hook2 = hookOf('deleg-chain');
    const app2 = hitlApp('deleg-chain', ensemble(hook2, team()));
    const two = await suspended(app2, 'deleg-chain', hook2, { author: 'x@example.com' });
    let token = two.tokens['a@example.com']!;
    for (let i = 1; i <= 3; i++) {
      const r = await app2.decide(token, { delegateTo: `d${i}@example.com` });
      expect(r.body.delegation.depth).toBe(i);
      const hits = await hitsAt(hook2, 1 + i, two.id);
      token = tokenOf(hits[i].json.approvers[0].callbackUrl);
    }
    const fourth = await app2.decide(token, { delegateTo: 'd4@example.com' });
    expect([fourth.status, fourth.body.error.details.reason]).toEqual([403, 'chain']);
  });

  it('a typed name on a shared link cannot hand anything on', async () => {
    const hook = hookOf('deleg-shared');
    const app = hitlApp('deleg-shared', ensemble(hook, '    inputs: { prompt: P, approvers: [a@example.com] }'));
    const { payload } = await suspended(app, 'deleg-shared', hook);
    const shared = tokenOf(payload.callbackUrl);
    const r = await app.decide(shared, { delegateTo: 'd@example.com' });
    expect([r.status, r.body.error.details.reason]).toEqual([403, 'unverified']);
  });
});

describe('Microsoft Teams channel', () => {
  it('posts an Adaptive Card with the shared links, user text escaped, within the size limit', async () => {
    const hook = hookOf('teams');
    // Teams' own template syntax comes from the run's input (written in the file, {{...}} would be
    // a load problem: conductor's placeholder sent as it is).
    const prompt = 'Ship **now**? [click](javascript:alert(1)) ${input.note} https://evil.example';
    const app = hitlApp('teams', `agents:
  - name: approve
    agent: hitl
    inputs:
      prompt: ${JSON.stringify(prompt)}
      data: { body: "\${input.big}" }
      metadata: { customer: "_ACME_ <b>" }
    config: { notificationChannel: teams, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    const id = await suspend(app, 'teams', { big: 'x'.repeat(60_000), note: '{{DATE(2017-02-14T06:00:00Z)}}' });
    const [hit] = await hitsAt(hook, 1, id);
    expect(hit.body.length).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(hit.json.type).toBe('message');
    const { contentType, content: card } = hit.json.attachments[0];
    expect(contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.type).toBe('AdaptiveCard');
    const texts = card.body.filter((b: { type: string }) => b.type === 'TextBlock').map((b: { text: string }) => b.text);
    expect(texts).toContain('Ship \\*\\*now\\*\\*? \\[click\\]\\(javascript:alert\\(1\\)\\) \\{\u200b\\{DATE\\(2017\\-02\\-14T06:00:00Z\\)\\}\\} https:\u200b//evil\\.example');
    const facts = card.body.find((b: { type: string }) => b.type === 'FactSet').facts;
    expect(facts).toContainEqual({ title: 'customer', value: '\\_ACME\\_ \\<b\\>' });
    expect(card.actions.map((a: { type: string; title: string }) => `${a.type}:${a.title}`)).toEqual(['Action.OpenUrl:Review', 'Action.OpenUrl:Approve', 'Action.OpenUrl:Reject', 'Action.OpenUrl:My inbox']);
    const review = await app.inspect(tokenOf(card.actions[0].url));
    expect([review.status, review.body.link]).toEqual([200, 'shared']);
    expect(card.actions[1].url).toMatch(/\?action=approve$/);
  });

  it('a Teams endpoint that fails is retried and audited like every channel', async () => {
    const key = crypto.randomUUID();
    const app = hitlApp('teams-flaky', `agents:
  - name: approve
    agent: hitl
    inputs: { prompt: P }
    config: { notificationChannel: teams, notificationConfig: { webhookUrl: "\${env.RECEIVER}/flaky/${key}/1" } }
`);
    const id = await suspend(app, 'teams-flaky');
    const audit = await eventually(async () => {
      await fireAlarm(id);
      const entries = await app.audit(id);
      expect(entries.some((e) => e.type === 'notified' && e.detail.channel === 'teams')).toBe(true);
      return entries;
    });
    expect(audit.find((e) => e.type === 'notify-failed')!.detail).toMatchObject({ channel: 'teams', attempt: 1 });
  });

  it('the card shrinks its data preview rather than go over the limit', () => {
    const notice = { kind: 'request' as const, executionId: 'exe_1', requestId: 1, status: 'pending' as const, approvals: [], ensemble: 'e', step: 's', prompt: 'p', data: { a: 'y'.repeat(100_000) }, approvers: [], minApprovals: 1, expiresAt: Date.now(), personal: [] };
    const body = teamsBody(notice);
    expect(new TextEncoder().encode(body).length).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(body).toContain('yyyy');
  });
});

describe('delegation bodies: oversized, deep, misspelt, replayed, concurrent', () => {
  it('answers 413, 400, 400, 409 and exactly one delegation, never a 500', async () => {
    const hook = hookOf('deleg-edge');
    const app = hitlApp('deleg-edge', ensemble(hook, '    inputs: { prompt: P, approvers: [a@example.com, b@example.com] }'));
    const { tokens } = await suspended(app, 'deleg-edge', hook);
    const a = tokens['a@example.com']!;
    const raw = (body: string) => app.request(`/callback/${a}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await raw(JSON.stringify({ delegateTo: 'd@example.com', reason: 'x'.repeat(10_000_000) }))).status).toBe(413);
    expect((await raw(`{"delegateTo":${'['.repeat(10_000)}${']'.repeat(10_000)}}`)).status).toBe(400);
    expect((await app.decide(a, { delegateTo: 'd@example.com', reasn: 'typo' })).status).toBe(400);
    const results = await Promise.all(['d1', 'd2', 'd3', 'd4', 'd5'].map((d) => app.decide(a, { delegateTo: `${d}@example.com` })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    expect((await app.decide(a, { delegateTo: 'd1@example.com' })).status).toBe(409);
  });
});
