import type { Handler } from './handler';

/** `type: branch`: `then` when the condition holds, else `else`; the way taken is kept. Output: the last output of that way. */
export const branch: Handler<'branch'> = async (node, frame, run, path) => {
  if (run.node(path)!.taken === undefined) {
    const test = run.evaluate(node.test, frame, path, 'condition');
    if (!test.ok) return { kind: 'failed', error: test.error };
    run.patchNode(path, { taken: test.value ? 'then' : 'else' });
  }
  return run.list(run.node(path)!.taken === 'then' ? node.then : node.else, frame.under(node.segment));
};
