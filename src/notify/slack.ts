import type { ActionsBlock, Button, KnownBlock } from '@slack/types';
import type { NotificationChannel } from './channel';
import { NotifyError, postJson } from './channel';
import { escapedWithin, escapeMrkdwn, escapePlainSlack, prettyJson, relativeTime, truncateUnits } from './escape';
import { dataText } from '../pages/render-data';
import type { ApprovalNotice } from './notice';
import { PostedMessage, slackApi, slackAppConfigured } from './slack-api';
import { actionValue } from './slack-ref';

// Slack Block Kit limits: header text 150, section text 3000, field 2000 (10 fields), button text
// 75, button url 3000, button value 2000, 50 blocks; we stay inside them. Lengths are UTF-16 units
// (truncateUnits), and user text is cut before it is escaped, to fit once escaped (escapedWithin).
const LIMIT = { header: 150, section: 3_000, field: 2_000, fallback: 3_000 } as const;
const PREVIEW = 2_500;

const OUTCOME: Record<Exclude<ApprovalNotice['status'], 'pending'>, string> = {
  approved: ':white_check_mark: Approved',
  rejected: ':x: Rejected',
  timeout: ':hourglass: Expired without a decision',
  cancelled: ':no_entry_sign: Cancelled',
  // A wait for an event posts nothing; here for completeness of the statuses.
  received: ':inbox_tray: Event received',
};

const title = (n: ApprovalNotice) =>
  n.status !== 'pending' ? OUTCOME[n.status]
    : n.kind === 'reminder' ? ':hourglass: Reminder: approval pending'
      : n.kind === 'escalation' ? ':rotating_light: Escalated approval' : n.kind === 'delegation' ? ':handshake: Approval handed to you' : ':bell: Approval required';

const VIA: Record<string, string> = { link: 'personal link', shared: 'typed name, not verified', slack: 'Slack', access: 'Cloudflare Access' };

/**
 * How people act on the message: `links` (incoming webhook) are URL buttons to the review page,
 * where clicking never decides; `interactive` (Slack app) buttons send the clicking user's
 * identity to `/slack/interactions` and carry only an opaque reference, never a bearer token.
 */
export type SlackMode = 'links' | 'interactive';

function actions(n: ApprovalNotice, mode: SlackMode): ActionsBlock | undefined {
  if (n.status !== 'pending') return undefined;
  // Several requests at once: a button would decide one of them only.
  if (n.batch) return undefined;
  if (mode === 'interactive') {
    const value = actionValue(n.executionId, n.requestId);
    return {
      type: 'actions',
      block_id: 'hitl-decide',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Approve' }, style: 'primary', action_id: 'approve', value },
        { type: 'button', text: { type: 'plain_text', text: 'Reject' }, style: 'danger', action_id: 'reject', value },
      ],
    };
  }
  // A Slack channel is read by everyone in it: only a shared link goes there, never an approver's
  // personal or batch link (which decides as them).
  const links = n.shared;
  if (!links) return undefined;
  const elements: Button[] = [
    { type: 'button', text: { type: 'plain_text', text: 'Approve' }, style: 'primary', url: links.approveUrl, action_id: 'approve' },
    { type: 'button', text: { type: 'plain_text', text: 'Reject' }, style: 'danger', url: links.rejectUrl, action_id: 'reject' },
    { type: 'button', text: { type: 'plain_text', text: 'Review' }, url: links.callbackUrl, action_id: 'review' },
  ];
  return { type: 'actions', elements };
}

/** Who decided so far, and how each identity was established. */
function decisions(n: ApprovalNotice): KnownBlock | undefined {
  if (n.approvals.length === 0) return undefined;
  // One line per decision, whatever the text holds: a reason cannot draw lines that look like decisions.
  const oneLine = (text: string, max: number) => escapedWithin(text.replace(/[\r\n\u0085\u2028\u2029\t]+/g, ' ').trim(), max, escapeMrkdwn);
  const lines = n.approvals.slice(0, 20).map((a) =>
    `${a.approved ? ':white_check_mark:' : ':x:'} ${oneLine(a.approver, 200)} (${a.via ? VIA[a.via] : a.verified ? 'verified' : 'not verified'})${a.reason ? ` — reason: “${oneLine(a.reason, 300)}”` : ''}`);
  return { type: 'section', text: { type: 'mrkdwn', text: wholeLines(lines, LIMIT.section), verbatim: true } };
}

/** As many whole lines as fit in `max` units, then how many were left out: no cut inside a line's markup. */
function wholeLines(lines: string[], max: number): string {
  const more = (left: number) => (left ? `\n…and ${left} more` : '');
  let kept = 0;
  while (kept < lines.length && lines.slice(0, kept + 1).join('\n').length + more(lines.length - kept - 1).length <= max) kept++;
  return `${lines.slice(0, kept).join('\n')}${more(lines.length - kept)}`;
}

