import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { decide, execution, notificationsOf, receivedAt, runEnsemble, stepOf } from './spec-driver';

const unique = (s: string) => `${s} ${crypto.randomUUID().slice(0, 8)}`;

async function suspended(name: string, input: unknown) {
  const res = await runEnsemble(name, input);
  expect(res.status).toBe(202);
  return res.body.executionId as string;
}

describe('content-approval (think -> hitl x2 -> http publish | email rejection)', () => {
  it('approve: both editors approve, the post is published', async () => {
    const topic = unique('edge computing');
    const id = await suspended('content-approval', { topic });
    const done = await decide(id, 'approve');
    expect(done.status).toBe('completed');
    expect(done.output).toEqual({ status: 'approved', published: true });
    expect(stepOf(done, 'generate').output).toBe(`Draft: Write about ${topic}`);
    expect(stepOf(done, 'approve').output.approvals.map((a: any) => [a.approver, a.verified])).toEqual([['editor@example.com', true], ['brand@example.com', true]]);
    const [published] = await receivedAt('/cms/publish', topic);
    expect(published.body).toBe(`Draft: Write about ${topic}`);
    expect(stepOf(done, 'notify-rejection').status).toBe('skipped');
    // The model was called as an OpenAI-compatible API with the key.
    const [model] = await receivedAt('/openai/v1/chat/completions', topic);
    expect(model.headers.authorization).toBe('Bearer sk-local-test');
    expect(model.json.messages).toEqual([{ role: 'user', content: `Write about ${topic}` }]);
  });

  it('reject: the content team is emailed the reason and feedback', async () => {
    const id = await suspended('content-approval', { topic: unique('rejected') });
    const done = await decide(id, 'reject');
    expect(done.output).toEqual({ status: 'rejected', published: false });
    expect(stepOf(done, 'publish').status).toBe('skipped');
    expect(stepOf(done, 'notify-rejection').output).toMatchObject({ sent: true, to: ['content-team@example.com'] });
    const mails = (await receivedAt('/mailchannels/send')).filter((m) => m.json.subject === 'Content rejected' && m.json.content[0].value.includes('Reason: not now'));
    expect(mails.length).toBeGreaterThan(0);
    expect(mails.at(-1).json.content[0].value).toBe('Reason: not now\nFeedback: try again\n');
  });

  it('timeout: nothing is published or emailed', async () => {
    const id = await suspended('content-approval', { topic: unique('late') });
    const done = await decide(id, 'timeout');
    expect(done.output).toEqual({ status: 'timeout', published: false });
    expect(stepOf(done, 'publish').status).toBe('skipped');
    expect(stepOf(done, 'notify-rejection').status).toBe('skipped');
  });
});

describe('transaction-approval (hyphenated names, auto-approve script, manual review)', () => {
  it('low risk is auto-approved and processed without suspending', async () => {
    const res = await runEnsemble('transaction-approval', { transaction: { amount: 50, customer: 'small-co' } });
    expect(res.status).toBe(200);
    expect(res.body.output).toEqual({ auto: true, approved: true, processed: true });
    expect(stepOf(res.body, 'risk-check').output).toEqual({ risk_score: 0.1, factors: [] });
    expect(stepOf(res.body, 'auto-approve').output).toEqual({ approved: true, auto: true, riskScore: 0.1 });
    expect(stepOf(res.body, 'manual-review').status).toBe('skipped');
    const processed = await receivedAt('/payments/process', 'small-co');
    expect(processed.at(-1).json).toEqual({ amount: 50, customer: 'small-co' });
  });

  it.each([
    ['approve', { auto: false, approved: true, processed: true }],
    ['reject', { auto: false, approved: false, processed: false }],
    ['timeout', { auto: false, approved: false, processed: false }],
  ] as const)('high risk goes to manual review: %s', async (path, output) => {
    const customer = unique('big-co');
    const id = await suspended('transaction-approval', { transaction: { amount: 25000, customer } });
    const done = await decide(id, path);
    expect(done.output).toEqual(output);
    expect(stepOf(done, 'auto-approve').status).toBe('skipped');
    expect((await receivedAt('/payments/process', customer)).length).toBe(path === 'approve' ? 1 : 0);
  });

  it('the reviewers get the metadata the spec names', async () => {
    const customer = unique('meta-co');
    const id = await suspended('transaction-approval', { transaction: { amount: 12000, customer } });
    const pending = await execution(id);
    expect(pending.pending).toMatchObject({ step: 'manual-review', approvers: ['risk@example.com', 'finance@example.com'] });
    await decide(id, 'approve');
    const mails = (await notificationsOf(id)).filter((r) => r.path === '/mailchannels/send');
    expect(mails[0].json.content[0].value).toContain(`"customer": "${customer}"`);
    expect(mails[0].json.content[0].value).toContain('"risk_score": 0.9');
  });
});

describe('code-review (code scripts, conditional review, merge)', () => {
  it.each([
    ['approve', { checks: true, review: 'approved', merged: true }],
    ['reject', { checks: true, review: 'rejected', merged: false }],
    ['timeout', { checks: true, review: 'timeout', merged: false }],
  ] as const)('%s', async (path, output) => {
    const pr = Math.floor(Math.random() * 1e6);
    const id = await suspended('code-review', { diff: '+const x = 1;', repo: 'acme/app', pr_number: pr });
    const done = await decide(id, path);
    expect(done.output).toEqual(output);
    const merges = await receivedAt(`/github/repos/acme/app/pulls/${pr}/merge`);
    expect(merges.length).toBe(path === 'approve' ? 1 : 0);
    if (merges[0]) expect(merges[0].method).toBe('PUT');
  });

  it('failing checks skip the review and complete at once', async () => {
    const res = await runEnsemble('code-review', { diff: '+debugger;', repo: 'acme/app', pr_number: 1 });
    expect(res.status).toBe(200);
    expect(res.body.output).toEqual({ checks: false, review: undefined, merged: false });
    expect(stepOf(res.body, 'review').status).toBe('skipped');
  });
});

