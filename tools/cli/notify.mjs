import { need } from './show.mjs';

/** `notify <id> [--channel c]...`: sends the open request's notifications again, now. */
export async function notify(call, { args, flags }) {
  const id = need(args[0], 'notify <executionId> [--channel webhook]');
  const channels = [flags.channel].flat().filter(Boolean);
  const r = await call('POST', `/executions/${encodeURIComponent(id)}/notify`, channels.length ? { channels } : {});
  if (flags.json) return JSON.stringify(r, null, 2);
  return r.notifications.map((n) => `${n.channel}: ${n.status}${n.lastError ? ` (${n.lastError})` : ''}`).join('\n');
}
