import { describe, expect, it } from 'vitest';
import { eventually, fireAlarm, hitlApp, hitsAt, received, suspend, tokenOf } from './hitl-helpers';

const hostile = {
  title: '<script>alert(1)</script>',
  link: '<http://evil.example|click me>',
  mention: '<!channel> <@U123> *bold* _it_ ~s~ `code` ```fence```',
  mustache: '{{approveUrl}} {{#x}}y{{/x}}',
  long: 'x'.repeat(5000),
  unicode: 'Zoë 🚀 \u202Eevil',
};

describe('Slack', () => {
  it('posts Block Kit with escaped text, a preformatted data preview, metadata and URL buttons', async () => {
    const path = `/slack-${crypto.randomUUID()}`;
    const app = hitlApp('slack', `agents:
  - name: review
    agent: hitl
    inputs:
      data: \${input.payload}
      prompt: "Check <!here> \${input.payload.link}"
      metadata: { customer: \${input.payload.link}, amount: 12 }
    config:
      notificationChannel: slack
      notificationConfig: { webhookUrl: "\${env.RECEIVER}${path}" }
`);
    const id = await suspend(app, 'slack', { payload: hostile });
    const [hit] = await hitsAt(path, 1);
    const msg = hit.json;
    expect(msg.blocks.map((b: any) => b.type)).toEqual(['header', 'section', 'context', 'rich_text', 'section', 'actions']);
    expect(msg.blocks[0].text).toEqual({ type: 'plain_text', text: 'Approval required: slack / review', emoji: true });
    const prompt = msg.blocks[1].text;
    expect(prompt.type).toBe('mrkdwn');
    expect(prompt.text).toContain('&lt;!here&gt;');
    expect(prompt.text).toContain('&lt;http://evil.example|click me&gt;');
    expect(prompt.text).not.toMatch(/<!here>|<http/);
    expect(msg.blocks[2].elements[0].text).toContain(`Execution \`${id}\``);
    expect(msg.blocks[2].elements[0].text).toMatch(/expires <!date\^\d+\^\{date_short_pretty\} \{time\}\|[^>]+> \(in (1 d|23 h 59 min)\)/);
    const preview = msg.blocks[3].elements[0];
    expect(preview.type).toBe('rich_text_preformatted');
    expect(preview.elements[0].type).toBe('text');
    expect(preview.elements[0].text.length).toBeLessThanOrEqual(2500);
    expect(preview.elements[0].text).toContain('<script>alert(1)</script>');
    expect(msg.blocks[4].fields).toEqual([
      { type: 'mrkdwn', verbatim: true, text: '*customer*\n&lt;http://evil.example|click me&gt;' },
      { type: 'mrkdwn', verbatim: true, text: '*amount*\n12' },
    ]);
    const buttons = msg.blocks[5].elements;
    expect(buttons.map((b: any) => [b.text.text, b.style])).toEqual([['Approve', 'primary'], ['Reject', 'danger'], ['Review', undefined]]);
    const review = buttons[2].url as string;
    expect(review).toMatch(new RegExp(`^https://approvals\\.example\\.test/callback/${id}\\.[\\w-]{32}$`));
    expect(buttons[0].url).toBe(`${review}?action=approve`);
    expect(buttons[1].url).toBe(`${review}?action=reject`);
    expect(msg.text).not.toMatch(/<!here>/);
    // The Slack link is shared: whoever clicks states a name.
    const meta = await app.inspect(tokenOf(review));
    expect(meta.body.approver).toBeNull();
  });
});

