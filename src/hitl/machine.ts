import { displayIdentity, findListed, normalizeIdentity, sameIdentity, slackUserId } from '../identity/normalize';
import type { Approval, DecisionVia, HitlOutput } from './request';
import type { FormSpec } from './form';

/**
 * The approval state machine, pure: `transition(state, event)` returns the next state (or why the
 * event is refused). The HITL object only loads, transitions, saves and performs effects, so every
 * rule here is testable without workerd.
 */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'timeout' | 'cancelled' | 'received';

export interface ApprovalState {
  status: ApprovalStatus;
  approvers: string[];
  minApprovals: number;
  expiresAt: number;
  onTimeout: 'continue' | 'approve' | 'reject' | 'fail' | 'escalate';
  approvals: Approval[];
  decidedAt?: number;
  /** Separation of duties: this identity may not decide, and unverified decisions are refused. */
  requester?: string;
  /** Only verified decisions (personal link, Slack, Cloudflare Access) are accepted. */
  requireVerified?: boolean;
  escalated?: boolean;
  /** `any` (default): one rejection rejects. `impossible`: rejected once minApprovals is out of reach. */
  onReject?: 'any' | 'impossible';
  /** May an approver hand their place to someone else (default true). */
  allowDelegation?: boolean;
  /** Places handed on, in order: `to` took `from`'s place in `approvers`. */
  delegations?: Delegation[];
  /** An `agent: wait` step: it waits for this event, and no one can decide it. */
  event?: { name: string; key: string };
  /** The event that closed it (status `received`). */
  received?: ReceivedEvent;
}

/** An event as a wait receives it (src/events/). */
export interface ReceivedEvent {
  id: string;
  data: unknown;
  receivedAt: string;
}

export interface Delegation {
  from: string;
  to: string;
  at: string;
  reason?: string;
  /** 1 for a listed approver's own hand-over, 2 when a delegate hands on, ... */
  depth: number;
}

/** How many times one approver's place may be handed on. */
export const MAX_DELEGATION_DEPTH = 3;

/**
 * Who is deciding. `verified` identities come from a personal link, Slack or Cloudflare Access;
 * a name typed on a shared link is not. `aliases` are other names of the same verified person
 * (a Slack user's id and email), any of which may be the one listed as approver.
 */
export interface Decider {
  name: string;
  aliases?: string[];
  verified: boolean;
  via: DecisionVia;
  /** A Slack user whose email Slack would not tell (failed lookup, hidden email): known by id only. */
  emailUnknown?: boolean;
}

/** What Slack said about the requester when they are named by `slack:U…`. */
export interface RequesterNames {
  aliases: string[];
  /** The requester is a Slack id whose email could not be learned. */
  emailUnknown: boolean;
}

export type ApprovalEvent =
  | { type: 'decide'; decider: Decider; approved: boolean; feedback?: string; reason?: string; response?: Record<string, unknown>; at: number; requester?: RequesterNames }
  /** A verified approver hands their place to `to`, who then decides instead of them. */
  | { type: 'delegate'; decider: Decider; to: string; reason?: string; at: number; requester?: RequesterNames; toNames?: RequesterNames }
  | { type: 'expire'; at: number }
  | { type: 'cancel'; at: number }
  /** The event an `agent: wait` step waits for arrived. */
  | { type: 'receive'; event: ReceivedEvent; at: number }
  /** Adds approvers (escalation); `expiresAt` extends the deadline when escalating on timeout. */
  | { type: 'escalate'; approvers: string[]; at: number; expiresAt?: number };

