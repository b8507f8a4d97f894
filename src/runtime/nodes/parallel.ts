import type { Outcome } from '../interpreter';
import type { StopSignal } from '../frame';
import type { Handler } from './handler';

/**
 * `type: parallel`: every branch starts at once. `waitFor: all` completes when each branch has
 * (output: their outputs, in order); a branch that fails fails the node, and what waits in the
 * others is closed. `waitFor: any` completes when the first branch does (output: `{ branch,
 * output }`, the winner kept): the others are cancelled, their open approvals closed.
 */
export const parallel: Handler<'parallel'> = async (node, frame, run, path) => {
  const taken = run.node(path)!.taken;
  const inner = frame.under(node.segment);
  const branchPath = (i: number) => `${path}/${node.branches[i]!.segment}`;
  const signals: StopSignal[] = node.branches.map(() => ({ stopped: false }));
  const closeOthers = (keep?: number) => {
    node.branches.forEach((_, i) => {
      if (i === keep) return;
      signals[i]!.stopped = true;
      run.cancelUnder(branchPath(i));
    });
  };
  if (node.waitFor === 'any' && typeof taken === 'number') {
    // Decided before: only the winner's result counts.
    closeOthers(taken);
    const winner = await run.run(node.branches[taken]!, inner);
    return winner.kind === 'done' ? { kind: 'done', output: { branch: node.branches[taken]!.segment, output: winner.output } } : winner;
  }
  const outcomes: (Outcome | undefined)[] = node.branches.map(() => undefined);
  let winner: number | undefined;
  await Promise.all(node.branches.map(async (branch, i) => {
    const outcome = await run.run(branch, inner.with(signals[i]!));
    outcomes[i] = outcome;
    // `all` fails at the first failure: the other branches start nothing more.
    if (node.waitFor === 'all' && outcome.kind === 'failed') closeOthers(i);
    if (node.waitFor === 'any' && outcome.kind === 'done' && winner === undefined) {
      // Branches decided while the run was not walking all come back done in this walk, in file
      // order: a moment later every one of them is in, and the one that finished first wins.
      await new Promise((r) => setTimeout(r, 0));
      if (winner !== undefined) return;
      winner = firstFinished(outcomes);
      run.patchNode(path, { taken: winner });
      closeOthers(winner);
    }
  }));
  if (winner !== undefined) return { kind: 'done', output: { branch: node.branches[winner]!.segment, output: (outcomes[winner] as { output: unknown }).output } };
  const failed = outcomes.find((o) => o?.kind === 'failed');
  // `any` waits on while a branch may still win; `all` fails at the first failure.
  if (failed && (node.waitFor === 'all' || !outcomes.some((o) => o?.kind === 'blocked'))) {
    closeOthers();
    return failed;
  }
  if (outcomes.some((o) => o?.kind === 'blocked')) return { kind: 'blocked' };
  if (outcomes.some((o) => o?.kind === 'stopped')) return { kind: 'stopped' };
  return { kind: 'done', output: outcomes.map((o) => (o as { output: unknown }).output) };
};

/** The branch that finished first (by its last step's time; a tie, or no time, goes to the earlier branch). */
function firstFinished(outcomes: (Outcome | undefined)[]): number {
  let best = -1;
  let bestAt = Infinity;
  outcomes.forEach((o, i) => {
    if (o?.kind !== 'done') return;
    const at = o.at ?? Infinity;
    if (best === -1 || at < bestAt) { best = i; bestAt = at; }
  });
  return best;
}
