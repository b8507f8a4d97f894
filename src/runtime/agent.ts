import type { Env } from '../env';
import type { ExecutionInfo } from './context';

export interface AgentContext {
  step: string;
  config: unknown;
  input: unknown;
  env: Env;
  execution: ExecutionInfo;
  /** Origin of the request that started the run (default base of links). */
  origin?: string;
}

/** A built-in agent. `hitl` is the only one: it never returns an output, it suspends the run. */
export interface Agent {
  /** Validates the rendered step and describes what to suspend for. Throws a StepError when invalid. */
  prepare(ctx: AgentContext): Record<string, unknown>;
}