export type Refusal =
  | { code: 'ALREADY_DECIDED'; status: 409; message: string; details: { status: ApprovalStatus; decidedAt?: string; decidedBy: string[] } }
  | { code: 'DUPLICATE_APPROVER'; status: 409; message: string; details: { approver: string; decidedAt: string } }
  | { code: 'EXPIRED'; status: 410; message: string; details: { expiresAt: string } }
  | { code: 'CANCELLED'; status: 410; message: string; details: { cancelledAt?: string } }
  | { code: 'NOT_DUE'; status: 409; message: string; details: { expiresAt: string } }
  | { code: 'SELF_APPROVAL'; status: 403; message: string; details: { requester: string } }
  | { code: 'NOT_AN_APPROVER'; status: 403; message: string; details: { approver: string; approvers: string[] } }
  | { code: 'VERIFICATION_REQUIRED'; status: 403; message: string; details: { reason: 'requireVerified' | 'requester' } }
  | { code: 'IDENTITY_LOOKUP_FAILED'; status: 503; message: string; details: { reason: 'requester' | 'quorum' } }
  | { code: 'WAITS_FOR_EVENT'; status: 409; message: string; details: { event: string } }
  | { code: 'DELEGATION_REFUSED'; status: 403 | 409; message: string; details: { reason: 'disabled' | 'unverified' | 'no-approver-list' | 'to-requester' | 'to-approver' | 'already-decided' | 'chain' | 'to-self' } };

export type TransitionResult =
  | { ok: true; state: ApprovalState; final: boolean; decision?: Approval; superseded?: Approval; delegation?: Delegation }
  | { ok: false; refusal: Refusal };

const iso = (ms: number) => new Date(ms).toISOString();

const lookupFailed = (reason: 'requester' | 'quorum', message: string): Refusal => ({ code: 'IDENTITY_LOOKUP_FAILED', status: 503, message, details: { reason } });

/** True when `name` decided already (under any of the names the decision is known by). */
export function hasDecided(approvals: readonly Approval[], name: string, verifiedOnly = false): boolean {
  const key = normalizeIdentity(name);
  return approvals.some((a) => (!verifiedOnly || a.verified) && identityKeys(a).includes(key));
}

/** Every canonical name a decision is known by. */
const identityKeys = (a: { approver: string; aliases?: string[] }) =>
  [a.approver, ...(a.aliases ?? [])].map(normalizeIdentity).filter(Boolean);

function refuseClosed(state: ApprovalState): Refusal {
  if (state.status === 'cancelled') {
    return { code: 'CANCELLED', status: 410, message: 'this approval request was cancelled', details: { cancelledAt: state.decidedAt ? iso(state.decidedAt) : undefined } };
  }
  if (state.status === 'timeout') {
    return { code: 'EXPIRED', status: 410, message: `this approval request expired at ${iso(state.expiresAt)}`, details: { expiresAt: iso(state.expiresAt) } };
  }
  const deciders = state.approvals.filter((a) => (state.status === 'rejected' ? !a.approved : a.approved)).map((a) => a.approver);
  return {
    code: 'ALREADY_DECIDED',
    status: 409,
    message: `already ${state.status} by ${deciders.join(', ') || 'policy'}${state.decidedAt ? ` at ${iso(state.decidedAt)}` : ''}`,
    details: { status: state.status, decidedAt: state.decidedAt ? iso(state.decidedAt) : undefined, decidedBy: deciders },
  };
}

/** An event that can still land: the request is pending and not past its deadline. */
function refuseLate(state: ApprovalState, at: number): Refusal | undefined {
  // A wait for an event is closed by the event or its deadline: nobody decides it, by any channel.
  if (state.event) return { code: 'WAITS_FOR_EVENT', status: 409, message: `this step waits for the event '${state.event.name}', not for a decision`, details: { event: state.event.name } };
  if (state.status !== 'pending') return refuseClosed(state);
  if (at >= state.expiresAt) return { code: 'EXPIRED', status: 410, message: `this approval request expired at ${iso(state.expiresAt)}`, details: { expiresAt: iso(state.expiresAt) } };
  return undefined;
}

/**
 * Who `decider` is in this request: the listed approver they are (or their own name when anyone
 * may decide), or why they may not act on it at all.
 */
