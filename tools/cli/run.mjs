import { CliError } from './client.mjs';
import { need } from './show.mjs';

/** `run <ensemble> [json]`: starts a run; prints its result, or what it waits on. */
export async function run(call, { args, flags }) {
  const name = need(args[0], "run <ensemble> ['{\"input\":1}']");
  let input = {};
  if (args[1] !== undefined) {
    try { input = JSON.parse(args[1]); } catch { throw new CliError(`the input is not JSON: ${args[1]}`); }
  }
  const r = await call('POST', `/ensembles/${encodeURIComponent(name)}`, input);
  if (flags.json) return JSON.stringify(r, null, 2);
  if (r.status === 'suspended' && r.pending.waitsFor) return `${r.executionId} suspended at ${r.pending.step}: waiting for the event ${r.pending.waitsFor.event} (key ${r.pending.waitsFor.key})`;
  if (r.status === 'suspended') return `${r.executionId} suspended at ${r.pending.step}: waiting on ${r.pending.approvers.join(', ') || 'anyone with the link'}`;
  return `${r.executionId} ${r.status}\n${JSON.stringify(r.output, null, 2)}`;
}
