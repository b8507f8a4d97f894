import type { Env } from '../env';
import type { RunState } from '../runtime/run-state';
import { defaultChannels, type SealedTokens } from './deliver';
import { transition, type ApprovalState } from './machine';
import { normalizeIdentity, sameIdentity } from '../identity/normalize';
import { slackAppConfigured } from '../notify/slack-api';
import { extraRecipients } from '../notify/email';
import { ApprovalRequest, type Channel } from './request';
import { seal, unseal } from './seal';
import type { ExecutionStore, RequestRow } from './store';
import { digestToken, hashToken, newToken } from './token';

// Issuing links: an approval request's tokens (stored hashed, kept sealed for re-sending) and
// the notifications that carry them, when a request opens and when it escalates.

/** An approval request ready to be stored: everything that needs to be awaited is done. */
export interface PreparedRequest {
  now: number;
  spec: ApprovalRequest;
  approval: ApprovalState;
  channels: Channel[];
  tokens: SealedTokens;
  /** SHA-256 (hex) of each token, as `hashToken` gives it, in the order of personal then shared. */
  hashes: string[];
  /** The links, encrypted; null for a wait for an event (it has none). */
  sealed: string | null;
}

/**
 * The waits of `state` (`suspensions`: steps that began to wait, whose requests are still to open)
 * that have no request yet: a state saved by an earlier release kept those it had opened.
 */
export function unopened(store: ExecutionStore, state: RunState): RunState {
  return { ...state, suspensions: (state.suspensions ?? []).filter((s) => store.requestAt(s.step) === undefined) };
}

/**
 * The part of opening requests that awaits (tokens sealed, hashed): done before anything is
 * written, so what is written can be written at once, in one transaction.
 */
export function prepareRequests(env: Env, state: RunState, now: number): Promise<PreparedRequest[]> {
  // A state from before runs could wait on several holds its one wait as `suspension`.
  const waits = state.suspensions?.length ? state.suspensions : state.suspension ? [state.suspension] : [];
  return Promise.all(waits.map((s) => prepareRequest(env, state.executionId, s.request, now)));
}

async function prepareRequest(env: Env, executionId: string, request: Record<string, unknown>, now: number): Promise<PreparedRequest> {
  const spec = ApprovalRequest.parse(request);
  if (spec.event) {
    // A wait for an event: no one decides it, so it has no links and tells no one.
    const approval: ApprovalState = { status: 'pending', approvers: [], minApprovals: 1, expiresAt: now + spec.timeoutMs, onTimeout: spec.onTimeout, approvals: [], event: { name: spec.event.name, key: spec.event.key } };
    return { now, spec: { ...spec, channels: [] }, approval, channels: [], tokens: { personal: [] }, hashes: [], sealed: null };
  }
  const approval: ApprovalState = {
    status: 'pending',
    approvers: spec.approvers,
    minApprovals: spec.minApprovals,
    expiresAt: now + spec.timeoutMs,
    onTimeout: spec.onTimeout,
    approvals: [],
    ...(spec.requester ? { requester: spec.requester } : {}),
    ...(spec.requireVerified ? { requireVerified: true } : {}),
    ...(spec.onReject !== 'any' ? { onReject: spec.onReject } : {}),
    ...(spec.allowDelegation ? {} : { allowDelegation: false }),
  };
  const channels = spec.channels.length ? spec.channels : defaultChannels(spec.approvers, env);
  // Reminders and escalations go to the same channels.
  spec.channels = channels;
  const tokens: SealedTokens = {
    personal: spec.approvers.map((approver) => ({ approver, token: newToken(executionId) })),
    ...(needsSharedLink(spec, channels, env) ? { shared: newToken(executionId) } : {}),
  };
  const all = [...tokens.personal.map((t) => t.token), ...(tokens.shared ? [tokens.shared] : [])];
  const [sealed, hashes] = await Promise.all([seal(env, executionId, tokens), Promise.all(all.map(digestToken))]);
  return { now, spec, approval, channels, tokens, hashes, sealed };
}

/**
 * Stores prepared requests and the run state that waits on them: synchronous, so each request,
 * its token hashes and its notifications appear together with the state, and the state's waits
 * to open are cleared in the same commit (a crash before it leaves them to open, never twice).
 */
export function commitRequests(store: ExecutionStore, prepared: PreparedRequest[], state: RunState, now: number): RequestRow[] {
  const groups = groupsOf(prepared);
  const rows = prepared.map((p) => commitRequest(store, p, !groups.has(p)));
  // Requests opened together with the same people and channels are announced in one message per
  // channel (a batch link per approver), under the first one's id.
  const byKey = new Map<string, RequestRow[]>();
  prepared.forEach((p, i) => {
    const key = groups.get(p);
    if (key !== undefined) byKey.set(key, [...(byKey.get(key) ?? []), rows[i]!]);
  });
  for (const members of byKey.values()) {
    const grp = members[0]!.id;
    store.setGroup(members.map((r) => r.id), grp);
    for (const channel of members[0]!.spec.channels) store.enqueue(grp, channel, 'batch-request', now);
  }
  store.saveState({ ...state, suspensions: [] }, now);
  return groups.size ? rows.map((r) => store.requestById(r.id)!) : rows;
}

