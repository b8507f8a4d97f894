import { describe, expect, it } from 'vitest';
import { auth } from './helpers';
import { eventually, fireAlarm, hitlApp, hitsAt, received, suspend, tokenOf } from './hitl-helpers';

/** A hitl step notifying a webhook at a unique path, then an http step we can count. */
function ensemble(hook: string, hitl: string, after = '') {
  return `agents:
  - name: approve
    agent: hitl
${hitl}
  - name: next
    condition: \${approve.output.approved}
    operation: http
    config: { url: "\${env.RECEIVER}${hook}/next", body: { status: \${approve.output.status} } }
${after}`;
}

const webhook = (hook: string) => `    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }`;

/** Suspends a run and returns its webhook payload (the links approvers get). */
async function suspended(app: ReturnType<typeof hitlApp>, name: string, hook: string, input = {}) {
  const id = await suspend(app, name, input);
  const [hit] = await hitsAt(hook, 1);
  return { id, payload: hit.json };
}

describe('decisions are claimed exactly once', () => {
  it('50 concurrent POSTs on one token: one is accepted and the next step runs once', async () => {
    const hook = `/c-${crypto.randomUUID()}`;
    const app = hitlApp('race', ensemble(hook, `    inputs: { data: 1, prompt: Race, approvers: [solo@example.com] }\n${webhook(hook)}`));
    const { id, payload } = await suspended(app, 'race', hook);
    const token = tokenOf(payload.approvers[0].callbackUrl);
    const results = await Promise.all(Array.from({ length: 50 }, () => app.decide(token, { approved: true })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    expect(new Set(results.filter((r) => r.status === 409).map((r) => r.body.error.code))).toEqual(new Set(['TOKEN_USED']));
    await app.until(id, 'completed');
    await new Promise((r) => setTimeout(r, 200));
    expect(await received(`${hook}/next`)).toHaveLength(1);
    expect((await app.audit(id)).filter((e) => e.type === 'decision')).toHaveLength(1);
  });

  it('the shared link and personal links together still decide once', async () => {
    const hook = `/c2-${crypto.randomUUID()}`;
    const app = hitlApp('race2', ensemble(hook, `    inputs: { data: 1, prompt: Race, approvers: [a@example.com, b@example.com] }\n${webhook(hook)}`));
    const { id, payload } = await suspended(app, 'race2', hook);
    const links = [payload.callbackUrl, ...payload.approvers.map((a: any) => a.callbackUrl)].map(tokenOf);
    const results = await Promise.all(links.flatMap((t, i) => Array.from({ length: 10 }, (_, j) => app.decide(t, { approved: true, approver: `p${i}-${j}@example.com` }))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    await app.until(id, 'completed');
    expect(await received(`${hook}/next`)).toHaveLength(1);
  });
});

describe('quorum', () => {
  it('needs minApprovals distinct approvers; the same person twice does not count', async () => {
    const hook = `/q-${crypto.randomUUID()}`;
    const app = hitlApp('quorum', ensemble(hook, `    inputs:
      data: { amount: 5 }
      prompt: Two of three
      approvers: [a@example.com, b@example.com, c@example.com]
      minApprovals: 2
${webhook(hook)}`));
    const { id, payload } = await suspended(app, 'quorum', hook);
    expect(payload.minApprovals).toBe(2);
    const [a, b] = payload.approvers.map((x: any) => tokenOf(x.callbackUrl));
    const first = await app.decide(a, { approved: true, approver: 'someone-else@example.com' });
    expect(first.body).toMatchObject({ status: 'pending', decision: { approver: 'a@example.com', verified: true } });
    const shared = tokenOf(payload.callbackUrl);
    const impostor = await app.decide(shared, { approved: true, approver: 'A@example.com' });
    expect(impostor.status).toBe(409);
    expect(impostor.body.error.code).toBe('DUPLICATE_APPROVER');
    expect((await app.execution(id)).body).toMatchObject({ status: 'suspended', pending: { approvals: [{ approver: 'a@example.com' }] } });
    const second = await app.decide(b, { approved: true });
    expect(second.body.status).toBe('approved');
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output.approvals.map((x: any) => [x.approver, x.verified])).toEqual([['a@example.com', true], ['b@example.com', true]]);
  });

  it('any rejection rejects, even after approvals', async () => {
    const hook = `/q2-${crypto.randomUUID()}`;
    const app = hitlApp('veto', ensemble(hook, `    inputs: { data: 1, prompt: All, approvers: [a@example.com, b@example.com, c@example.com], minApprovals: 3 }\n${webhook(hook)}`));
    const { id, payload } = await suspended(app, 'veto', hook);
    const [a, b, c] = payload.approvers.map((x: any) => tokenOf(x.callbackUrl));
    await app.decide(a, { approved: true });
    const veto = await app.decide(b, { approved: false, reason: 'risky' });
    expect(veto.body.status).toBe('rejected');
    const late = await app.decide(c, { approved: true });
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'ALREADY_DECIDED', details: { status: 'rejected', decidedBy: ['b@example.com'] } });
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output).toMatchObject({ status: 'rejected', rejected: true, approved: false, reason: 'risky' });
    expect(done.steps[1].status).toBe('skipped');
  });
});

