import type { AgentName } from '../ensemble/schema';
import type { ConfigProblem } from '../operations/operation';
import { checkHitlStep } from './agent';

export interface AgentCheckInput {
  /** Static values (no expression) of config and input. */
  config: Record<string, unknown>;
  input: Record<string, unknown>;
  /** config and input as written, expressions included: every key is known here. */
  written: { config: unknown; input: unknown };
}

/** Load-time checks of agent steps, by agent; problem paths are relative to the step. */
export const agentChecks: Partial<Record<AgentName, (step: AgentCheckInput) => ConfigProblem[]>> = {
  hitl: checkHitlStep,
};

/** Where an agent's config may use a secret: the notification webhook (kept as written until sent). */
export const agentCredentials: Partial<Record<AgentName, readonly (readonly string[])[]>> = {
  hitl: [['notificationConfig', 'webhookUrl']],
};