function identify(state: ApprovalState, who: Decider, requester?: RequesterNames): { ok: true; approver: string; names: string[] } | { ok: false; refusal: Refusal } {
  // A typed name proves nothing, so controls that depend on who decides refuse it outright:
  // otherwise `mallory@exampIe.com` or plain `mallory` would walk past separation of duties.
  if (!who.verified && (state.requireVerified || state.requester)) {
    const reason = state.requireVerified ? 'requireVerified' : 'requester';
    return { ok: false, refusal: { code: 'VERIFICATION_REQUIRED', status: 403, details: { reason },
      message: state.requireVerified
        ? 'this step accepts only verified decisions: use your personal link (email), Slack, or sign in with Cloudflare Access'
        : 'this step names a requester, so a typed name cannot decide it: use your personal link (email), Slack, or sign in with Cloudflare Access' } };
  }
  const names = [who.name, ...(who.aliases ?? [])];
  if (state.requester) {
    if (isRequester(state, names, requester)) {
      return { ok: false, refusal: { code: 'SELF_APPROVAL', status: 403, message: `${who.name} requested this and cannot decide it (separation of duties)`, details: { requester: state.requester } } };
    }
    // A Slack id and an email are bridged only by what Slack says. When one side is known by Slack
    // id alone and Slack would not give the email, the two cannot be told apart: refuse, not guess.
    const deciderHasId = names.some((n) => slackUserId(n) !== undefined);
    const requesterHasId = slackUserId(state.requester) !== undefined;
    const unbridged = (requester?.emailUnknown && !deciderHasId) || (who.emailUnknown && !requesterHasId);
    if (unbridged) {
      return { ok: false, refusal: lookupFailed('requester', 'Slack did not say whose account this is, so it cannot be told apart from the requester: try again later (the Slack app needs users:read.email)') };
    }
  }
  // With no approver list, anyone counts: someone known only by Slack id could also decide by
  // email (a link, Access) and count twice toward a quorum. (A listed `slack:U…` approver is that
  // entry of the list; listing one person twice, by id and by email, is the author's to avoid.)
  if (who.emailUnknown && state.minApprovals > 1 && state.approvers.length === 0) {
    return { ok: false, refusal: lookupFailed('quorum', 'Slack did not share your email, so this decision could count one person twice: try again later (the Slack app needs users:read.email)') };
  }
  // Decisions are recorded under the listed spelling, so one person is one identity whatever
  // channel or spelling they came through.
  if (state.approvers.length === 0) return { ok: true, approver: displayIdentity(who.name), names };
  const listed = findListed(state.approvers, names);
  if (listed === undefined) {
    const handedOn = state.delegations?.find((d) => names.some((n) => sameIdentity(n, d.from)));
    return { ok: false, refusal: { code: 'NOT_AN_APPROVER', status: 403, details: { approver: who.name, approvers: state.approvers },
      message: handedOn ? `${who.name} handed this decision to ${handedOn.to}` : `${who.name} is not an approver of this request` } };
  }
  return { ok: true, approver: listed, names };
}

const isRequester = (state: ApprovalState, names: string[], requester?: RequesterNames) => {
  if (!state.requester) return false;
  const requesterNames = [state.requester, ...(requester?.aliases ?? [])];
  return names.some((n) => requesterNames.some((r) => sameIdentity(n, r)));
};

/** The status decisions lead to: approved at minApprovals; rejected per `onReject`. */
function statusOf(state: ApprovalState, approvals: Approval[]): ApprovalStatus {
  const approvedCount = approvals.filter((a) => a.approved).length;
  if (approvedCount >= state.minApprovals) return 'approved';
  const rejections = approvals.filter((a) => !a.approved).length;
  if (rejections === 0) return 'pending';
  // Any rejection rejects, unless the step waits until a majority is out of reach: then only when
  // the approvers who have not decided could no longer bring the approvals to minApprovals.
  if (state.onReject !== 'impossible' || state.approvers.length === 0) return 'rejected';
  const undecided = state.approvers.filter((a) => !approvals.some((d) => identityKeys(d).includes(normalizeIdentity(a)))).length;
  return approvedCount + undecided < state.minApprovals ? 'rejected' : 'pending';
}

