import type { Env } from '../env';
import type { ExecutionInfo } from './context';
import type { WrittenPart } from '../expression/template';

export interface AgentContext {
  step: string;
  config: unknown;
  input: unknown;
  env: Env;
  execution: ExecutionInfo;
  /** Origin of the request that started the run (default base of links). */
  origin?: string;
  /**
   * A credential field of the config (path inside it) as written, when it uses a secret: such a
   * field is stored as written and completed only when it is used, so the secret is never stored.
   */
  written?: (path: readonly string[]) => WrittenPart[] | undefined;
}

/** A built-in agent. `hitl` is the only one: it never returns an output, it suspends the run. */
export interface Agent {
  /** Validates the rendered step and describes what to suspend for. Throws a StepError when invalid. */
  prepare(ctx: AgentContext): Record<string, unknown>;
}
