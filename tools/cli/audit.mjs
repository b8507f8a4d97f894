import { need } from './show.mjs';
import { table } from './table.mjs';

/** `audit <id>`: the append-only audit log of an execution. */
export async function audit(call, { args, flags }) {
  const id = need(args[0], 'audit <executionId>');
  const log = await call('GET', `/executions/${encodeURIComponent(id)}/audit`);
  if (flags.json) return JSON.stringify(log, null, 2);
  return table(log.entries, [['#', (e) => e.seq], ['AT', (e) => e.at], ['EVENT', (e) => e.type], ['DETAIL', (e) => JSON.stringify(e.detail).slice(0, 160)]]);
}