const handlers = {
  decide(state, event): TransitionResult {
    const late = refuseLate(state, event.at);
    if (late) return { ok: false, refusal: late };
    const who = event.decider;
    const identified = identify(state, who, event.requester);
    if (!identified.ok) return identified;
    const { approver, names } = identified;
    // One person is every name they are known by: a Slack user who was recorded as `slack:U1`
    // while Slack would not share their email is the same person when it later does.
    const keys = identityKeys({ approver, aliases: who.verified ? names : [] });
    const earlier = state.approvals.filter((a) => identityKeys(a).some((k) => keys.includes(k)));
    // A verified decision supersedes what someone typed in that person's name; nothing else may
    // stand in for an earlier decision.
    const blocking = earlier.find((a) => a.verified || !who.verified);
    if (blocking) {
      return { ok: false, refusal: { code: 'DUPLICATE_APPROVER', status: 409, message: `${blocking.approver} already decided at ${blocking.timestamp}`, details: { approver: blocking.approver, decidedAt: blocking.timestamp } } };
    }
    const superseded = earlier[0];
    const aliases = who.verified ? names.map(displayIdentity).filter((n) => n && !sameIdentity(n, approver)) : [];
    const approval: Approval = {
      approver,
      approved: event.approved,
      timestamp: iso(event.at),
      verified: who.verified,
      via: who.via,
      ...(aliases.length ? { aliases: [...new Set(aliases)] } : {}),
      ...(event.feedback ? { feedback: event.feedback } : {}),
      ...(event.reason ? { reason: event.reason } : {}),
      ...(event.response ? { response: event.response } : {}),
    };
    const approvals = [...state.approvals.filter((a) => !earlier.includes(a)), approval];
    const status = statusOf(state, approvals);
    const final = status !== 'pending';
    return { ok: true, final, decision: approval, ...(superseded ? { superseded } : {}), state: { ...state, approvals, status, ...(final ? { decidedAt: event.at } : {}) } };
  },
  delegate(state, event): TransitionResult {
    const late = refuseLate(state, event.at);
    if (late) return { ok: false, refusal: late };
    const who = event.decider;
    const refuse = (reason: Extract<Refusal, { code: 'DELEGATION_REFUSED' }>['details']['reason'], message: string, status: 403 | 409 = 403): TransitionResult =>
      ({ ok: false, refusal: { code: 'DELEGATION_REFUSED', status, message, details: { reason } } });
    if (state.allowDelegation === false) return refuse('disabled', 'this step does not allow delegation');
    // Handing on a place is a claim about who you are: only a verified identity may make it.
    if (!who.verified) return refuse('unverified', 'only a verified approver (personal link, Slack, Cloudflare Access) can delegate');
    if (state.approvers.length === 0) return refuse('no-approver-list', 'this request has no approver list: anyone may decide it, so there is no place to hand on');
    const identified = identify(state, who, event.requester);
    if (!identified.ok) return identified;
    const { approver, names } = identified;
    const to = displayIdentity(event.to);
    if (!to) return refuse('to-self', 'name the person to delegate to');
    // Every name the delegate is known by (a `slack:U…` id and the email Slack gives for it).
    const toAll = [to, ...(event.toNames?.aliases ?? [])];
    if (names.some((n) => toAll.some((t) => sameIdentity(n, t)))) return refuse('to-self', 'you cannot delegate to yourself');
    if (isRequester(state, toAll, event.requester)) return refuse('to-requester', `${to} requested this and cannot decide it (separation of duties)`);
    if (hasDecided(state.approvals, approver)) return refuse('already-decided', `${approver} already decided this request`, 409);
    if (toAll.some((t) => hasDecided(state.approvals, t))) return refuse('already-decided', `${to} already decided this request`, 409);
    if (findListed(state.approvers, toAll) !== undefined) return refuse('to-approver', `${to} is already an approver of this request: they cannot hold two places`, 409);
    // A Slack id whose email Slack will not tell could be someone listed by email: refuse, not guess.
    if (event.toNames?.emailUnknown && (state.requester || state.approvers.some((a) => slackUserId(a) === undefined))) {
      return { ok: false, refusal: lookupFailed('quorum', `Slack did not say whose account ${to} is, so it cannot be told apart from the approvers and the requester: delegate to their email instead`) };
    }
    // The place's chain so far: the latest hand-over to this holder (handing back and forth counts).
    const depth = ([...(state.delegations ?? [])].reverse().find((d) => sameIdentity(d.to, approver))?.depth ?? 0) + 1;
    if (depth > MAX_DELEGATION_DEPTH) return refuse('chain', `this place was already handed on ${depth - 1} times (at most ${MAX_DELEGATION_DEPTH})`);
    const delegation: Delegation = { from: approver, to, at: iso(event.at), depth, ...(event.reason ? { reason: event.reason } : {}) };
    const approvers = state.approvers.map((a) => (a === approver ? to : a));
    return { ok: true, final: false, delegation, state: { ...state, approvers, delegations: [...(state.delegations ?? []), delegation] } };
  },
  expire(state, event): TransitionResult {
    if (state.status !== 'pending') return { ok: false, refusal: refuseClosed(state) };
    if (event.at < state.expiresAt) {
      return { ok: false, refusal: { code: 'NOT_DUE', status: 409, message: 'not expired yet', details: { expiresAt: iso(state.expiresAt) } } };
    }
    const status: ApprovalStatus = state.onTimeout === 'approve' ? 'approved' : state.onTimeout === 'reject' ? 'rejected' : 'timeout';
    return { ok: true, final: true, state: { ...state, status, decidedAt: event.at } };
  },
  escalate(state, event): TransitionResult {
    if (state.status !== 'pending') return { ok: false, refusal: refuseClosed(state) };
    if (state.event) return { ok: false, refusal: refuseLate(state, event.at)! };
    const approvers = [...state.approvers];
    for (const a of event.approvers) if (!approvers.some((b) => sameIdentity(a, b))) approvers.push(a);
    return { ok: true, final: false, state: { ...state, approvers, escalated: true, expiresAt: Math.max(state.expiresAt, event.expiresAt ?? 0) } };
  },
  receive(state, event): TransitionResult {
    if (!state.event) return { ok: false, refusal: { code: 'ALREADY_DECIDED', status: 409, message: 'this step waits for people, not for an event', details: { status: state.status, decidedBy: [] } } };
    if (state.status !== 'pending') return { ok: false, refusal: refuseClosed(state) };
    if (event.at >= state.expiresAt) return { ok: false, refusal: { code: 'EXPIRED', status: 410, message: `this wait timed out at ${iso(state.expiresAt)}`, details: { expiresAt: iso(state.expiresAt) } } };
    return { ok: true, final: true, state: { ...state, status: 'received', received: event.event, decidedAt: event.at } };
  },
  cancel(state, event): TransitionResult {
    if (state.status !== 'pending') return { ok: false, refusal: refuseClosed(state) };
    return { ok: true, final: true, state: { ...state, status: 'cancelled', decidedAt: event.at } };
  },
} satisfies { [K in ApprovalEvent['type']]: (s: ApprovalState, e: Extract<ApprovalEvent, { type: K }>) => TransitionResult };

