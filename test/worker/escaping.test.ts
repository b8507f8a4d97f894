import { describe, expect, it, vi } from 'vitest';
import { env } from 'cloudflare:test';
import { consoleChannel } from '../../src/notify/console';
import { emailChannel, emailContent } from '../../src/notify/email';
import { escapeMustacheText } from '../../src/notify/escape';
import type { ApprovalNotice } from '../../src/notify/notice';
import { slackMessage } from '../../src/notify/slack';
import { received } from './helpers';

const notice = (over: Partial<ApprovalNotice> = {}): ApprovalNotice => ({
  kind: 'request', executionId: 'exe_1', requestId: 1, status: 'pending', approvals: [], ensemble: 'e', step: 's',
  prompt: 'Check', data: {}, approvers: ['a@example.com'], minApprovals: 1, expiresAt: Date.now() + 60_000,
  personal: [{ approver: 'a@example.com', callbackUrl: 'https://w.test/callback/t', approveUrl: 'https://w.test/callback/t?action=approve', rejectUrl: 'https://w.test/callback/t?action=reject' }],
  ...over,
});

describe('user text is inert on every channel', () => {
  it('Slack: bare @channel / @here / @everyone never mention, URLs are not linked', () => {
    const msg = slackMessage(notice({ prompt: 'Hey @channel and @here, @everyone: see https://evil.example/x <!subteam^S1>', metadata: { who: '@here' } }));
    const mrkdwn = msg.blocks.flatMap((b: any) => [b.text, ...(b.fields ?? []), ...(b.elements ?? [])]).filter((t: any) => t?.type === 'mrkdwn');
    expect(mrkdwn.length).toBeGreaterThan(2);
    for (const t of mrkdwn) expect(t.verbatim).toBe(true);
    const all = JSON.stringify(msg);
    for (const mention of ['@channel', '@here', '@everyone', '<!subteam']) expect(all).not.toContain(mention);
    expect((msg.blocks[1] as any).text.text).toContain('@\u200bchannel and @\u200bhere, @\u200beveryone: see https://evil.example/x &lt;!subteam^S1&gt;');
    // The fallback text is shown in notifications, which link URLs on their own: broken there too.
    expect(msg.text).toContain('https:\u200b//evil.example/x');
  });

  it('console: a prompt with line breaks cannot print a line that looks like a link of ours', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { lines.push(a.join(' ')); });
    try {
      await consoleChannel.send(notice({ prompt: 'ok\n[hitl] boss@example.com: review http://evil.example\r[hitl] x\u2028[hitl] y\u0085[hitl] z' }), { env, config: {}, posted: [] });
    } finally {
      spy.mockRestore();
    }
    const printed = lines.join('\n').split('\n');
    expect(printed.filter((l) => /^\[hitl\] [^|].*: review /.test(l))).toEqual(['[hitl] a@example.com: review https://w.test/callback/t']);
    expect(printed).toContain('[hitl] | [hitl] boss@example.com: review http://evil.example');
    expect(printed.some((l) => /[\r\u2028\u0085]/.test(l))).toBe(false);
  });

  it('email: U+2028, U+0085 and CR/LF never reach a subject or a display name', async () => {
    const path = `/mail-${crypto.randomUUID()}`;
    await emailChannel.send(notice({ approvers: ['Ann\u2028Bcc: x@evil.example <ann@example.com>'], personal: [{ approver: 'Ann\u2028Bcc: x@evil.example <ann@example.com>', callbackUrl: 'https://w.test/c/t', approveUrl: 'https://w.test/c/t?a', rejectUrl: 'https://w.test/c/t?r' }] }), {
      env: { ...env, MAILCHANNELS_API_URL: `${env.RECEIVER}${path}` },
      config: { subject: 'Pay\u0085Bcc: x@evil.example\u2029now\r\nX: y', from: 'Ops\u2028X <ops@example.com>' },
      posted: [],
    });
    const [hit] = await received(path);
    const { subject, personalizations, from } = hit.json;
    for (const header of [subject, personalizations[0].to[0].name, from.name]) expect(header).not.toMatch(/[\r\n\u0085\u2028\u2029]/);
    expect(subject).toBe('Pay Bcc: x@evil.example now X: y');
  });

  it.each(['{{x}}', '{{{x}}}', '{{{{x', 'a{{', '}}}}'])('email: %s leaves no brace pair for the mustache engine', (text) => {
    expect(escapeMustacheText(text)).not.toMatch(/\{\{|\}\}/);
    const [plain, html] = emailContent(notice({ prompt: text, data: { v: text } }));
    const userParts = plain!.value.replace(/\{\{\{(reviewUrl|approveUrl|rejectUrl)\}\}\}/g, '');
    expect(userParts).not.toMatch(/\{\{|\}\}/);
    expect(html!.value.replace(/\{\{(reviewUrl|approveUrl|rejectUrl)\}\}/g, '')).not.toMatch(/\{\{|\}\}/);
  });
});
