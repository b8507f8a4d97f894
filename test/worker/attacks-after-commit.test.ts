import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { beginOf, eventually, fireAlarm, hitlApp, hitsAt, indexSettled, inObject, storedRun, stubOf, suspend, tokenOf } from './hitl-helpers';

// HITLState.soon() sends notifications and writes the index after the object has answered, outside
// any alarm. If the isolate dies before soon() finishes, the alarm set before answering must still
// bring everything about: these tests look at what that alarm would find at that moment.

/** Starts a run that suspends and notifies a webhook taking 3 s to answer; its execution id. */
async function slowWebhookRun(name: string): Promise<string> {
  const hook = `/slow/3000?k=${crypto.randomUUID()}`;
  const app = hitlApp(name, `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Slow channel, approvers: [a@example.com], timeout: 3600 }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
  const start = await app.run(name);
  expect(start.status).toBe(202);
  return start.body.executionId as string;
}

describe('the safety net behind soon()', () => {
  it('a notification soon() claimed and is still sending stays covered by the alarm (it is re-sent if the isolate dies mid-send)', async () => {
    const id = await slowWebhookRun('r13-claim');
    // begin() answered; soon() claims the webhook row right after, and its send takes 3 s. The
    // safety-net alarm runs meanwhile, as it would on a fresh instance.
    await eventually(async () => {
      const status = await inObject(stubOf(id), async (_i, state) => state.storage.sql.exec<{ status: string }>("SELECT status FROM outbox WHERE channel = 'webhook'").one().status);
      expect(status).toBe('sending');
    });
    await fireAlarm(id);
    const seen = await inObject(stubOf(id), async (_instance, state) => {
      const row = state.storage.sql.exec<{ status: string; next_at: number }>("SELECT status, next_at FROM outbox WHERE channel = 'webhook'").one();
      return { row, alarm: await state.storage.getAlarm() };
    });
    // Still in flight: if the isolate died now, the claim goes stale after 60 s and must be picked
    // up then, not at the request's expiry (an hour away; then it is dropped as no longer pending).
    expect(seen.row.status).toBe('sending');
    expect(seen.alarm).not.toBeNull();
    expect(seen.alarm!).toBeLessThanOrEqual(seen.row.next_at + 65_000);
  }, 20_000);

  it('a decision that does not close the request: if soon() never runs, the alarm still writes the index soon', async () => {
    const hook = `/r13-idx-${crypto.randomUUID()}`;
    const app = hitlApp('r13-idx', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Two of two, approvers: [a@example.com, b@example.com], minApprovals: 2, timeout: 3600 }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    const id = await suspend(app, 'r13-idx');
    const [hit] = await hitsAt(hook, 1, id);
    // Let the begin() work settle: index written, nothing pending.
    await indexSettled(id);
    // The isolate dies right after the object answers the next call: soon() never runs.
    await inObject(stubOf(id), async (instance) => { instance.soon = () => undefined; });
    const link = hit.json.approvers.find((a: any) => a.approver === 'a@example.com').callbackUrl;
    const decided = await app.decide(tokenOf(link), { approved: true });
    expect(decided.status).toBe(200);
    expect(decided.body.status).toBe('pending');
    const seen = await inObject(stubOf(id), async (instance, state) => ({ versions: instance.store.indexVersions(), alarm: await state.storage.getAlarm() }));
    // The decision changed the index row (a@ no longer pending). Before this change it was written
    // before answering; now only soon() writes it, and nothing else is due for an hour.
    const covered = seen.versions.indexed >= seen.versions.version || (seen.alarm !== null && seen.alarm <= Date.now() + 10_000);
    expect({ ...seen.versions, alarmInMs: seen.alarm === null ? null : seen.alarm - Date.now(), covered }).toMatchObject({ covered: true });
  }, 20_000);

  // begin() seals and hashes the links before it writes anything (so that it writes in one
  // transaction); two begins of one run meeting in that await must still open one request.
  it('two begin() calls of the same run at once open one request, and both answer its links', async () => {
    const app = hitlApp('r13-begin', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Twice, approvers: [a@example.com, b@example.com], timeout: 3600, returnLinks: true }
`);
    const start = await app.run('r13-begin');
    expect(start.status).toBe(202);
    const { state, definition } = await storedRun(start.body.executionId);
    const other = `exe_${crypto.randomUUID().replaceAll('-', '')}`;
    const stub = beginOf(other);
    const [a, b] = (await Promise.all([stub.begin(definition, state), stub.begin(definition, state)])).map((r) => r.pending);
    expect(a.links.personal).toHaveLength(2);
    expect(b.links).toEqual(a.links);
    const rows = await inObject(stubOf(other), async (_i, s) => ({
      requests: s.storage.sql.exec('SELECT id FROM request').toArray().length,
      tokens: s.storage.sql.exec('SELECT hash FROM token').toArray().length,
    }));
    expect(rows).toEqual({ requests: 1, tokens: 2 });
  });

  // Found in review: begin() only looked for an open request, so the same begin again after the
  // request was decided opened a new one and wrote the suspended state over a finished run.
  it('begin() again after the request was decided reopens nothing and rolls nothing back', async () => {
    const app = hitlApp('r13-begin-again', `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Once, approvers: [a@example.com], timeout: 3600, returnLinks: true }
`);
    const start = await app.run('r13-begin-again');
    expect(start.status).toBe(202);
    const id = start.body.executionId as string;
    const { state, definition } = await storedRun(id);
    // While it is open, a repeated begin answers the same links.
    const stub = beginOf(id);
    expect((await stub.begin(definition, state)).pending.links).toEqual(start.body.pending.links);
    expect((await app.decide(tokenOf(start.body.pending.links.personal[0].url), { approved: true })).body.status).toBe('approved');
    await app.until(id, 'completed');
    const again = (await stub.begin(definition, state)).pending;
    const after = await app.execution(id);
    const requests = await inObject(stubOf(id), async (_i, s) => s.storage.sql.exec('SELECT id FROM request').toArray());
    expect({ status: after.body.status, requests: requests.length, links: again.links ?? null }).toEqual({ status: 'completed', requests: 1, links: null });
  });

  // The index is written side by side with the notifications: a slow endpoint must not hold back
  // what lists and /stats say.
  it('a notification endpoint that takes 3 s does not delay the executions index', async () => {
    const id = await slowWebhookRun('r13-slowidx');
    const row = await eventually(async () => {
      const r = await env.DB!.prepare('SELECT status FROM executions WHERE id = ?').bind(id).first<{ status: string }>();
      expect(r).not.toBeNull();
      return r!;
    }, 1500);
    expect(row.status).toBe('suspended');
    // ... while the webhook is still being sent.
    const status = await inObject(stubOf(id), async (_i, state) => state.storage.sql.exec<{ status: string }>("SELECT status FROM outbox WHERE channel = 'webhook'").one().status);
    expect(status).toBe('sending');
  }, 20_000);
});