export function transition(state: ApprovalState, event: ApprovalEvent): TransitionResult {
  return (handlers[event.type] as (s: ApprovalState, e: ApprovalEvent) => TransitionResult)(state, event);
}

/** The step output (spec 004's schema) for a state; `pending` only while suspended. */
export function outputOf(state: ApprovalState, form?: FormSpec): HitlOutput {
  // Decisions are refused from expiresAt on, so a final state reached then was reached by the timeout.
  const timedOut = state.status === 'timeout' || (state.status !== 'pending' && state.status !== 'cancelled' && (state.decidedAt ?? 0) >= state.expiresAt);
  // The decision that closed it: the last rejection (with onReject: impossible there may be several).
  const last = state.status === 'rejected' ? state.approvals.findLast((a) => !a.approved) : state.approvals.at(-1);
  const status = state.status === 'cancelled' || state.status === 'received' ? 'pending' : state.status;
  return {
    status,
    approved: status === 'approved',
    rejected: status === 'rejected',
    timedOut,
    approvals: state.approvals,
    ...(last?.reason ? { reason: last.reason } : {}),
    ...(last?.feedback ? { feedback: last.feedback } : {}),
    // With a form, later steps always find `response`: the closing decision's answers, or the
    // defaults when no decision closed it (a timeout, onTimeout: approve).
    ...(form ? { response: (!timedOut && last?.response) || defaultsOf(form) } : {}),
    ...(state.delegations?.length ? { delegations: state.delegations } : {}),
  };
}

const defaultsOf = (form: FormSpec) => Object.fromEntries(Object.entries(form).flatMap(([k, f]) =>
  f.default !== undefined ? [[k, f.default]] : f.type === 'boolean' ? [[k, false]] : []));
