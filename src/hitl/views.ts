import type { ExecutionStore, RequestRow, RunRow } from './store';
import { formJsonSchema } from './form';
import { hasDecided } from './machine';
import { findListed, sameIdentity } from '../identity/normalize';
import { decidable } from './deciders';
import type { DataFormat } from './request';

const iso = (ms: number) => new Date(ms).toISOString();

/** What a pending approval looks like in API answers (202 and GET /executions/:id). */
export function pendingView(request: RequestRow) {
  return {
    step: request.step,
    prompt: request.spec.prompt,
    approvers: request.approval.approvers,
    minApprovals: request.spec.minApprovals,
    approvals: request.approval.approvals,
    expiresAt: iso(request.expiresAt),
    // An `agent: wait` step waits for an event, not for people.
    ...(request.spec.event ? { waitsFor: { event: request.spec.event.name, key: request.spec.event.key } } : {}),
  };
}

export type PendingView = ReturnType<typeof pendingView>;

/** What an operator reads of an open request: the data under review, and who has not decided yet. */
function underReview(request: RequestRow) {
  const { approvals, approvers } = request.approval;
  return {
    data: request.spec.data,
    format: request.spec.format,
    metadata: request.spec.metadata ?? {},
    // A typed name does not count as that person having decided (as for reminders).
    waitingOn: approvers.filter((a) => !hasDecided(approvals, a, true)),
  };
}

export type NotificationHealth = ReturnType<ExecutionStore['notificationHealth']>;

/**
 * GET /executions/:id: the run, every step record (with its path), every open request
 * (`requests`: step path, prompt, approvers, decisions, expiry, the data under review, who has
 * not decided, delivery health), and the oldest of them as `pending` (its shape from before runs
 * could wait on several, for the custom UIs that read it).
 */
export function executionView(run: RunRow, open: RequestRow[], health: (requestId: number) => NotificationHealth = () => []) {
  const s = run.state;
  const requests = s.status === 'suspended' ? open.map((r) => ({ ...pendingView(r), ...underReview(r), notifications: health(r.id) })) : [];
  return {
    executionId: s.executionId,
    ensemble: s.ensemble,
    trigger: s.trigger ?? { type: 'api' },
    status: s.status,
    input: s.input,
    steps: s.steps.map((r) => ({ ...r, path: r.path ?? r.name })),
    output: s.output ?? null,
    ...(s.error ? { error: s.error } : {}),
    // How each open request's notifications fared, per channel: `failed` means retries gave up
    // (POST /executions/:id/notify sends them again).
    pending: requests[0] ?? null,
    requests,
    createdAt: iso(run.createdAt),
    updatedAt: iso(run.updatedAt),
  };
}

/**
 * GET /callback/:token: the request as its reviewer needs it; consumes nothing. `viewer` is the
 * verified Cloudflare Access identity of whoever opened it, if any.
 */
export function tokenView(run: RunRow, request: RequestRow, token: { approver: string | null; usedAt: number | null; usedBy: string | null }, viewer?: string) {
  const shared = token.approver === null;
  // A shared link opened by a verified Access user is not spent by someone else's typed name.
  const spent = token.usedAt !== null && !(shared && viewer !== undefined);
  return {
    executionId: run.state.executionId,
    ensemble: run.state.ensemble,
    step: request.step,
    status: request.approval.status,
    prompt: request.spec.prompt,
    data: request.spec.data,
    metadata: request.spec.metadata ?? {},
    approvers: request.approval.approvers,
    minApprovals: request.spec.minApprovals,
    approvals: request.approval.approvals,
    expiresAt: iso(request.expiresAt),
    /** The identity this link is bound to; null for a shared link (the approver states a name). */
    approver: token.approver,
    /** `personal` (bound to one approver) or `shared` (one decision by a typed name, or one per Access user). */
    link: shared ? 'shared' as const : 'personal' as const,
    /** The signed-in Cloudflare Access identity, when the request carried a valid assertion. */
    viewer: viewer ?? null,
    /** True when a typed name cannot decide this request (`requireVerified`, or a `requester` is named). */
    verifiedOnly: request.spec.requireVerified || !!request.spec.requester,
    /** Who asked for this (separation of duties: they cannot decide), if the step named one. */
    requester: request.spec.requester ?? null,
    tokenUsed: spent ? { at: iso(token.usedAt!), by: token.usedBy } : null,
    /** How the data is meant to be shown: auto (a table), markdown, diff, json. */
    format: request.spec.format,
    /** The step's form as JSON Schema (like MCP elicitation's `requestedSchema`); answers go in `response`. */
    requestedSchema: request.spec.form ? formJsonSchema(request.spec.form) : null,
    /** Whether a verified approver may hand their place on (`{ delegateTo, reason? }`). */
    delegation: request.spec.allowDelegation && request.approval.approvers.length > 0,
    delegations: request.approval.delegations ?? [],
    onReject: request.spec.onReject,
  };
}
export type TokenView = ReturnType<typeof tokenView>;

/** One request as /inbox lists it. */
export interface InboxItem {
  executionId: string;
  ensemble: string;
  step: string;
  prompt: string;
  data: unknown;
  format: DataFormat;
  metadata: Record<string, unknown>;
  minApprovals: number;
  /** Approvals so far. */
  approvals: number;
  expiresAt: string;
  requestedSchema: Record<string, unknown> | null;
  requester: string | null;
}

/** The open requests that wait on `viewer` (not closed, not decided by them, they are a listed approver). */
/** Whether an open request waits on `viewer` by name: listed, not decided by them, not its requester. */
export function waitsOn(request: RequestRow, viewer: string): boolean {
  if (!decidable(request) || request.approval.approvers.length === 0) return false;
  if (!findListed(request.approval.approvers, [viewer]) || hasDecided(request.approval.approvals, viewer, true)) return false;
  // The requester may be listed too, but can never decide it: it does not wait on them.
  return !(request.spec.requester && sameIdentity(request.spec.requester, viewer));
}

export function inboxItemsOf(store: ExecutionStore, viewer: string): InboxItem[] {
  if (!store.exists()) return [];
  const run = store.run()!;
  return store.openRequests().flatMap((request) => {
    if (!waitsOn(request, viewer)) return [];
    const { spec } = request;
    return [{
      executionId: run.state.executionId,
      ensemble: run.state.ensemble,
      step: request.step,
      prompt: spec.prompt,
      data: spec.data,
      format: spec.format,
      metadata: spec.metadata ?? {},
      minApprovals: spec.minApprovals,
      approvals: request.approval.approvals.filter((a) => a.approved).length,
      expiresAt: new Date(request.expiresAt).toISOString(),
      requestedSchema: spec.form ? formJsonSchema(spec.form) : null,
      requester: spec.requester ?? null,
    }];
  });
}
