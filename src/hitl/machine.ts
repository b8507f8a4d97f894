import { displayIdentity, findListed, normalizeIdentity, sameIdentity, slackUserId } from '../identity/normalize';
import type { Approval, DecisionVia, HitlOutput } from './request';

/**
 * The approval state machine, pure: `transition(state, event)` returns the next state (or why the
 * event is refused). The HITL object only loads, transitions, saves and performs effects, so every
 * rule here is testable without workerd.
 */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'timeout' | 'cancelled';

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
}

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
  | { type: 'decide'; decider: Decider; approved: boolean; feedback?: string; reason?: string; at: number; requester?: RequesterNames }
  | { type: 'expire'; at: number }
  | { type: 'cancel'; at: number }
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
  | { code: 'IDENTITY_LOOKUP_FAILED'; status: 503; message: string; details: { reason: 'requester' | 'quorum' } };

export type TransitionResult =
  | { ok: true; state: ApprovalState; final: boolean; decision?: Approval; superseded?: Approval }
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

const handlers = {
  decide(state, event): TransitionResult {
    if (state.status !== 'pending') return { ok: false, refusal: refuseClosed(state) };
    if (event.at >= state.expiresAt) {
      return { ok: false, refusal: { code: 'EXPIRED', status: 410, message: `this approval request expired at ${iso(state.expiresAt)}`, details: { expiresAt: iso(state.expiresAt) } } };
    }
    const who = event.decider;
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
      const requesterNames = [state.requester, ...(event.requester?.aliases ?? [])];
      if (names.some((n) => requesterNames.some((r) => sameIdentity(n, r)))) {
        return { ok: false, refusal: { code: 'SELF_APPROVAL', status: 403, message: `${who.name} requested this and cannot decide it (separation of duties)`, details: { requester: state.requester } } };
      }
      // A Slack id and an email are bridged only by what Slack says. When one side is known by Slack
      // id alone and Slack would not give the email, the two cannot be told apart: refuse, not guess.
      const deciderHasId = names.some((n) => slackUserId(n) !== undefined);
      const requesterHasId = slackUserId(state.requester) !== undefined;
      const unbridged = (event.requester?.emailUnknown && !deciderHasId) || (who.emailUnknown && !requesterHasId);
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
    let approver = displayIdentity(who.name);
    if (state.approvers.length > 0) {
      const listed = findListed(state.approvers, names);
      if (listed === undefined) {
        return { ok: false, refusal: { code: 'NOT_AN_APPROVER', status: 403, message: `${who.name} is not an approver of this request`, details: { approver: who.name, approvers: state.approvers } } };
      }
      approver = listed;
    }
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
    };
    const approvals = [...state.approvals.filter((a) => !earlier.includes(a)), approval];
    // Any rejection rejects; otherwise the request is approved once enough distinct people approved.
    const status: ApprovalStatus = !event.approved
      ? 'rejected'
      : approvals.filter((a) => a.approved).length >= state.minApprovals ? 'approved' : 'pending';
    const final = status !== 'pending';
    return { ok: true, final, decision: approval, ...(superseded ? { superseded } : {}), state: { ...state, approvals, status, ...(final ? { decidedAt: event.at } : {}) } };
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
    const approvers = [...state.approvers];
    for (const a of event.approvers) if (!approvers.some((b) => sameIdentity(a, b))) approvers.push(a);
    return { ok: true, final: false, state: { ...state, approvers, escalated: true, expiresAt: Math.max(state.expiresAt, event.expiresAt ?? 0) } };
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
export function outputOf(state: ApprovalState): HitlOutput {
  // Decisions are refused from expiresAt on, so a final state reached then was reached by the timeout.
  const timedOut = state.status === 'timeout' || (state.status !== 'pending' && state.status !== 'cancelled' && (state.decidedAt ?? 0) >= state.expiresAt);
  const last = state.status === 'rejected' ? state.approvals.find((a) => !a.approved) : state.approvals.at(-1);
  const status = state.status === 'cancelled' ? 'pending' : state.status;
  return {
    status,
    approved: status === 'approved',
    rejected: status === 'rejected',
    timedOut,
    approvals: state.approvals,
    ...(last?.reason ? { reason: last.reason } : {}),
    ...(last?.feedback ? { feedback: last.feedback } : {}),
  };
}
