import { need } from './show.mjs';

/** `cancel <id> [--reason text]`: cancels a suspended execution; its links answer 410 from then on. */
export async function cancel(call, { args, flags }) {
  const id = need(args[0], 'cancel <executionId> [--reason text]');
  const e = await call('POST', `/executions/${encodeURIComponent(id)}/cancel`, flags.reason ? { reason: flags.reason } : {});
  return flags.json ? JSON.stringify(e, null, 2) : `${e.executionId} ${e.status}`;
}
