import { z } from 'zod';
import type { Env } from '../env';
import { DurationError, parseDuration } from '../ensemble/duration';
import { displayIdentity, findListed, isEmailName, sameIdentity, slackUserId } from '../identity/normalize';
import { refreshMessages } from './decisions';
import { delegateTokens } from './links';
import { delegateNames } from './delegation';
import { slackFacts } from './deciders';
import { hasDecided } from './machine';
import { fail, ok, type Result } from './result';
import type { ExecutionStore, RequestRow } from './store';
import { pendingView, type PendingView } from './views';

// What an operator does to an open request (API key, console, CLI): give it more time, or hand an
// approver's place to someone else (or add one). Judged here, synchronously after what awaits
// (sealing the new link); the new approver gets a link of their own through the step's channels,
// the old one's link is spent, and everything is audited.

const MAX_MS = 365 * 86_400_000;

const Duration = z.union([z.number().positive().max(MAX_MS / 1000), z.string().min(1).max(40)]);
export const ExtendBody = z.union([
  z.strictObject({ until: z.iso.datetime({ offset: true }).describe('the new deadline (ISO 8601)') }),
  z.strictObject({ by: Duration.describe('how much later: seconds, or "2h", "3 days"') }),
]);
export type ExtendBody = z.infer<typeof ExtendBody>;

const Person = z.string().trim().min(1).max(320);
export const ReassignBody = z.union([
  z.strictObject({ replace: Person.describe('the approver whose place is handed on'), with: Person.describe('who takes it') }),
  z.strictObject({ add: Person.describe('an approver added to the request') }),
]);
export type ReassignBody = z.infer<typeof ReassignBody>;

export interface OperatorHost {
  store: ExecutionStore;
  env: Env;
  answerNow(due?: number): Promise<void>;
}

function openAt(store: ExecutionStore, step: string): Result<RequestRow> {
  if (!store.exists()) return fail('NOT_FOUND', 404, 'execution not found');
  const request = store.openRequestAt(step);
  if (!request) return fail('NOT_SUSPENDED', 409, `no request of step '${step}' is waiting (GET /executions/:id lists the open ones)`);
  return ok(request);
}

/** A later deadline for an open request: at most 365 days after it opened, and never earlier than now. */
export async function extendRequest(host: OperatorHost, step: string, body: ExtendBody): Promise<Result<PendingView>> {
  const { store } = host;
  const found = openAt(store, step);
  if (!found.ok) return found;
  const request = found.value;
  const now = Date.now();
  // A wait's deadline is also its event box's: it is set when the wait starts, not moved later.
  if (request.spec.event) return fail('WAITS_FOR_EVENT', 409, 'this step waits for an event: its timeout is set by the ensemble');
  if (now >= request.expiresAt) return fail('EXPIRED', 410, `this request expired at ${new Date(request.expiresAt).toISOString()}`);
  let until: number;
  if ('until' in body) until = Date.parse(body.until);
  else {
    try {
      until = request.expiresAt + parseDuration(body.by, 's');
    } catch (e) {
      if (e instanceof DurationError) return fail('INVALID_INPUT', 400, e.message);
      throw e;
    }
  }
  if (!Number.isFinite(until) || until <= now) return fail('INVALID_DEADLINE', 400, 'the new deadline must be in the future');
  if (until <= request.expiresAt) return fail('INVALID_DEADLINE', 400, `the request already runs until ${new Date(request.expiresAt).toISOString()}: an extension ends later`);
  const limit = request.createdAt + MAX_MS;
  if (until > limit) return fail('DEADLINE_TOO_FAR', 400, `a request waits at most 365 days: this one can run until ${new Date(limit).toISOString()}`);
  store.saveApproval(request.id, { ...request.approval, expiresAt: until });
  store.audit('extended', { step: request.step, from: new Date(request.expiresAt).toISOString(), to: new Date(until).toISOString(), by: 'operator' }, now, request.id);
  refreshMessages(store, request.id, now);
  await host.answerNow();
  return ok(pendingView(store.requestById(request.id)!));
}

/**
 * Hands a listed approver's place to someone else, or adds an approver. Refused for the requester
 * (separation of duties), for someone already listed, for an approver who already decided, and on
 * a request that names no approvers (anyone may decide it) or waits for an event.
 */
