import type { AgentName } from '../ensemble/schema';
import type { ConfigProblem } from '../operations/operation';
import { checkHitlStep } from './agent';

export interface AgentCheckInput {
  config: Record<string, unknown>;
  input: Record<string, unknown>;
}

/** Load-time checks of agent steps, by agent; problem paths are relative to the step. */
export const agentChecks: Partial<Record<AgentName, (step: AgentCheckInput) => ConfigProblem[]>> = {
  hitl: checkHitlStep,
};