describe('MailChannels email', () => {
  it('sends one personalization per approver with their own links, text + HTML, all escaped', async () => {
    const app = hitlApp('mail', `agents:
  - name: review
    agent: hitl
    inputs:
      data: \${input.payload}
      prompt: \${input.payload.title}
      approvers: [alice@example.com, "Bob <bob@example.com>"]
      metadata: { note: \${input.payload.mustache} }
`);
    const before = (await received('/mailchannels/send')).length;
    const id = await suspend(app, 'mail', { payload: hostile });
    const mail = await eventually(async () => { const r = await received('/mailchannels/send'); expect(r.length).toBe(before + 1); return r.at(-1)!; });
    expect(mail.headers['x-api-key']).toBe('mc-test-key');
    const body = mail.json;
    expect(body.from).toEqual({ email: 'hitl@example.com', name: 'Approvals' });
    expect(body.subject).toBe('Your approval is needed: mail / review');
    expect(body.personalizations.map((p: any) => p.to)).toEqual([[{ email: 'alice@example.com' }], [{ email: 'bob@example.com', name: 'Bob' }]]);
    const [a, b] = body.personalizations.map((p: any) => p.dynamic_template_data);
    expect(a.approveUrl).not.toBe(b.approveUrl);
    expect(a.approveUrl).toBe(`${a.reviewUrl}?action=approve`);
    expect((await app.inspect(tokenOf(a.reviewUrl))).body.approver).toBe('alice@example.com');
    expect((await app.inspect(tokenOf(b.reviewUrl))).body.approver).toBe('Bob <bob@example.com>');
    const [text, html] = body.content;
    expect(text).toMatchObject({ type: 'text/plain', template_type: 'mustache' });
    expect(html).toMatchObject({ type: 'text/html', template_type: 'mustache' });
    expect(text.value).toContain('Approve: {{{approveUrl}}}');
    expect(html.value).toContain('href="{{approveUrl}}"');
    expect(html.value).not.toContain('<script>');
    expect(html.value).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // Data cannot reach the template engine: only our own placeholders are mustache tags.
    expect(html.value.match(/\{\{[^}]*\}\}/g)).toEqual(['{{approveUrl}}', '{{rejectUrl}}', '{{reviewUrl}}']);
    expect(text.value.match(/\{\{\{?[^}]*\}\}\}?/g)).toEqual(['{{{reviewUrl}}}', '{{{approveUrl}}}', '{{{rejectUrl}}}']);
    expect((await app.audit(id)).find((e) => e.type === 'notified')?.detail).toMatchObject({ channel: 'email', attempt: 1 });
  });
});

describe('reminders and escalation', () => {
  const ensemble = (hook: string, extra: string) => `agents:
  - name: review
    agent: hitl
    inputs:
      data: 1
      prompt: Please
      approvers: [a@example.com, b@example.com]
      minApprovals: 2
${extra}
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`;

  it('reminds only approvers who have not decided, as many times as configured', async () => {
    const hook = `/r-${crypto.randomUUID()}`;
    const app = hitlApp('remind', ensemble(hook, '      remindAfter: 1\n      reminders: 2'));
    const id = await suspend(app, 'remind');
    const [first] = await hitsAt(hook, 1);
    await app.decide(tokenOf(first.json.approvers[0].callbackUrl), { approved: true });
    for (let n = 2; n <= 3; n++) {
      await new Promise((r) => setTimeout(r, 1050));
      await fireAlarm(id);
      await hitsAt(hook, n, id);
    }
    const hits = await received(hook);
    expect(hits.map((h) => h.json.kind)).toEqual(['request', 'reminder', 'reminder']);
    expect(hits[1].json.approvers.map((a: any) => a.approver)).toEqual(['b@example.com']);
    await new Promise((r) => setTimeout(r, 1100));
    await fireAlarm(id);
    expect(await received(hook)).toHaveLength(3);
    const reminders = (await app.audit(id)).filter((e) => e.type === 'reminder');
    expect(reminders.map((e) => e.detail)).toEqual([{ number: 1, of: 2, to: ['b@example.com'] }, { number: 2, of: 2, to: ['b@example.com'] }]);
  });

  it('escalateAfter adds approvers with their own links and notifies them', async () => {
    const hook = `/e-${crypto.randomUUID()}`;
    const app = hitlApp('esc', ensemble(hook, '      escalateAfter: 1\n      escalateTo: [boss@example.com]'));
    const id = await suspend(app, 'esc');
    const [first] = await hitsAt(hook, 1);
    await app.decide(tokenOf(first.json.approvers[0].callbackUrl), { approved: true });
    await new Promise((r) => setTimeout(r, 1050));
    const [, escalation] = await hitsAt(hook, 2, id);
    expect(escalation.json.kind).toBe('escalation');
    expect(escalation.json.approvers.map((a: any) => a.approver)).toEqual(['boss@example.com']);
    const bossToken = tokenOf(escalation.json.approvers[0].callbackUrl);
    expect((await app.inspect(bossToken)).body).toMatchObject({ approver: 'boss@example.com', approvers: ['a@example.com', 'b@example.com', 'boss@example.com'] });
    expect((await app.decide(bossToken, { approved: true })).body.status).toBe('approved');
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output.approvals.map((a: any) => a.approver)).toEqual(['a@example.com', 'boss@example.com']);
    expect((await app.audit(id)).find((e) => e.type === 'escalation')?.detail).toEqual({ added: ['boss@example.com'], reason: 'escalateAfter' });
  });

  it('onTimeout: escalate extends the deadline once for the added approvers, then times out', async () => {
    const hook = `/et-${crypto.randomUUID()}`;
    const app = hitlApp('esct', ensemble(hook, '      timeout: 1\n      onTimeout: escalate\n      escalateTo: [boss@example.com]'));
    const id = await suspend(app, 'esct');
    await new Promise((r) => setTimeout(r, 1050));
    await hitsAt(hook, 2, id);
    expect((await app.execution(id)).body.status).toBe('suspended');
    await new Promise((r) => setTimeout(r, 1050));
    await fireAlarm(id);
    const done = await app.until(id, 'completed');
    expect(done.steps[0].output).toMatchObject({ status: 'timeout', timedOut: true });
    expect((await app.audit(id)).map((e) => e.type)).toEqual(expect.arrayContaining(['escalation', 'timeout']));
  });
});

