import type { Env } from '../env';

/** What every step sees about the run it belongs to. */
export interface ExecutionInfo {
  id: string;
  ensemble: string;
  startedAt: string;
}

/** An earlier step as expressions and scripts see it: `${risk-check.output.score}`. */
export interface StepView {
  status: StepStatus;
  input: unknown;
  output: unknown;
  /** `{code, message}` of a failed step, else null. */
  error: { code: string; message: string } | null;
  /** The step ran (it was not skipped by its condition). */
  executed: boolean;
  /** The step completed without an error. */
  success: boolean;
}

/** The fields of a step view, the only ones an expression may read on a step. */
export const stepViewFields = ['output', 'input', 'status', 'error', 'executed', 'success'] as const;

export type StepStatus = 'completed' | 'skipped' | 'failed' | 'suspended' | 'cancelled' | 'pending';

/** A user module's default export in `scripts/`: what `operation: code` calls. */
export type ScriptFunction = (context: AgentExecutionContext) => unknown;
export type ScriptRegistry = Readonly<Record<string, { default?: unknown }>>;

/**
 * The argument of a `scripts/` function (the spec's name for it). Import it in a script with
 * `import type { AgentExecutionContext } from '@ensemble-edge/conductor'`.
 */
export interface AgentExecutionContext<I = Record<string, any>, C = Record<string, unknown>> {
  input: I;
  config: C;
  env: Record<string, unknown>;
  execution: ExecutionInfo;
  steps: Readonly<Record<string, StepView>>;
}

/** Everything an operation needs to run one step. */
export interface StepContext<C> {
  step: string;
  config: C;
  input: unknown;
  env: Env;
  execution: ExecutionInfo;
  steps: Readonly<Record<string, StepView>>;
  scripts: ScriptRegistry;
}