/**
 * The Slack message: header, prompt, execution id, a data preview, metadata, expiry countdown,
 * the decisions so far, and the actions while the request is open (the outcome once it closed).
 * User text is mrkdwn-escaped, and the data preview is a preformatted rich-text block (no markup).
 */
export function slackMessage(n: ApprovalNotice, mode: SlackMode = 'links') {
  const expiresUnix = Math.floor(n.expiresAt / 1000);
  const fallbackDate = new Date(n.expiresAt).toISOString();
  const metadata = Object.entries(n.metadata ?? {}).slice(0, 10);
  const heading = title(n);
  const plainHeading = heading.replace(/:\w+: /, '');
  const emoji = `${heading.split(' ')[0]} `;
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncateUnits(`${plainHeading}: ${n.ensemble} / ${n.step}`, LIMIT.header), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: `${emoji}${escapedWithin(n.prompt, LIMIT.section - emoji.length, escapeMrkdwn)}`, verbatim: true } },
    {
      type: 'context',
      // Bounded by construction (an id of ours, a count, a date): nothing here to cut.
      elements: [
        { type: 'mrkdwn', verbatim: true, text: `Execution \`${escapedWithin(n.executionId, 100, escapeMrkdwn)}\` · needs ${n.minApprovals} approval(s) · ${n.status === 'pending' ? 'expires' : 'expiry was'} <!date^${expiresUnix}^{date_short_pretty} {time}|${fallbackDate}>${n.status === 'pending' ? ` (${relativeTime(n.expiresAt)})` : ''}` },
      ],
    },
    // Rich text is shown as written (no escaping), so only its length is bounded.
    { type: 'rich_text', elements: [{ type: 'rich_text_preformatted', elements: [{ type: 'text', text: truncateUnits(n.format === 'json' ? prettyJson(n.data) : dataText(n.data, PREVIEW), PREVIEW) }] }] },
  ];
  if (metadata.length) {
    blocks.push({
      type: 'section',
      fields: metadata.map(([k, v]) => {
        const key = `*${escapedWithin(k, 100, escapeMrkdwn)}*\n`;
        return { type: 'mrkdwn' as const, verbatim: true, text: `${key}${escapedWithin(typeof v === 'string' ? v : JSON.stringify(v) ?? 'null', LIMIT.field - key.length, escapeMrkdwn)}` };
      }),
    });
  }
  if (n.approvers.length) {
    // The inbox link is markup of ours: the approvers are cut to leave it whole.
    const inbox = n.inboxUrl && n.status === 'pending' ? ` · <${n.inboxUrl}|Everything waiting on you>` : '';
    const label = 'Approvers: ';
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', verbatim: true, text: `${label}${escapedWithin(n.approvers.join(', '), LIMIT.section - label.length - inbox.length, escapeMrkdwn)}${inbox}` }] });
  }
  const decided = decisions(n);
  if (decided) blocks.push(decided);
  const act = actions(n, mode);
  if (act) blocks.push(act);
  else if (n.status !== 'pending') blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*${heading}*` } });
  // The fallback text shows in notifications, where clients link URLs on their own: those are broken too.
  const about = `${plainHeading}: ${escapedWithin(n.ensemble, 100, escapePlainSlack)} / ${escapedWithin(n.step, 100, escapePlainSlack)}: `;
  return { text: `${about}${escapedWithin(n.prompt, LIMIT.fallback - about.length, escapePlainSlack)}`, blocks };
}

const SlackRef = PostedMessage;

/**
 * Slack. As an app (`SLACK_BOT_TOKEN` + `SLACK_SIGNING_SECRET`, and `notificationConfig.channel`):
 * `chat.postMessage` with interactive buttons, and `chat.update` of every posted message after each
 * decision and when the request closes. Otherwise an incoming webhook
 * (`notificationConfig.webhookUrl`, else `SLACK_WEBHOOK_URL`) with link buttons, which cannot be edited.
 */
export const slackChannel: NotificationChannel = {
  async send(n, { env, config, posted }) {
    if (slackAppConfigured(env, config)) {
      if (n.kind === 'update') {
        for (const ref of posted) {
          const { channel, ts } = SlackRef.parse(ref);
          await slackApi(env, 'chat.update', { channel, ts, ...slackMessage(n, 'interactive') }, PostedMessage);
        }
        return;
      }
      const message = await slackApi(env, 'chat.postMessage', { channel: config.channel, ...slackMessage(n, 'interactive') }, PostedMessage);
      return { ref: { channel: message.channel, ts: message.ts } };
    }
    if (n.kind === 'update') return;
    const url = (typeof config.webhookUrl === 'string' && config.webhookUrl) || (typeof env.SLACK_WEBHOOK_URL === 'string' && env.SLACK_WEBHOOK_URL);
    if (!url) throw new NotifyError('the slack channel needs notificationConfig.webhookUrl or SLACK_WEBHOOK_URL (or, as a Slack app, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and notificationConfig.channel)');
    await postJson(url, JSON.stringify(slackMessage(n)));
  },
};
