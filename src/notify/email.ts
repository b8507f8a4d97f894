import type { NotificationChannel } from './channel';
import { NotifyError } from './channel';
import { escapeHtml, escapeMustacheText, headerSafe, prettyJson, relativeTime, truncate } from './escape';
import { isEmail, parseAddress, sendMail, type MailMessage } from './mailchannels';
import { noticeHeading, type ApprovalLinks, type ApprovalNotice } from './notice';
import { dataHtml, dataText } from '../pages/render-data';
import { sameIdentity } from '../identity/normalize';
import { jsonBytes } from '../limits';

const DATA_LIMIT = 20_000;

const heading = (n: ApprovalNotice) => noticeHeading(n.kind);

/** The email body: user data escaped; links are mustache variables filled per personalization. */
export function emailContent(n: ApprovalNotice): MailMessage['content'] {
  const format = n.format ?? 'auto';
  const data = format === 'json' ? truncate(prettyJson(n.data), DATA_LIMIT) : dataText(n.data, DATA_LIMIT);
  // The HTML part shows the data as the page does (a table, Markdown, a diff), when it is not huge.
  const dataPart = jsonBytes(n.data) <= DATA_LIMIT ? dataHtml(n.data, format) : `<pre ${'style="white-space:pre-wrap"'}>${escapeHtml(data)}</pre>`;
  const meta = n.metadata && Object.keys(n.metadata).length ? truncate(prettyJson(n.metadata), DATA_LIMIT) : undefined;
  const expires = `${new Date(n.expiresAt).toISOString()} (${relativeTime(n.expiresAt)})`;
  const text = [
    `${heading(n)}: ${n.ensemble} / ${n.step}`,
    '',
    escapeMustacheText(n.prompt),
    '',
    'Data:',
    escapeMustacheText(data),
    ...(meta ? ['', 'Context:', escapeMustacheText(meta)] : []),
    '',
    `Execution ${n.executionId}; expires ${expires}.`,
    '',
    ...(n.batch ? [`Review and decide the ${n.batch.count} requests on one page: {{{reviewUrl}}}`] : [
      'Review and decide: {{{reviewUrl}}}',
      'Approve: {{{approveUrl}}}',
      'Reject: {{{rejectUrl}}}']),
    '',
    'Opening a link decides nothing: you confirm on the page.',
    ...(n.inboxUrl ? ['', escapeMustacheText(`Everything waiting on you: ${n.inboxUrl}`)] : []),
  ].join('\n');
  const pre = 'style="background:#f4f4f5;padding:12px;white-space:pre-wrap;word-break:break-word;font-family:monospace"';
  const button = (color: string) => `style="display:inline-block;padding:10px 18px;margin-right:8px;background:${color};color:#fff;text-decoration:none;border-radius:6px"`;
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;max-width:640px">
<h2>${escapeHtml(heading(n))}: ${escapeHtml(n.ensemble)} / ${escapeHtml(n.step)}</h2>
<p style="white-space:pre-wrap">${escapeHtml(n.prompt)}</p>
<h3>Details</h3><div style="overflow-wrap:anywhere">${emailStyled(dataPart)}</div>
${meta ? `<h3>Context</h3><pre ${pre}>${escapeHtml(meta)}</pre>` : ''}
<p style="color:#555">Execution ${escapeHtml(n.executionId)} · expires ${escapeHtml(expires)}</p>
<p>${n.batch ? `<a href="{{reviewUrl}}" ${button('#2563eb')}>Review the ${n.batch.count} requests</a>` : `<a href="{{approveUrl}}" ${button('#16a34a')}>Approve</a><a href="{{rejectUrl}}" ${button('#dc2626')}>Reject</a><a href="{{reviewUrl}}">Review</a>`}</p>
<p style="color:#555;font-size:13px">Opening a link decides nothing: you confirm on the page.${n.inboxUrl ? ` <a href="${escapeHtml(n.inboxUrl)}">Everything waiting on you</a>` : ''}</p>
</body></html>`;
  return [
    { type: 'text/plain', value: text, template_type: 'mustache' },
    { type: 'text/html', value: html, template_type: 'mustache' },
  ];
}

/** Mail clients drop <style>: the data's tables and diffs get inline styles. */
function emailStyled(html: string): string {
  return html
    .replaceAll('<table class="data">', '<table class="data" style="border-collapse:collapse;width:100%">')
    .replaceAll('<th scope="row">', '<th scope="row" style="text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid #e5e7eb;color:#333">')
    .replaceAll('<td>', '<td style="vertical-align:top;padding:4px 8px;border-bottom:1px solid #e5e7eb">')
    .replaceAll('<pre class="diff">', '<pre class="diff" style="background:#f4f4f5;padding:8px;white-space:pre-wrap;font-family:monospace">')
    .replaceAll('class="d-add"', 'class="d-add" style="background:#dcfce7;text-decoration:none"')
    .replaceAll('class="d-del"', 'class="d-del" style="background:#fee2e2;text-decoration:none"')
    .replaceAll('<pre class="json">', '<pre class="json" style="background:#f4f4f5;padding:8px;white-space:pre-wrap;font-family:monospace">')
    .replaceAll('<div class="text">', '<div class="text" style="white-space:pre-wrap">');
}

/** Addresses of `notificationConfig.to` that are not approvers (they get the shared link). */
export function extraRecipients(config: { to?: unknown }, approvers: string[]): string[] {
  const to = Array.isArray(config.to) ? config.to : typeof config.to === 'string' ? config.to.split(',') : [];
  const out: string[] = [];
  for (const address of to.map(String).filter(isEmail)) {
    if (!approvers.some((a) => sameIdentity(a, address)) && !out.some((o) => sameIdentity(o, address))) out.push(address.trim());
  }
  return out;
}

const vars = (l: ApprovalLinks) => ({ reviewUrl: l.callbackUrl, approveUrl: l.approveUrl, rejectUrl: l.rejectUrl });

/**
 * Email via MailChannels: one personalization per approver with their own links; addresses in
 * `notificationConfig.to` that are not approvers get the shared link (they state a name).
 */
export const emailChannel: NotificationChannel = {
  async send(n, { env, config }) {
    // Nothing posted here can be edited: updates are for channels that keep message refs (Slack app).
    if (n.kind === 'update') return;
    const from = (typeof config.from === 'string' && config.from) || env.EMAIL_FROM;
    if (!from) throw new NotifyError('the email channel needs notificationConfig.from or EMAIL_FROM');
    const personalizations: MailMessage['personalizations'] = n.personal
      .filter((l) => l.approver && isEmail(l.approver))
      .map((l) => ({ to: [parseAddress(l.approver!)], dynamic_template_data: vars(l) }));
    // Never someone else's personal link: recipients who are not approvers get the shared one.
    if (n.shared && n.kind === 'request') {
      for (const address of extraRecipients(config, n.approvers)) personalizations.push({ to: [parseAddress(address)], dynamic_template_data: vars(n.shared) });
    }
    if (personalizations.length === 0) throw new NotifyError('the email channel has no recipient: give approvers email addresses or notificationConfig.to');
    const subject = headerSafe(
      typeof config.subject === 'string' && config.subject
        ? `${n.kind === 'reminder' ? 'Reminder: ' : n.kind === 'escalation' ? 'Escalated: ' : ''}${config.subject}`
        : `${heading(n)}: ${n.ensemble} / ${n.step}`,
    );
    await sendMail(env, { personalizations, from: parseAddress(from), subject: truncate(subject, 250), content: emailContent(n) });
  },
};