export async function reassignRequest(host: OperatorHost, step: string, body: ReassignBody): Promise<Result<PendingView>> {
  const { store, env } = host;
  const found = openAt(store, step);
  if (!found.ok) return found;
  let request = found.value;
  if (request.spec.event) return fail('WAITS_FOR_EVENT', 409, 'this step waits for an event, not for people');
  if (request.approval.approvers.length === 0) return fail('REASSIGN_REFUSED', 409, 'this request names no approvers: anyone with its link may decide, so there is no place to hand on');
  const to = displayIdentity('add' in body ? body.add : body.with);
  if (!isEmailName(to) && slackUserId(to) === undefined) return fail('INVALID_INPUT', 400, 'the new approver must be an email address or a Slack user (slack:U…), so a link can reach them');
  // Who the new approver and the requester are to Slack (a `slack:U…` id and its email), asked
  // first: one person must not hold two places, nor decide what they requested.
  const names = await identityFacts(env, request, to);
  const refused = judge(request, body, to, names);
  if (refused) return refused;
  // What awaits first (sealing the new link), then everything at once, judged again.
  const executionId = store.run()!.state.executionId;
  const issued = await delegateTokens(env, executionId, request, to);
  const sealedBefore = request.sealed;
  request = store.requestById(request.id)!;
  if (request.status !== 'pending') return fail('NOT_SUSPENDED', 409, `the request of step '${step}' closed meanwhile`);
  // Another change issued links meanwhile (an escalation, a delegation): the sealed set moved on.
  if (request.sealed !== sealedBefore) return fail('CONFLICT', 409, 'the request changed while the new link was being made: try again');
  const again = judge(request, body, to, names);
  if (again) return again;
  const now = Date.now();
  const from = 'replace' in body ? findListed(request.approval.approvers, [body.replace])! : undefined;
  const approvers = from === undefined ? [...request.approval.approvers, to] : request.approval.approvers.map((a) => (a === from ? to : a));
  if (from !== undefined) {
    // The old link is spent: it answers that it was handed on.
    const old = store.personalToken(request.id, from);
    if (old && old.usedAt === null) store.markTokenUsed(old.hash, now, `reassigned to ${to}`);
  }
  store.insertToken(issued.hash, request.id, to);
  store.setSealed(request.id, issued.sealed);
  store.saveApproval(request.id, { ...request.approval, approvers });
  for (const channel of request.spec.channels) store.enqueue(request.id, channel, 'delegation', now, [to]);
  store.audit('reassigned', { step: request.step, ...(from !== undefined ? { from } : {}), to, by: 'operator' }, now, request.id);
  refreshMessages(store, request.id, now);
  await host.answerNow();
  return ok(pendingView(store.requestById(request.id)!));
}

interface IdentityFacts {
  /** Every name the new approver is known by (their `slack:U…` id and the email Slack gives). */
  to: string[];
  toEmailUnknown: boolean;
  requester: string[];
  requesterEmailUnknown: boolean;
}

async function identityFacts(env: Env, request: RequestRow, to: string): Promise<IdentityFacts> {
  const toNames = await delegateNames(env, to);
  const facts = await slackFacts(env, request, { name: to, verified: true, via: 'link' });
  return {
    to: [to, ...(toNames?.aliases ?? [])],
    toEmailUnknown: toNames?.emailUnknown ?? false,
    requester: request.spec.requester ? [request.spec.requester, ...(facts.requester?.aliases ?? [])] : [],
    requesterEmailUnknown: facts.requester?.emailUnknown ?? false,
  };
}

function judge(request: RequestRow, body: ReassignBody, to: string, names: IdentityFacts): Result<never> | undefined {
  const { approval, spec } = request;
  if (names.to.some((t) => names.requester.some((r) => sameIdentity(t, r)))) return fail('SELF_APPROVAL', 403, `${to} requested this and cannot decide it (separation of duties)`);
  // A Slack id and an email are bridged only by what Slack says: when it will not say, refuse rather than guess.
  const toIsId = slackUserId(to) !== undefined;
  if ((names.toEmailUnknown && (spec.requester || approval.approvers.some((a) => slackUserId(a) === undefined))) || (names.requesterEmailUnknown && !toIsId)) {
    return fail('IDENTITY_LOOKUP_FAILED', 503, `Slack did not say whose account this is, so ${to} cannot be told apart from the approvers and the requester: name them by email instead`);
  }
  if (findListed(approval.approvers, names.to) !== undefined) return fail('REASSIGN_REFUSED', 409, `${to} is already an approver of this request`);
  if (names.to.some((t) => hasDecided(approval.approvals, t))) return fail('REASSIGN_REFUSED', 409, `${to} already decided this request`);
  if ('replace' in body) {
    const from = findListed(approval.approvers, [body.replace]);
    if (from === undefined) return fail('REASSIGN_REFUSED', 409, `${displayIdentity(body.replace)} is not an approver of this request (approvers: ${approval.approvers.join(', ')})`);
    if (hasDecided(approval.approvals, from)) return fail('REASSIGN_REFUSED', 409, `${from} already decided this request`);
  }
  return undefined;
}
