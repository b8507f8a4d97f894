import type { Env } from '../env';
import { LIMITS } from '../limits';
import { log } from '../log';
import { isEmailName, slackUserId } from '../identity/normalize';
import { slackUserNames } from '../notify/slack-api';
import { decidable, linkDecider, pick, slackFacts, viewerMismatch } from './deciders';
import { refreshMessages, type RequestMeta } from './decisions';
import { delegateTokens } from './links';
import { transition, type ApprovalState, type Delegation, type RequesterNames } from './machine';
import type { DelegationBody } from './request';
import { fail, ok, type Result } from './result';
import type { ExecutionStore, RequestRow, RunRow, TokenRow } from './store';
import { hashToken } from './token';

// Delegation: the approver behind a link hands their place to someone else, who gets a link of
// their own (src/hitl/machine.ts judges who may; this issues the token and queues the notice).

export interface DelegationView {
  executionId: string;
  step: string;
  status: ApprovalState['status'];
  approvers: string[];
  delegation: Delegation;
}

/** What delegation needs of the object: its storage, a token lookup, and what follows a change. */
export interface DelegationHost {
  store: ExecutionStore;
  env: Env;
  find(hash: string): Result<{ run: RunRow; request: RequestRow; row: TokenRow }>;
  /** Sends what the change queued, updates the index, sets the alarm. */
  settle(): Promise<void>;
}

export async function delegatePlace(host: DelegationHost, token: string, body: DelegationBody, meta: RequestMeta, viewer?: string): Promise<Result<DelegationView>> {
  const { store, env } = host;
  const to = body.delegateTo.trim();
  if (!isEmailName(to) && slackUserId(to) === undefined) {
    return fail('INVALID_INPUT', 400, 'delegateTo must be an email address or a Slack user (slack:U…), so a link can reach them');
  }
  // Issuing the delegate's token means sealing it with the others (async); if anything changed
  // the sealed set meanwhile (an escalation, another delegation), start again from the top.
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = host.find(hashToken(token));
    if (!found.ok) return found;
    const who = linkDecider(found.value.row, {}, found.value.request.approval.status, viewer);
    if (!who.ok) return who;
    const facts = decidable(found.value.request) ? await slackFacts(env, found.value.request, who.value) : { decider: who.value };
    const decider = { ...who.value, ...pick(facts.decider) };
    const forwarded = viewerMismatch(decider, viewer);
    if (forwarded) return forwarded;
    const { run, request } = found.value;
    const toNames = await delegateNames(env, to);
    // Judged before any token is made, so a refused delegation issues nothing.
    const now = Date.now();
    const judged = transition(request.approval, { type: 'delegate', decider, to, reason: body.reason, at: now, ...(facts.requester ? { requester: facts.requester } : {}), ...(toNames ? { toNames } : {}) });
    if (!judged.ok) {
      const { code, status, message, details } = judged.refusal;
      if (status === 403 && store.refusalCount(request.id, decider.via) < LIMITS.refusalsAudited) {
        store.audit('delegation-refused', { code, name: decider.name, via: decider.via, to, ip: meta.ip, userAgent: meta.userAgent }, now, request.id);
      }
      return fail(code, status, message, details);
    }
    const issued = await delegateTokens(env, run.state.executionId, request, to);
    // Synchronous from here: judged again on the current state, then claimed, issued and queued together.
    const current = store.requestById(request.id)!;
    if (current.sealed !== request.sealed) continue;
    const result = transition(current.approval, { type: 'delegate', decider, to, reason: body.reason, at: Date.now(), ...(facts.requester ? { requester: facts.requester } : {}), ...(toNames ? { toNames } : {}) });
    if (!result.ok) return fail(result.refusal.code, result.refusal.status, result.refusal.message, result.refusal.details);
    const delegation = result.delegation!;
    if (decider.via !== 'access') store.markTokenUsed(found.value.row.hash, now, delegation.from);
    store.setSealed(request.id, issued.sealed);
    store.insertToken(issued.hash, request.id, delegation.to);
    store.saveApproval(request.id, result.state);
    for (const channel of current.spec.channels) store.enqueue(request.id, channel, 'delegation', now, [delegation.to]);
    store.audit('delegated', { from: delegation.from, to: delegation.to, depth: delegation.depth, via: decider.via, ...(body.reason ? { reason: body.reason } : {}), ip: meta.ip, userAgent: meta.userAgent }, now, request.id);
    refreshMessages(store, request.id, now);
    log('delegation', { executionId: run.state.executionId, step: request.step, from: delegation.from, to: delegation.to, depth: delegation.depth });
    await host.settle();
    return ok({ executionId: run.state.executionId, step: request.step, status: result.state.status, approvers: result.state.approvers, delegation });
  }
  return fail('CONFLICT', 409, 'the request changed while the delegation was being made: try again');
}

/** What Slack says about a `slack:U…` delegate: their email, or that it is unknown. */
export async function delegateNames(env: Env, name: string): Promise<RequesterNames | undefined> {
  const id = slackUserId(name);
  if (id === undefined) return undefined;
  if (typeof env.SLACK_BOT_TOKEN !== 'string' || !env.SLACK_BOT_TOKEN) return { aliases: [], emailUnknown: true };
  const { names, lookupError } = await slackUserNames(env, id);
  if (lookupError) log('slack-lookup-failed', { user: id, error: lookupError }, 'warn');
  const emails = names.filter(isEmailName);
  return { aliases: emails, emailUnknown: emails.length === 0 };
}
