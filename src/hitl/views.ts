import type { ExecutionStore, RequestRow, RunRow } from './store';
import { formJsonSchema } from './form';

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
  };
}

export type PendingView = ReturnType<typeof pendingView>;

export type NotificationHealth = ReturnType<ExecutionStore['notificationHealth']>;

export function executionView(run: RunRow, open: RequestRow | undefined, notifications: NotificationHealth = []) {
  const s = run.state;
  return {
    executionId: s.executionId,
    ensemble: s.ensemble,
    status: s.status,
    input: s.input,
    steps: s.steps,
    output: s.output ?? null,
    ...(s.error ? { error: s.error } : {}),
    // How the open request's notifications fared, per channel: `failed` means retries gave up
    // (POST /executions/:id/notify sends them again).
    pending: open && s.status === 'suspended' ? { ...pendingView(open), notifications } : null,
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
