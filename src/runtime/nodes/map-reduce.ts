import type { Handler } from './handler';
import { eachItem, itemsOf, itemsOutcome } from './items';

/**
 * `type: map-reduce`: `map` once per item (`${item}`, `${index}`), `maxConcurrency` at a time, then
 * `reduce` once with `${results}`, the map's outputs in item order. Output: reduce's last output.
 */
export const mapReduce: Handler<'map-reduce'> = async (node, frame, run, path) => {
  const list = itemsOf(node.items, frame, run, path, 'map-reduce');
  if (!list.ok) return list.outcome;
  const { items } = list;
  const { outcomes } = await eachItem(items, node.maxConcurrency, (i) => run.list(node.map, frame.iteration(node.segment, node.id, i, { item: items[i] })));
  const mapped = itemsOutcome(outcomes, items.length, (i) => run.cancelUnder(`${path}[${i}]`));
  if (mapped.kind !== 'done') return mapped;
  return run.list(node.reduce, frame.under(node.segment, { results: mapped.output }));
};