describe('separation of duties', () => {
  it('the requester cannot decide: 403 on their own link, on the shared link, and the page says so', async () => {
    const hook = `/s-${crypto.randomUUID()}`;
    const app = hitlApp('sod', `agents:
  - name: review
    agent: hitl
    inputs:
      data: 1
      prompt: Four eyes
      approvers: [\${input.author}, peer@example.com]
      requester: \${input.author}
    config: { notificationChannel: webhook, notificationConfig: { webhookUrl: "\${env.RECEIVER}${hook}" } }
`);
    await suspend(app, 'sod', { author: 'ann@example.com' });
    const [hit] = await hitsAt(hook, 1);
    const own = tokenOf(hit.json.approvers[0].callbackUrl);
    const self = await app.decide(own, { approved: true });
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe('SELF_APPROVAL');
    const viaShared = await app.decide(tokenOf(hit.json.callbackUrl), { approved: true, approver: 'ANN@example.com' });
    expect(viaShared.status).toBe(403);
    const page = await app.request(`/callback/${own}`, { headers: { accept: 'text/html' } });
    expect(await page.text()).toContain('You requested this, so you cannot approve or reject it.');
    const form = await app.request(`/callback/${own}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'approved=true' });
    expect(form.status).toBe(403);
    expect((await app.decide(tokenOf(hit.json.approvers[1].callbackUrl), { approved: true })).body.status).toBe('approved');
  });
});

describe('webhook signature', () => {
  it('is absent when HITL_WEBHOOK_SECRET is not set (and present, verified, in hitl-loop when it is)', async () => {
    const { env } = await import('cloudflare:test');
    const { webhookChannel } = await import('../../src/notify/webhook');
    const path = `/unsigned-${crypto.randomUUID()}`;
    const notice = { kind: 'request' as const, executionId: 'exe_1', requestId: 1, status: 'pending' as const, approvals: [], ensemble: 'e', step: 's', prompt: 'p', data: 1, approvers: [], minApprovals: 1, expiresAt: Date.now(), personal: [] };
    await webhookChannel.send(notice, { env: { ...env, HITL_WEBHOOK_SECRET: undefined }, config: { webhookUrl: `${env.RECEIVER}${path}` }, posted: [] });
    const [hit] = await received(path);
    expect(hit.json).toMatchObject({ executionId: 'exe_1', approvalData: 1 });
    expect(hit.headers['x-signature']).toBeUndefined();
  });
});
