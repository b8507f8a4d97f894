import type { Env } from '../env';
import type { Scope } from '../expression/compile';
import type { ExecutionInfo, StepView } from './context';
import type { RunState } from './run-state';
import { publicEnv } from './public-env';

/** Earlier steps by name, as expressions and scripts read them. */
export function stepViews(state: RunState): Record<string, StepView> {
  const views: Record<string, StepView> = {};
  for (const r of state.steps) {
    views[r.name] = {
      status: r.status,
      input: r.input,
      output: r.output,
      error: r.error ?? null,
      // Ran (not skipped by its condition); completed without an error.
      executed: r.status !== 'skipped',
      success: r.status === 'completed' && !r.error,
    };
  }
  return views;
}

export const executionInfo = (state: RunState): ExecutionInfo => ({
  id: state.executionId,
  ensemble: state.ensemble,
  startedAt: state.startedAt,
});

/** The scope of every expression in a run: `input`, `env`, `execution`, and earlier steps. */
export function runScope(state: RunState, env: Env): Scope {
  const roots: Record<string, unknown> = {
    ...stepViews(state),
    input: state.input,
    env: publicEnv(env),
    execution: executionInfo(state),
  };
  return (name) => (Object.hasOwn(roots, name) ? roots[name] : undefined);
}
