import type { Handler } from './handler';

/**
 * `type: switch`: the case named by the value's text (a string, number, boolean or null), else
 * `default`; the case taken is kept. Output: the last output of that case.
 */
export const switchNode: Handler<'switch'> = async (node, frame, run, path) => {
  if (run.node(path)!.taken === undefined) {
    const value = run.evaluate(node.value, frame, path, 'value');
    if (!value.ok) return { kind: 'failed', error: value.error };
    const v = value.value;
    if (v !== null && v !== undefined && typeof v === 'object') {
      return { kind: 'failed', error: { step: path, code: 'SWITCH_VALUE', message: `the value of switch '${path}' is ${Array.isArray(v) ? 'a list' : 'an object'}: it must be a string, number or boolean to pick a case` } };
    }
    const key = v === null || v === undefined ? '' : String(v);
    run.patchNode(path, { taken: node.cases.some(([c]) => c === key) ? key : '\u0000default' });
  }
  const taken = run.node(path)!.taken;
  const chosen = node.cases.find(([c]) => c === taken)?.[1] ?? node.default;
  return run.list(chosen, frame.under(node.segment));
};
