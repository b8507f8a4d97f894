import type { Template } from '../../expression/template';
import { LIMITS } from '../../limits';
import type { Frame } from '../frame';
import type { Outcome, Run } from '../interpreter';

/** A loop's items, evaluated once and kept in its record; a value that is not a list fails the node. */
export function itemsOf(items: Template, frame: Frame, run: Run, path: string, type: string): { ok: true; items: unknown[] } | { ok: false; outcome: Outcome } {
  const kept = run.node(path)!.items;
  if (kept) return { ok: true, items: kept };
  const value = run.evaluate(items, frame, path, 'items');
  if (!value.ok) return { ok: false, outcome: { kind: 'failed', error: value.error } };
  if (!Array.isArray(value.value)) {
    const got = value.value === null ? 'null' : typeof value.value === 'object' ? 'an object' : typeof value.value;
    return { ok: false, outcome: { kind: 'failed', error: { step: path, code: 'ITEMS_NOT_A_LIST', message: `the items of ${type} '${path}' are ${got}, not a list` } } };
  }
  if (value.value.length > LIMITS.foreachItems) {
    return { ok: false, outcome: { kind: 'failed', error: { step: path, code: 'TOO_MANY_ITEMS', message: `${type} '${path}' has ${value.value.length} items (limit ${LIMITS.foreachItems})` } } };
  }
  // Too large to keep: the record is kept failed (STATE_TOO_LARGE), which the interpreter reports.
  if (!run.patchNode(path, { items: value.value })) return { ok: false, outcome: { kind: 'blocked' } };
  return { ok: true, items: value.value };
}

/**
 * Runs `body` once per item, `concurrency` at a time (an item waiting for people holds its slot),
 * each in a frame of its own (`path[i]/`, with `${item}` and `${index}`). `after(i, outcome)` may
 * stop further items from starting (a foreach's `breakWhen`). Outcomes come back in item order.
 */
export async function eachItem(items: unknown[], concurrency: number, start: (i: number) => Promise<Outcome>, after?: (i: number, outcome: Outcome) => boolean): Promise<{ outcomes: (Outcome | undefined)[]; stoppedAt?: number }> {
  const outcomes: (Outcome | undefined)[] = items.map(() => undefined);
  let next = 0;
  let stoppedAt: number | undefined;
  let failed = false;
  const worker = async () => {
    while (!failed && stoppedAt === undefined) {
      const i = next++;
      if (i >= items.length) return;
      const outcome = await start(i);
      outcomes[i] = outcome;
      if (outcome.kind === 'failed') { failed = true; return; }
      if (outcome.kind !== 'done') return;
      if (after?.(i, outcome) && (stoppedAt === undefined || i < stoppedAt)) stoppedAt = i;
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
  return { outcomes, stoppedAt };
}

/** What a loop's items came to: a failure (first in item order), waiting, or every output in item order. */
export function itemsOutcome(outcomes: (Outcome | undefined)[], count: number, close: (i: number) => void): Outcome {
  const failed = outcomes.find((o) => o?.kind === 'failed');
  if (failed) {
    outcomes.forEach((o, i) => { if (o?.kind === 'blocked') close(i); });
    return failed;
  }
  // Items past a `breakWhen` that had already started and wait for people: closed with the loop.
  outcomes.forEach((o, i) => { if (i >= count && o?.kind === 'blocked') close(i); });
  const slice = outcomes.slice(0, count);
  if (slice.some((o) => o === undefined || o.kind === 'blocked')) return { kind: 'blocked' };
  if (slice.some((o) => o!.kind === 'stopped')) return { kind: 'stopped' };
  return { kind: 'done', output: slice.map((o) => (o as { output: unknown }).output) };
}