describe('timeout-escalation', () => {
  it('a timeout sends the escalation email', async () => {
    const id = await suspended('timeout-escalation', { ticket: unique('T') });
    const done = await decide(id, 'timeout');
    expect(done.output).toEqual({ status: 'timeout', escalated: true });
    expect(stepOf(done, 'handle-timeout').output).toMatchObject({ sent: true, to: ['escalations@example.com'], subject: 'Approval timeout' });
  });

  it('an answer in time escalates nothing', async () => {
    const id = await suspended('timeout-escalation', { ticket: unique('T') });
    const done = await decide(id, 'approve');
    expect(done.output).toEqual({ status: 'approved', escalated: false });
  });
});

describe('rejection-tracking (data: D1)', () => {
  it('a rejection is inserted into the rejections table, objects as JSON text', async () => {
    const doc = { title: unique('doc'), pages: 3 };
    const id = await suspended('rejection-tracking', { document: doc });
    const done = await decide(id, 'reject');
    expect(done.output).toEqual({ status: 'rejected', logged: true });
    const row = await env.DB!.prepare('SELECT data, reason, timestamp FROM rejections WHERE id = ?').bind(stepOf(done, 'log-rejection').output.lastRowId).first<any>();
    expect(JSON.parse(row.data)).toEqual(doc);
    expect(row.reason).toBe('not now');
    expect(Math.abs(Date.parse(row.timestamp) - Date.now())).toBeLessThan(60_000);
  });

  it.each(['approve', 'timeout'] as const)('%s writes no row', async (path) => {
    const doc = { title: unique('doc') };
    const id = await suspended('rejection-tracking', { document: doc });
    const done = await decide(id, path);
    expect(done.output.logged).toBe(false);
    const found = await env.DB!.prepare('SELECT COUNT(*) AS n FROM rejections WHERE data LIKE ?').bind(`%${doc.title}%`).first<{ n: number }>();
    expect(found!.n).toBe(0);
  });
});

describe('expense, marketing campaign, data export', () => {
  it.each(['approve', 'reject', 'timeout'] as const)('expense-approval: %s', async (path) => {
    const id = await suspended('expense-approval', { amount: 120, category: 'travel', manager_email: 'manager@example.com' });
    const done = await decide(id, path);
    expect(done.output).toEqual({ status: path === 'approve' ? 'approved' : path === 'reject' ? 'rejected' : 'timeout', approved: path === 'approve' });
    expect(stepOf(done, 'approve-expense').input.data).toEqual({ amount: 120, category: 'travel' });
  });

  it.each(['approve', 'reject', 'timeout'] as const)('marketing-campaign: %s (two approvals needed)', async (path) => {
    const product = unique('Widget');
    const id = await suspended('marketing-campaign', { product });
    const done = await decide(id, path);
    expect(done.output.status).toBe(path === 'approve' ? 'approved' : path === 'reject' ? 'rejected' : 'timeout');
    expect(done.output.campaign).toBe(`Draft: Write a launch campaign for ${product}`);
    if (path === 'approve') expect(stepOf(done, 'approve-campaign').output.approvals).toHaveLength(2);
  });

  it.each(['approve', 'reject', 'timeout'] as const)('data-export: %s, with a D1 preview and a PII check', async (path) => {
    const id = await suspended('data-export', { query: 'SELECT email, name FROM users' });
    const pending = await execution(id);
    expect(pending.steps[1].output.detected).toBe(true);
    const done = await decide(id, path);
    expect(done.output.pii).toBe(true);
    expect(typeof done.output.rows).toBe('number');
    expect(stepOf(done, 'approve-export').input.data).toEqual({ query: 'SELECT email, name FROM users', row_count: done.output.rows, includes_pii: true });
  });
});

describe('config-style suspends (slack, email, webhook)', () => {
  it.each(['approve', 'reject', 'timeout'] as const)('slack-approval: %s', async (path) => {
    const id = await suspended('slack-approval', { topic: unique('t'), author: 'ann@example.com' });
    const done = await decide(id, path);
    expect(done.output.status).toBe(path === 'approve' ? 'approved' : path === 'reject' ? 'rejected' : 'timeout');
    expect((await receivedAt('/slack', id)).length).toBe(1);
  });

  it.each(['approve', 'reject', 'timeout'] as const)('email-approval: %s', async (path) => {
    const id = await suspended('email-approval', { topic: unique('t') });
    const done = await decide(id, path);
    expect(done.output.status).toBe(path === 'approve' ? 'approved' : path === 'reject' ? 'rejected' : 'timeout');
    const [mail] = (await notificationsOf(id)).filter((r) => r.path === '/mailchannels/send');
    expect(mail.json.subject).toBe('Approval Required');
    expect(mail.json.from).toEqual({ email: 'noreply@example.com' });
    expect(mail.json.personalizations.map((p: any) => p.to[0].email)).toEqual(['approver@example.com']);
  });

  it.each(['approve', 'reject', 'timeout'] as const)('webhook-approval: %s', async (path) => {
    const id = await suspended('webhook-approval', { topic: unique('t'), author: 'ann' });
    const done = await decide(id, path);
    expect(done.output.status).toBe(path === 'approve' ? 'approved' : path === 'reject' ? 'rejected' : 'timeout');
    expect(done.output.published).toBe(path === 'approve');
  });
});
