import type { RunError } from '../run-state';
import type { Handler } from './handler';
import { eachItem, itemsOf, itemsOutcome } from './items';

/**
 * `type: foreach`: its body once per item (`${item}`, `${index}`), `maxConcurrency` at a time.
 * `breakWhen`, checked after each item, stops further items from starting (the item it held for
 * is kept). Output: one result per item that ran, in item order, whatever order they finished in.
 */
export const foreach: Handler<'foreach'> = async (node, frame, run, path) => {
  const list = itemsOf(node.items, frame, run, path, 'foreach');
  if (!list.ok) return list.outcome;
  const { items } = list;
  const iteration = (i: number) => frame.iteration(node.segment, node.id, i, { item: items[i] });
  let breakError: RunError | undefined;
  const broke = run.node(path)!.broke;
  const { outcomes, stoppedAt } = await eachItem(
    broke !== undefined ? items.slice(0, broke + 1) : items,
    node.maxConcurrency,
    (i) => run.list(node.body, iteration(i)),
    node.breakWhen && ((i) => {
      const stop = run.evaluate(node.breakWhen!, iteration(i), path, 'breakWhen');
      if (!stop.ok) { breakError = stop.error; return true; }
      return !!stop.value;
    }),
  );
  const close = (i: number) => run.cancelUnder(`${path}[${i}]`);
  if (breakError) {
    // Items still waiting are closed with the loop.
    outcomes.forEach((o, i) => { if (o?.kind === 'blocked') close(i); });
    return { kind: 'failed', error: breakError };
  }
  if (stoppedAt !== undefined) run.patchNode(path, { broke: Math.min(stoppedAt, broke ?? stoppedAt) });
  const stop = run.node(path)!.broke;
  return itemsOutcome(outcomes, stop !== undefined ? stop + 1 : items.length, close);
};