describe('timeouts', () => {
  const timeoutEnsemble = (hook: string, onTimeout = '') => ensemble(hook, `    inputs: { data: 1, prompt: Quick, approvers: [a@example.com], timeout: 1${onTimeout} }\n${webhook(hook)}`, `  - name: escalate
    condition: \${approve.output.status === 'timeout'}
    operation: http
    config: { url: "\${env.RECEIVER}${hook}/escalate", body: { timedOut: \${approve.output.timedOut} } }
`);

  it('by default the run continues with status timeout, so an escalation step runs', async () => {
    const hook = `/t-${crypto.randomUUID()}`;
    const app = hitlApp('slow', timeoutEnsemble(hook));
    const { id, payload } = await suspended(app, 'slow', hook);
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(id);
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output).toEqual({ status: 'timeout', approved: false, rejected: false, timedOut: true, approvals: [] });
    expect(done.steps[1].status).toBe('skipped');
    expect(done.steps[2].status).toBe('completed');
    expect((await received(`${hook}/escalate`))[0].json).toEqual({ timedOut: true });
    const late = await app.decide(tokenOf(payload.approvers[0].callbackUrl), { approved: true });
    expect(late.status).toBe(410);
    expect(late.body.error.code).toBe('EXPIRED');
    expect((await app.audit(id)).map((e) => e.type)).toContain('timeout');
  });

  it.each([
    ['reject', 'completed', { status: 'rejected', rejected: true, timedOut: true }],
    ['approve', 'completed', { status: 'approved', approved: true, timedOut: true }],
  ])('onTimeout: %s', async (policy, runStatus, output) => {
    const hook = `/t-${policy}-${crypto.randomUUID()}`;
    const app = hitlApp('slow', timeoutEnsemble(hook, `, onTimeout: ${policy}`));
    const { id } = await suspended(app, 'slow', hook);
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(id);
    const done = await app.until(id, runStatus);
    expect(done.steps[0].output).toMatchObject(output);
  });

  it('onTimeout: fail fails the run', async () => {
    const hook = `/t-fail-${crypto.randomUUID()}`;
    const app = hitlApp('slow', timeoutEnsemble(hook, ', onTimeout: fail'));
    const { id } = await suspended(app, 'slow', hook);
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(id);
    const done = await app.until(id, 'failed');
    expect(done.error).toMatchObject({ step: 'approve', code: 'HITL_TIMEOUT' });
  });
});

