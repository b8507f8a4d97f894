import { createHmac } from 'node:crypto';
import { NotifyError, postJson, type NotificationChannel } from './channel';
import type { ApprovalNotice } from './notice';

/** The webhook body: spec 004's fields, plus ensemble, step, prompt, metadata and per-approver links. */
export function webhookPayload(notice: ApprovalNotice) {
  // The top-level links are the shared link (what a receiver may post to a team channel); each
  // approver's own link (personal, or batch) is only in `approvers`, under their name.
  const shared = notice.shared;
  return {
    executionId: notice.executionId,
    approvalData: notice.data,
    callbackUrl: shared?.callbackUrl,
    approveUrl: shared?.approveUrl,
    rejectUrl: shared?.rejectUrl,
    expiresAt: notice.expiresAt,
    kind: notice.kind,
    ensemble: notice.ensemble,
    step: notice.step,
    prompt: notice.prompt,
    metadata: notice.metadata ?? {},
    minApprovals: notice.minApprovals,
    approvers: notice.personal,
    ...(notice.inboxUrl ? { inboxUrl: notice.inboxUrl } : {}),
    // Several requests at once: `approvers` hold each one's batch link, `items` summarise them.
    ...(notice.batch ? { batch: { count: notice.batch.count, items: notice.batch.items, ...(notice.batch.truncated ? { more: notice.batch.truncated } : {}) } } : {}),
  };
}

/** `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, verifiable by the receiver (docs/approvals.md). */
export function signature(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

export const webhookChannel: NotificationChannel = {
  async send(notice, { env, config }) {
    // Nothing posted here can be edited: updates are for channels that keep message refs (Slack app).
    if (notice.kind === 'update') return;
    const url = typeof config.webhookUrl === 'string' ? config.webhookUrl : undefined;
    if (!url) throw new NotifyError('the webhook channel needs notificationConfig.webhookUrl');
    const body = JSON.stringify(webhookPayload(notice));
    const secret = env.HITL_WEBHOOK_SECRET;
    const headers: Record<string, string> = { 'user-agent': 'ensemble-hitl' };
    if (secret) headers['x-signature'] = signature(secret, body, Math.floor(Date.now() / 1000));
    await postJson(url, body, headers);
  },
};
