import { ago, table } from './table.mjs';

/** `list [--status s] [--ensemble e] [--approver a] [--limit n] [--cursor c]`: executions, newest first. */
export async function list(call, { flags }) {
  const query = new URLSearchParams();
  for (const key of ['status', 'ensemble', 'approver', 'limit', 'cursor', 'since', 'until']) if (flags[key]) query.set(key, flags[key]);
  const page = await call('GET', `/executions?${query}`);
  if (flags.json) return JSON.stringify(page, null, 2);
  const out = table(page.executions, [
    ['EXECUTION', (e) => e.executionId],
    ['ENSEMBLE', (e) => e.ensemble],
    ['STATUS', (e) => e.status],
    ['STARTED', (e) => ago(e.createdAt)],
    ['WAITING ON', (e) => !e.pending ? '' : e.pending.waitsFor && !e.pending.approvers.length ? `${e.pending.step}: event ${e.pending.waitsFor.event} (key ${e.pending.waitsFor.key})` : `${e.pending.step}: ${e.pending.approvers.join(', ')}`],
    ['EXPIRES', (e) => e.pending ? ago(e.pending.expiresAt) : ''],
  ]);
  return page.cursor ? `${out}\n(more: --cursor ${page.cursor})` : out;
}
