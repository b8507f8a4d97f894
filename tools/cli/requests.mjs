import { CliError } from './client.mjs';
import { need } from './show.mjs';

// What an operator does to one open request: more time (`extend`), or another approver
// (`reassign`). The step is its path as `show` prints it (`each[2]/ok`).

const path = (id, step, action) => `/executions/${encodeURIComponent(id)}/requests/${encodeURIComponent(step)}/${action}`;
const summary = (p) => `${p.step}: approvers ${p.approvers.join(', ') || 'anyone with the link'}, expires ${p.expiresAt}`;

/** `extend <id> <step> --by 2h | --until 2026-12-31T12:00:00Z` */
export async function extend(call, { args, flags }) {
  const usage = 'extend <executionId> <step> --by <duration> | --until <ISO time>';
  const id = need(args[0], usage);
  const step = need(args[1], usage);
  if ((flags.by === undefined) === (flags.until === undefined)) throw new CliError(`usage: npm run hitl -- ${usage}`);
  const p = await call('POST', path(id, step, 'extend'), flags.by !== undefined ? { by: /^\d+$/.test(String(flags.by)) ? Number(flags.by) : String(flags.by) } : { until: String(flags.until) });
  return flags.json ? JSON.stringify(p, null, 2) : summary(p);
}

/** `reassign <id> <step> --replace a@x --with b@x | --add c@x` */
export async function reassign(call, { args, flags }) {
  const usage = 'reassign <executionId> <step> --replace <approver> --with <approver> | --add <approver>';
  const id = need(args[0], usage);
  const step = need(args[1], usage);
  const body = flags.add !== undefined && flags.replace === undefined && flags.with === undefined ? { add: String(flags.add) }
    : flags.replace !== undefined && flags.with !== undefined && flags.add === undefined ? { replace: String(flags.replace), with: String(flags.with) }
      : undefined;
  if (!body) throw new CliError(`usage: npm run hitl -- ${usage}`);
  const p = await call('POST', path(id, step, 'reassign'), body);
  return flags.json ? JSON.stringify(p, null, 2) : summary(p);
}
