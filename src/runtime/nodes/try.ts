import type { Outcome } from '../interpreter';
import type { Handler } from './handler';

/**
 * `type: try`: its steps; when one fails (a hitl step whose timeout policy is `fail` included),
 * `catch` runs with `${error}` ({code, message, step}) instead of the run failing; `finally` runs
 * after either. Output: the last output of the way taken. A failure in catch or finally fails
 * the node (after finally).
 */
export const tryNode: Handler<'try'> = async (node, frame, run, path) => {
  const inner = frame.under(node.segment);
  let outcome: Outcome = await run.list(node.body, inner);
  if (outcome.kind === 'blocked' || outcome.kind === 'stopped') return outcome;
  if (outcome.kind === 'failed') {
    run.patchNode(path, { caught: outcome.error });
    outcome = await run.list(node.catch, inner.withVars({ error: { code: outcome.error.code, message: outcome.error.message, step: outcome.error.step ?? null } }));
    if (outcome.kind === 'blocked' || outcome.kind === 'stopped') return outcome;
  }
  if (node.finally.length) {
    const after = await run.list(node.finally, inner);
    if (after.kind !== 'done') return after;
  }
  return outcome;
};
