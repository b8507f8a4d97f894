import type { NotificationChannel } from './channel';
import { NotifyError, postJson } from './channel';
import { escapeMrkdwn, prettyJson, relativeTime, truncate } from './escape';
import type { ApprovalNotice } from './notice';

// Slack Block Kit limits: header text 150, section text 3000, field 2000 (10 fields),
// button text 75, button url 3000, 50 blocks; we stay well inside them.
const PREVIEW = 2_500;

const title = (n: ApprovalNotice) =>
  n.kind === 'reminder' ? ':hourglass: Reminder: approval pending' : n.kind === 'escalation' ? ':rotating_light: Escalated approval' : ':bell: Approval required';

/**
 * The Slack message: header, prompt, execution id, a data preview, metadata, expiry countdown and
 * Approve / Reject / Review buttons (plain URLs to the review page: clicking never decides).
 * User text is mrkdwn-escaped, and the data preview is a preformatted rich-text block (no markup).
 */
export function slackMessage(n: ApprovalNotice) {
  const links = n.shared ?? n.personal[0];
  const expiresUnix = Math.floor(n.expiresAt / 1000);
  const fallbackDate = new Date(n.expiresAt).toISOString();
  const metadata = Object.entries(n.metadata ?? {}).slice(0, 10);
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`${title(n).replace(/:\w+: /, '')}: ${n.ensemble} / ${n.step}`, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(`${title(n).split(' ')[0]} ${escapeMrkdwn(n.prompt)}`, 3000) } },
    {
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: truncate(`Execution \`${escapeMrkdwn(n.executionId)}\` · needs ${n.minApprovals} approval(s) · expires <!date^${expiresUnix}^{date_short_pretty} {time}|${fallbackDate}> (${relativeTime(n.expiresAt)})`, 3000) },
      ],
    },
    { type: 'rich_text', elements: [{ type: 'rich_text_preformatted', elements: [{ type: 'text', text: truncate(prettyJson(n.data), PREVIEW) }] }] },
  ];
  if (metadata.length) {
    blocks.push({
      type: 'section',
      fields: metadata.map(([k, v]) => ({ type: 'mrkdwn', text: truncate(`*${escapeMrkdwn(k)}*\n${escapeMrkdwn(typeof v === 'string' ? v : JSON.stringify(v) ?? 'null')}`, 2000) })),
    });
  }
  if (n.approvers.length) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(`Approvers: ${escapeMrkdwn(n.approvers.join(', '))}`, 3000) }] });
  }
  if (links) {
    blocks.push({
      type: 'actions',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Approve' }, style: 'primary', url: links.approveUrl, action_id: 'approve' },
        { type: 'button', text: { type: 'plain_text', text: 'Reject' }, style: 'danger', url: links.rejectUrl, action_id: 'reject' },
        { type: 'button', text: { type: 'plain_text', text: 'Review' }, url: links.callbackUrl, action_id: 'review' },
      ],
    });
  }
  return { text: truncate(`${title(n).replace(/:\w+: /, '')}: ${escapeMrkdwn(n.ensemble)} / ${escapeMrkdwn(n.step)}: ${escapeMrkdwn(n.prompt)}`, 3000), blocks };
}

/** Slack incoming webhook: `notificationConfig.webhookUrl`, else `SLACK_WEBHOOK_URL`. */
export const slackChannel: NotificationChannel = {
  async send(n, { env, config }) {
    const url = (typeof config.webhookUrl === 'string' && config.webhookUrl) || (typeof env.SLACK_WEBHOOK_URL === 'string' && env.SLACK_WEBHOOK_URL);
    if (!url) throw new NotifyError('the slack channel needs notificationConfig.webhookUrl or SLACK_WEBHOOK_URL');
    await postJson(url, JSON.stringify(slackMessage(n)));
  },
};
