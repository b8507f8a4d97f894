import type { NotificationChannel } from './channel';
import { oneLine, splitLines } from './escape';

/** Development channel: prints the links where `wrangler dev` shows its logs. */
export const consoleChannel: NotificationChannel = {
  async send(notice) {
    // Nothing posted here can be edited: updates are for channels that keep message refs (Slack app).
    if (notice.kind === 'update') return;
    // Text from the run is quoted line by line (`[hitl] | `), so no prompt can print a line that
    // looks like ours (`[hitl] someone: review http://evil`).
    const quoted = (text: string) => splitLines(text.trim()).map((l) => `[hitl] | ${oneLine(l)}`);
    const lines = [
      `[hitl] ${notice.kind === 'request' ? 'Approval required' : notice.kind === 'reminder' ? 'Reminder: approval pending' : 'Escalated approval'}: ${oneLine(notice.ensemble)} / ${oneLine(notice.step)} (execution ${notice.executionId})`,
      ...quoted(notice.prompt),
      `[hitl] expires ${new Date(notice.expiresAt).toISOString()}; needs ${notice.minApprovals} approval(s)`,
      ...notice.personal.map((l) => `[hitl] ${oneLine(l.approver ?? '')}: review ${l.callbackUrl}`),
      ...(notice.shared ? [`[hitl] anyone (types a name, one decision): review ${notice.shared.callbackUrl}`] : []),
    ];
    console.log(lines.join('\n'));
  },
};
