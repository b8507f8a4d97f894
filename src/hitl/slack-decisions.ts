import type { Env } from '../env';
import { decidable, slackDecider, slackFacts } from './deciders';
import { recordDecision, type DecisionView } from './decisions';
import { transition } from './machine';
import type { DecisionBody } from './request';
import { fail, ok, type Result } from './result';
import type { ExecutionStore } from './store';

// Decisions from the Slack app (buttons and the reason modal): the clicking user's verified Slack
// names decide, and a retried interaction answers what the first delivery answered.

/** What the Slack entry points need of the object: its storage, and what follows a decision. */
export interface SlackHost {
  store: ExecutionStore;
  env: Env;
  /** The decision is committed: arm the alarm, start the follow-up, answer. */
  answerNow(due?: number): Promise<void>;
}

/**
 * A decision from a Slack app button or modal. `names` are the clicking user's verified names
 * (`slack:U…` and their profile email). `interaction` identifies the Slack interaction: a retry
 * of it answers what the first delivery answered and records nothing.
 */
export async function decideInSlack(host: SlackHost, requestId: number, names: string[], body: DecisionBody, interaction: string): Promise<Result<DecisionView & { repeated: boolean }>> {
  const { store, env } = host;
  if (!store.exists()) return fail('NOT_FOUND', 404, 'this approval request no longer exists');
  const earlier = store.interaction(interaction) as DecisionView | undefined;
  if (earlier) return ok({ ...earlier, repeated: true });
  const found = store.requestById(requestId);
  if (!found) return fail('NOT_FOUND', 404, 'this approval request no longer exists');
  const facts = decidable(found) ? await slackFacts(env, found, slackDecider(names)) : { decider: slackDecider(names) };
  // Read again after asking Slack: a retry of this interaction may have been recorded meanwhile.
  const again = store.interaction(interaction) as DecisionView | undefined;
  if (again) return ok({ ...again, repeated: true });
  const request = store.requestById(requestId)!;
  const { result, due } = recordDecision(store, store.run()!.state, request, facts.decider, body, { userAgent: 'slack' }, Date.now(), facts.requester);
  // Only what was recorded is remembered: a refusal records nothing, and asking again (once the
  // cause is gone) must be judged afresh. So the table grows only with decisions.
  if (result.ok) store.saveInteraction(interaction, Date.now(), result.value);
  await host.answerNow(due);
  return result.ok ? ok({ ...result.value, repeated: false }) : result;
}

/**
 * Whether this Slack user could decide the request now (before asking them for a reason).
 * `repeated` when Slack retries the same click: the reason form is not opened twice.
 */
export async function slackEligibility(host: SlackHost, requestId: number, names: string[], interaction: string): Promise<Result<{ ensemble: string; step: string; prompt: string; repeated: boolean }>> {
  const { store, env } = host;
  if (!store.exists()) return fail('NOT_FOUND', 404, 'this approval request no longer exists');
  const request = store.requestById(requestId);
  if (!request) return fail('NOT_FOUND', 404, 'this approval request no longer exists');
  const about = { ensemble: store.run()!.state.ensemble, step: request.step, prompt: request.spec.prompt };
  if (store.interaction(interaction) !== undefined) return ok({ ...about, repeated: true });
  const facts = decidable(request) ? await slackFacts(env, request, slackDecider(names)) : { decider: slackDecider(names) };
  const latest = store.requestById(requestId)!;
  const result = transition(latest.approval, { type: 'decide', decider: facts.decider, approved: false, at: Date.now(), requester: facts.requester });
  if (!result.ok) return fail(result.refusal.code, result.refusal.status, result.refusal.message, result.refusal.details);
  store.saveInteraction(interaction, Date.now(), about);
  return ok({ ...about, repeated: false });
}
