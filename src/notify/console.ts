import type { NotificationChannel } from './channel';

/** Development channel: prints the links where `wrangler dev` shows its logs. */
export const consoleChannel: NotificationChannel = {
  async send(notice) {
    // Nothing posted here can be edited: updates are for channels that keep message refs (Slack app).
    if (notice.kind === 'update') return;
    const lines = [
      `[hitl] ${notice.kind === 'request' ? 'Approval required' : notice.kind === 'reminder' ? 'Reminder: approval pending' : 'Escalated approval'}: ${notice.ensemble} / ${notice.step} (execution ${notice.executionId})`,
      `[hitl] ${notice.prompt.trim().replaceAll('\n', '\n[hitl] ')}`,
      `[hitl] expires ${new Date(notice.expiresAt).toISOString()}; needs ${notice.minApprovals} approval(s)`,
      ...notice.personal.map((l) => `[hitl] ${l.approver}: review ${l.callbackUrl}`),
      ...(notice.shared ? [`[hitl] anyone (states a name): review ${notice.shared.callbackUrl}`] : []),
    ];
    console.log(lines.join('\n'));
  },
};