/**
 * Which prepared requests are announced together, by group key: two or more opened at once for
 * the same approvers, with the same channels and settings, grouping not turned off
 * (`groupNotifications`): the items of a foreach, the branches of a parallel naming the same people.
 */
function groupsOf(prepared: PreparedRequest[]): Map<PreparedRequest, string> {
  // Slack and Teams post to a channel everyone there reads, and a batch link decides as its
  // approver: requests announced there stay one message each (with their shared link or buttons).
  // Email recipients who are not approvers get the shared link of each request: no batch for them.
  const keyOf = (p: PreparedRequest) => (p.spec.event || !p.spec.groupNotifications || p.spec.approvers.length === 0 || p.channels.some((c) => c === 'slack' || c === 'teams')
    || (p.channels.includes('email') && extraRecipients(p.spec.notification, p.spec.approvers).length > 0) ? undefined
    : JSON.stringify([p.spec.approvers.map(normalizeIdentity).sort(), p.channels, p.spec.notification, p.spec.baseUrl, p.spec.writtenCredentials ?? null]));
  const counts = new Map<string, number>();
  for (const p of prepared) {
    const k = keyOf(p);
    if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const groups = new Map<PreparedRequest, string>();
  for (const p of prepared) {
    const k = keyOf(p);
    if (k !== undefined && counts.get(k)! > 1) groups.set(p, k);
  }
  return groups;
}

function commitRequest(store: ExecutionStore, p: PreparedRequest, notify: boolean): RequestRow {
  const id = store.insertRequest(p.spec, p.approval, p.now, p.sealed);
  p.tokens.personal.forEach((t, i) => store.insertToken(p.hashes[i]!, id, t.approver));
  if (p.tokens.shared) store.insertToken(p.hashes[p.tokens.personal.length]!, id, null);
  if (notify) for (const channel of p.channels) store.enqueue(id, channel, 'request', p.now);
  if (p.spec.event) {
    store.audit('suspended', { step: p.spec.step, event: p.spec.event.name, key: p.spec.event.key, expiresAt: new Date(p.approval.expiresAt).toISOString() }, p.now, id);
    return store.requestById(id)!;
  }
  store.audit('suspended', { step: p.spec.step, approvers: p.spec.approvers, minApprovals: p.spec.minApprovals, expiresAt: new Date(p.approval.expiresAt).toISOString(), channels: p.channels }, p.now, id);
  return store.requestById(id)!;
}

/**
 * A shared link (one decision, by a typed name or a Cloudflare Access identity) exists only where
 * a message reaches people without links of their own: a webhook, a Teams channel, a Slack incoming webhook, email
 * recipients who are not approvers, or a step that lists no approvers. A Slack app message needs
 * none: its buttons carry the clicking user's Slack identity.
 */
function needsSharedLink(spec: ApprovalRequest, channels: Channel[], env: Env): boolean {
  if (spec.approvers.length === 0) return true;
  return channels.some((c) => c === 'webhook' || c === 'teams'
    || (c === 'slack' && !slackAppConfigured(env, spec.notification))
    || (c === 'email' && extraRecipients(spec.notification, spec.approvers).length > 0));
}

/** Adds `escalateTo` as approvers with links of their own and notifies them; on timeout, extends it. */
export async function escalateRequest(store: ExecutionStore, env: Env, request: RequestRow, now: number, extendTo?: number): Promise<void> {
  const executionId = store.run()!.state.executionId;
  const added = request.spec.escalateTo.filter((a) => !request.approval.approvers.some((b) => sameIdentity(a, b)));
  const tokens = await unseal<SealedTokens>(env, executionId, request.sealed!);
  const fresh = added.map((approver) => ({ approver, token: newToken(executionId) }));
  const sealed = await seal(env, executionId, { ...tokens, personal: [...tokens.personal, ...fresh] });
  // Synchronous from here: a decision cannot land between reading and writing the approval state.
  const current = store.requestById(request.id)!;
  const result = transition(current.approval, { type: 'escalate', approvers: added, at: now, expiresAt: extendTo });
  if (!result.ok) return;
  store.setSealed(request.id, sealed);
  for (const t of fresh) store.insertToken(hashToken(t.token), request.id, t.approver);
  store.saveApproval(request.id, result.state);
  store.clearEscalation(request.id);
  for (const channel of current.spec.channels) {
    // A request announced with others is escalated with them: one message for the group.
    if (current.grp === null) store.enqueue(request.id, channel, 'escalation', now, added);
    else if (!store.outboxWaiting(current.grp, channel, 'batch-escalation', added)) store.enqueue(current.grp, channel, 'batch-escalation', now, added);
  }
  store.audit('escalation', { added, ...(extendTo ? { reason: 'timeout', expiresAt: new Date(extendTo).toISOString() } : { reason: 'escalateAfter' }) }, now, request.id);
}

/**
 * A token for someone an approver delegates to, and the request's sealed tokens with it added (so
 * re-sending the request reaches them too). Nothing is stored: the caller claims it synchronously.
 */
export async function delegateTokens(env: Env, executionId: string, request: RequestRow, to: string): Promise<{ token: string; hash: string; sealed: string }> {
  const tokens = await unseal<SealedTokens>(env, executionId, request.sealed!);
  const token = newToken(executionId);
  const sealed = await seal(env, executionId, { ...tokens, personal: [...tokens.personal, { approver: to, token }] });
  return { token, hash: hashToken(token), sealed };
}
