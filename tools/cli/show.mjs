import { CliError } from './client.mjs';
import { ago, table } from './table.mjs';

/** `show <id>`: one execution, its steps and what it waits on. */
export async function show(call, { args, flags }) {
  const id = need(args[0], 'show <executionId>');
  const e = await call('GET', `/executions/${encodeURIComponent(id)}`);
  if (flags.json) return JSON.stringify(e, null, 2);
  const lines = [`${e.executionId}  ${e.ensemble}  ${e.status}  started ${ago(e.createdAt)}`];
  if (e.error) lines.push(`error: ${e.error.code}: ${e.error.message}`);
  // Every request the run waits on (branches of a parallel, items of a foreach), oldest first.
  for (const p of e.requests ?? (e.pending ? [e.pending] : [])) {
    if (p.waitsFor) {
      lines.push(`waiting: ${p.step}, for the event ${p.waitsFor.event} (key ${p.waitsFor.key}), expires ${ago(p.expiresAt)}`);
      continue;
    }
    lines.push(`waiting: ${p.step}, ${p.approvals.length}/${p.minApprovals} approvals, expires ${ago(p.expiresAt)}`);
    // A prompt of several lines keeps them, indented under its label.
    lines.push(`  prompt: ${String(p.prompt).replace(/\r\n?|\n/g, '\n          ')}`);
    lines.push(`  approvers: ${p.approvers.join(', ') || 'anyone with the link'}`);
    if (p.waitingOn?.length) lines.push(`  not decided yet: ${p.waitingOn.join(', ')}`);
    for (const n of p.notifications ?? []) lines.push(`  notification ${n.channel}: ${n.status} after ${n.attempts} attempt(s)${n.lastError ? ` (${n.lastError})` : ''}`);
  }
  lines.push('', table(e.steps ?? [], [['STEP', (s) => s.path ?? s.name], ['STATUS', (s) => s.status], ['MS', (s) => s.durationMs], ['ERROR', (s) => s.error ? `${s.error.code}: ${s.error.message}` : '']]));
  return lines.join('\n');
}

export function need(value, usage) {
  if (!value) throw new CliError(`usage: npm run hitl -- ${usage}`);
  return value;
}