describe('links and bodies', () => {
  it('GET and HEAD never change state, whatever ?action says', async () => {
    const hook = `/g-${crypto.randomUUID()}`;
    const app = hitlApp('look', ensemble(hook, `    inputs: { data: { secret: 1 }, prompt: Look, approvers: [a@example.com], metadata: { amount: 3 } }\n${webhook(hook)}`));
    const { id, payload } = await suspended(app, 'look', hook);
    const before = await app.audit(id);
    for (const url of [payload.callbackUrl, payload.approveUrl, payload.rejectUrl, payload.approvers[0].approveUrl, payload.approvers[0].rejectUrl]) {
      const path = new URL(url).pathname + new URL(url).search;
      for (const method of ['GET', 'HEAD']) {
        for (const accept of ['application/json', 'text/html']) {
          const res = await app.request(path, { method, headers: { accept } });
          expect(res.status).toBe(200);
        }
      }
    }
    const meta = await app.inspect(tokenOf(payload.approvers[0].approveUrl));
    expect(meta.body).toMatchObject({ approver: 'a@example.com', metadata: { amount: 3 }, status: 'pending', approvals: [], tokenUsed: null });
    expect(await app.audit(id)).toEqual(before);
    expect((await app.execution(id)).body.status).toBe('suspended');
  });

  it('unknown, forged, malformed tokens are 404; bad bodies are 400; cancelled links are 410', async () => {
    const hook = `/b-${crypto.randomUUID()}`;
    const app = hitlApp('links', ensemble(hook, `    inputs: { data: 1, prompt: P, approvers: [a@example.com] }\n${webhook(hook)}`));
    const { id, payload } = await suspended(app, 'links', hook);
    const token = tokenOf(payload.approvers[0].callbackUrl);
    const forged = `${id}.${'A'.repeat(32)}`;
    expect((await app.inspect(forged)).status).toBe(404);
    expect((await app.decide(forged, { approved: true })).status).toBe(404);
    expect((await app.inspect('nonsense')).status).toBe(404);
    expect((await app.inspect(`exe_${'0'.repeat(32)}.${'B'.repeat(32)}`)).status).toBe(404);
    const bad = await app.decide(token, { approved: 'maybe' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_INPUT');
    expect(bad.body.error.details[0].path).toBe('approved');
    expect((await app.decide(token, {})).status).toBe(400);
    const notJson = await app.request(`/callback/${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);

    const cancel = await app.request(`/executions/${id}/cancel`, { method: 'POST', headers: auth, body: JSON.stringify({ reason: 'no longer needed' }) });
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as any).status).toBe('cancelled');
    // The step that waited reads cancelled too, not suspended.
    const cancelled = (await app.execution(id)).body;
    expect(cancelled.steps.at(-1)).toMatchObject({ status: 'cancelled', output: null });
    expect(JSON.stringify(cancelled.steps)).not.toContain('suspended');
    const after = await app.decide(token, { approved: true });
    expect(after.status).toBe(410);
    expect(after.body.error.code).toBe('CANCELLED');
    expect((await app.request(`/executions/${id}/cancel`, { method: 'POST', headers: auth })).status).toBe(409);
    expect((await app.audit(id)).at(-1)).toMatchObject({ type: 'cancelled', detail: { reason: 'no longer needed' } });
  });

  it('form posts decide too, and CORS is open on /callback', async () => {
    const hook = `/f-${crypto.randomUUID()}`;
    const app = hitlApp('form', ensemble(hook, `    inputs: { data: 1, prompt: P, approvers: [a@example.com] }\n${webhook(hook)}`));
    const { id, payload } = await suspended(app, 'form', hook);
    const token = tokenOf(payload.approvers[0].callbackUrl);
    const pre = await app.request(`/callback/${token}`, { method: 'OPTIONS', headers: { origin: 'https://ui.example', 'access-control-request-method': 'POST' } });
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    const invalid = await app.request(`/callback/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'approved=maybe' });
    expect(invalid.status).toBe(400);
    const page = await invalid.text();
    expect(page).toContain('<h1>This decision could not be recorded</h1>');
    expect(page).toMatch(/<li>approved: [^<]+<\/li>/);
    const res = await app.request(`/callback/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://ui.example' }, body: 'approved=false&reason=nope' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.text()).toContain('rejected');
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output).toMatchObject({ status: 'rejected', reason: 'nope' });
  });
});

describe('runs with more than one approval', () => {
  it('a later hitl step suspends again with new links', async () => {
    const hook = `/m-${crypto.randomUUID()}`;
    const app = hitlApp('twice', `agents:
  - name: first
    agent: hitl
    inputs: { data: 1, prompt: First, approvers: [a@example.com] }
${webhook(hook)}
  - name: second
    agent: hitl
    inputs: { data: \${first.output.approvals}, prompt: Second, approvers: [b@example.com] }
${webhook(hook)}
output:
  both: \${first.output.approved && second.output.approved}
`);
    const { id, payload } = await suspended(app, 'twice', hook);
    await app.decide(tokenOf(payload.approvers[0].callbackUrl), { approved: true });
    const again = await app.until(id, 'suspended');
    expect(again.pending.step).toBe('second');
    const [, second] = await hitsAt(hook, 2);
    expect(second.json).toMatchObject({ step: 'second', prompt: 'Second', approvers: [{ approver: 'b@example.com' }] });
    expect((await app.decide(tokenOf(payload.approvers[0].callbackUrl), { approved: true })).status).toBe(409);
    await app.decide(tokenOf(second.json.approvers[0].callbackUrl), { approved: true });
    expect((await app.until(id, 'completed')).output).toEqual({ both: true });
  });
});

describe('notifications', () => {
  it('a failing webhook is retried with backoff and audited; the approval still stands', async () => {
    const app = hitlApp('dead', ensemble('/x', `    inputs: { data: 1, prompt: P, approvers: [a@example.com] }
    config: { notificationChannel: [webhook, console], notificationConfig: { webhookUrl: "\${env.RECEIVER}/status/503" } }`));
    const start = await app.run('dead');
    const id = start.body.executionId;
    const audit = await eventually(async () => {
      await fireAlarm(id);
      const entries = await app.audit(id);
      expect(entries.filter((e) => e.type === 'notify-failed').length).toBeGreaterThanOrEqual(3);
      return entries;
    }, 8000);
    const failures = audit.filter((e) => e.type === 'notify-failed');
    expect(failures.map((e) => e.detail.attempt).slice(0, 3)).toEqual([1, 2, 3]);
    expect(failures[0].detail).toMatchObject({ channel: 'webhook', error: expect.stringContaining('503') });
    expect(audit.find((e) => e.type === 'notified')?.detail).toMatchObject({ channel: 'console' });
    expect((await app.execution(id)).body.status).toBe('suspended');
  });
});
