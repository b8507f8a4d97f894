import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { hitlApp, hitsAt, indexSettled, inObject, stubOf, suspend, tokenOf } from './hitl-helpers';

// Found in review: the executions index written by soon() (and the alarm) when two writes of one
// execution overlap, an older write finishing after a newer one.

/** Replaces the object's D1 binding with one whose n-th batch() does what `plan[n]` says. */
async function scriptD1(id: string, plan: ('slow' | 'fail' | 'ok')[]) {
  await inObject(stubOf(id), async (instance) => {
    const db = instance.env.DB as D1Database;
    let n = 0;
    const wrapped = {
      prepare: (sql: string) => db.prepare(sql),
      batch: async (stmts: D1PreparedStatement[]) => {
        const step = plan[n++] ?? 'ok';
        if (step === 'fail') throw new Error('D1_ERROR: network connection lost');
        if (step === 'slow') await new Promise((r) => setTimeout(r, 600));
        return db.batch(stmts);
      },
    };
    instance.env = { ...instance.env, DB: wrapped };
  });
}

async function open(name: string, hook: string, approvers: string, min: number) {
  const app = hitlApp(name, `agents:
  - name: approve
    agent: hitl
    inputs: { data: 1, prompt: Review, approvers: [${approvers}], minApprovals: ${min}, timeout: 3600 }
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
  const id = await suspend(app, name);
  const [hit] = await hitsAt(hook, 1, id);
  await indexSettled(id);
  const link = (who: string) => tokenOf(hit.json.approvers.find((a: any) => a.approver === who).callbackUrl);
  return { app, id, link };
}

describe('overlapping index writes of one execution', () => {
  it('an older write landing after a newer one failed keeps the retry armed: the alarm brings the index up to date', async () => {
    const hook = `/rv2-retry-${crypto.randomUUID()}`;
    const { app, id, link } = await open(`rv2-retry-${crypto.randomUUID().slice(0, 6)}`, hook, 'a@example.com, b@example.com, c@example.com', 3);
    // soon() of the first decision writes version v1 slowly; soon() of the second writes v2 and D1 fails.
    await scriptD1(id, ['slow', 'fail']);
    expect((await app.decide(link('a@example.com'), { approved: true })).body.status).toBe('pending');
    expect((await app.decide(link('b@example.com'), { approved: true })).body.status).toBe('pending');
    await new Promise((r) => setTimeout(r, 1500));
    const seen = await inObject(stubOf(id), async (instance, state) => ({
      versions: instance.store.indexVersions(),
      retryAt: state.storage.sql.exec<{ t: number | null }>('SELECT index_retry_at AS t FROM run').one().t,
      alarm: await state.storage.getAlarm(),
    }));
    const row = await env.DB!.prepare('SELECT pending_approvers FROM executions WHERE id = ?').bind(id).first<{ pending_approvers: string }>();
    // The object knows v2 is not indexed yet: a retry must stay armed (it was cleared by the late v1 write).
    const covered = seen.versions.indexed >= seen.versions.version || (seen.alarm !== null && seen.alarm <= Date.now() + 10_000);
    expect({ indexRow: JSON.parse(row!.pending_approvers), ...seen.versions, retryAt: seen.retryAt, alarmInS: seen.alarm === null ? null : Math.round((seen.alarm - Date.now()) / 1000), covered })
      .toMatchObject({ covered: true });
  }, 20_000);

  it('an older write landing after a newer one does not reopen a closed approval request in the index', async () => {
    const hook = `/rv2-order-${crypto.randomUUID()}`;
    const { app, id, link } = await open(`rv2-order-${crypto.randomUUID().slice(0, 6)}`, hook, 'a@example.com, b@example.com', 2);
    // First decision: its write (request still open) is slow. Second decision closes the request and
    // completes the run; its write lands first.
    await scriptD1(id, ['slow']);
    expect((await app.decide(link('a@example.com'), { approved: true })).body.status).toBe('pending');
    expect((await app.decide(link('b@example.com'), { approved: true })).body.status).toBe('approved');
    await app.until(id, 'completed');
    await new Promise((r) => setTimeout(r, 1500));
    await indexSettled(id);
    const execution = await env.DB!.prepare('SELECT status FROM executions WHERE id = ?').bind(id).first<{ status: string }>();
    const request = await env.DB!.prepare('SELECT outcome, closed_at FROM approval_requests WHERE execution_id = ?').bind(id).first<{ outcome: string | null; closed_at: number | null }>();
    // The object counts everything as indexed, so nothing would ever write this again: it must be right.
    expect({ execution: execution!.status, outcome: request!.outcome, closed: request!.closed_at !== null }).toEqual({ execution: 'completed', outcome: 'approved', closed: true });
  }, 20_000);
});
