import type { Handler } from './handler';

/**
 * `type: while`: its body while the condition holds, checked before each iteration (a body step's
 * `${name.output}` there is the previous iteration's; `.executed` is false before the first). The
 * iterations started are kept, so a walk after a decision goes on where it was. Output: the last
 * iteration's last output. Past `maxIterations` the run fails (`WHILE_LIMIT`).
 */
export const whileNode: Handler<'while'> = async (node, frame, run, path) => {
  const rec = run.node(path)!;
  let k = rec.iteration ?? 0;
  // The iteration under way when the run last stopped (waiting, or interrupted).
  if (k > 0 && !rec.iterationDone) {
    const outcome = await run.list(node.body, frame.iteration(node.segment, node.id, k - 1));
    if (outcome.kind !== 'done') return outcome;
    if (!run.patchNode(path, { iterationDone: true, last: outcome.output })) return { kind: 'done', output: null };
  }
  for (;;) {
    // The condition reads the last iteration's results: evaluated as if in it.
    const test = run.evaluate(node.test, k > 0 ? frame.iteration(node.segment, node.id, k - 1) : frame, path, 'condition');
    if (!test.ok) return { kind: 'failed', error: test.error };
    if (!test.value) return { kind: 'done', output: run.node(path)!.last ?? null };
    if (k >= node.maxIterations) {
      return { kind: 'failed', error: { step: path, code: 'WHILE_LIMIT', message: `while '${path}' went on for ${k} iterations (maxIterations ${node.maxIterations})` } };
    }
    run.patchNode(path, { iteration: k + 1, iterationDone: false });
    const outcome = await run.list(node.body, frame.iteration(node.segment, node.id, k));
    if (outcome.kind !== 'done') return outcome;
    // Kept failed if it no longer fits (the interpreter then reads the record).
    if (!run.patchNode(path, { iterationDone: true, last: outcome.output })) return { kind: 'done', output: null };
    k++;
  }
};
