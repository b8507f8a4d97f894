import type { NotificationChannel } from './channel';
import { oneLine, splitLines } from './escape';

/** Development channel: prints the links where `wrangler dev` shows its logs. */
export const consoleChannel: NotificationChannel = {
  async send(notice, { env }) {
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
    // Links are bearer credentials: printed only in local development (`npm start` sets HITL_DEV).
    // Deployed, the log says a request is waiting and where to look, without a link.
    if (env.HITL_DEV !== 'true') {
      console.log(JSON.stringify({ level: 'info', event: 'approval-requested', executionId: notice.executionId, ensemble: notice.ensemble, step: notice.step, kind: notice.kind, approvers: notice.approvers.length, links: 'not logged outside local development (HITL_DEV); see GET /executions/:id or POST /executions/:id/notify' }));
      return;
    }
    console.log(lines.join('\n'));
  },
};
