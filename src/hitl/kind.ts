import type { StepKind } from '../runtime/step-kind';
import { checkHitlStep, HitlConfig, HitlInput, prepareApproval } from './agent';

/**
 * `agent: hitl` as a step kind: its result is the suspension (the approval request to store and
 * announce); the run continues when people decide or the request times out.
 */
export const hitl: StepKind = {
  key: 'agent',
  config: HitlConfig,
  input: HitlInput,
  inputsFirst: true,
  credentials: [['notificationConfig', 'webhookUrl']],
  storesCredentials: true,
  retries: false,
  check: (step) => checkHitlStep(step),
  run: async (ctx) => ({ suspend: prepareApproval(ctx) }),
};
